"""Arithmetic per training sample, and this machine's own matmul throughput to compare with.

Why: samples/s from two machines cannot be compared, but the fraction of a machine's own fp32
matmul throughput that a model reaches can. :func:`matmul_peak_gflops` measures that
throughput where the benchmark runs (a large ``tf.matmul``, best of a few); the functions
below count a model's multiply-adds from its BUILT weights (so they follow its config), and
the runner reports ``model GFLOP/s / peak`` per record as ``utilisation``.

Conventions (stated, not hidden): only matrix products are counted (2 FLOPs per
multiply-add), element-wise work (activations, Dice, GRU gates, masks) is not; a training
step is the forward pass plus the gradient of every weight (one product of the same size)
plus, where an input needs a gradient, one more. The count is a lower bound on the work done.
"""
from __future__ import absolute_import, division, print_function

import time

import numpy as np
import tensorflow as tf


def matmul_peak_gflops(device="cpu", size=2048, repeats=5):
    """Best fp32 GFLOP/s of one ``size`` x ``size`` matmul on ``device`` (after a warm-up).

    Args:
      device: ``cpu`` or ``gpu``.
      size: the matrix size.
      repeats: timed calls (the best counts).

    Returns:
      GFLOP/s.
    """
    name = "/GPU:0" if device == "gpu" else "/CPU:0"
    with tf.device(name):
        a = tf.random.uniform([size, size], dtype=tf.float32)
        matmul = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
        matmul(a).numpy()
        best = float("inf")
        for _ in range(repeats):
            start = time.time()
            matmul(a).numpy()
            best = min(best, time.time() - start)
    return 2.0 * size ** 3 / best / 1e9


def _dense_macs(layer):
    kernel = layer.kernel
    return int(kernel.shape[0]) * int(kernel.shape[1])


def din_train_flops(model, maxlen, hist_len=None):
    """FLOPs of one DIN training sample with histories of ``maxlen`` slots, counting the
    attention positions that are computed (:func:`scored_positions`): every slot when the unit
    scores them all (``static_shapes``) or ``hist_len`` is not given, else the mean real
    history length of ``hist_len``.

    The activation unit's first layer is computed as in
    :meth:`models.din_layers.LocalActivationUnit._first_layer`: the query term once per row
    (D x U1), [k, q * k] once per position (2D x U1); the unit's later layers once per
    position; the MLP once per row. Embedding gathers are not arithmetic.

    Args:
      model: a built :class:`models.din.DIN`.
      maxlen: history slots.
      hist_len: real history lengths (the packed unit computes only those), or None.

    Returns:
      FLOPs per training sample.
    """
    per_row = sum(_dense_macs(layer) for layer in model.mlp if hasattr(layer, "kernel"))
    per_row += _dense_macs(model.logit)
    per_position = 0
    if model.attention is not None:
        unit = model.attention
        first = unit.hidden[0]
        dim = int(first.kernel.shape[0]) // 4
        units = int(first.kernel.shape[1])
        per_row += dim * units
        per_position = 2 * dim * units + _dense_macs(unit.out) + sum(
            _dense_macs(layer) for layer in unit.hidden[1:] if hasattr(layer, "kernel"))
    forward = 2 * (per_row + scored_positions(model, hist_len, maxlen) * per_position)
    return 3 * forward  # forward, weight gradients, input gradients (embeddings are trained)


def scored_positions(model, hist_len, maxlen):
    """History positions per sample that ``model``'s attention unit computes: ``maxlen``, or
    the mean of ``hist_len`` (capped at ``maxlen``) when the unit is packed.

    Args:
      model: a :class:`models.din.DIN`.
      hist_len: real history lengths.
      maxlen: history slots.

    Returns:
      A float.
    """
    if model.attention is not None and model.attention.packed and hist_len is not None:
        return float(np.minimum(np.asarray(hist_len), maxlen).mean())
    return float(maxlen)


def ngnn_train_flops(model, nodes_per_outfit):
    """FLOPs of one NGNN training PAIR (an outfit and its copy with one item replaced) with
    ``nodes_per_outfit`` real items on average.

    Input projections run once per distinct node (n + 1: the pair shares all but one), and
    train only their weights (features are inputs): 2x forward. Message passing runs on both
    outfits of the pair in each branch: per node and step W_out, W_in (H x H) and the GRU's
    input and recurrent products (H x 3H each), 3x forward. The text projection is a gather
    and sum of weight rows (no products).

    Args:
      model: an :class:`models.ngnn.NGNN`.
      nodes_per_outfit: items per outfit.

    Returns:
      FLOPs per training pair.
    """
    n = float(nodes_per_outfit)
    flops = 0.0
    branches = 0
    if model.use_visual:
        flops += 2 * 2 * (n + 1) * model.visual_dim * model.hidden
        branches += 1
    if model.use_text:
        branches += 1
    hidden = model.hidden
    per_node_step = 2 * hidden * hidden + 2 * hidden * 3 * hidden
    flops += 3 * 2 * branches * 2 * n * model.steps * per_node_step
    return flops


def mean_nodes(data, split="train"):
    """Mean number of real items per outfit of ``split``.

    Args:
      data: a prepared Polyvore data set.
      split: the split.

    Returns:
      A float.
    """
    return float(np.mean(np.sum(data.splits[split]["mask"], axis=1)))
