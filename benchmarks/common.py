"""Shared set-up and timing for the benchmark suites and the JSON runner.

Timing rule: the first call of a compiled step (tracing + graph optimisation) is measured on
its own as ``compile_seconds``; then ``warmup`` more steps run untimed, then ``windows`` timed
windows of ``steps`` steps each; the reported figure is the MEDIAN window's samples/s (one
training sample = one pair for NGNN, one labelled row for DIN).
"""
from __future__ import absolute_import, division, print_function

import os
import platform
import resource
import statistics
import time

import numpy as np
import tensorflow as tf

from benchmarks import realsize
from models import compat
from training.trainer import Trainer
from training import runtime as rt
from training.sharding import epoch_dataset


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (Linux reports KiB).

    Returns:
      A float.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def environment(runtime):
    """The runtime and machine a record was measured on (device, precision, CPU count, versions).

    Args:
      runtime: the :class:`training.runtime.Runtime`.

    Returns:
      A dict.
    """
    return {"device": runtime.device, "precision": runtime.precision,
            "tensorflow": tf.__version__, "keras": compat.keras_version(),
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "machine": platform.machine()}


def time_calls(fn, batches, batch_size, warmup=5, windows=5, steps=20):
    """Median samples/s of ``fn(batch)`` over timed windows, plus the first call's seconds.

    Args:
      fn: the step.
      batches: its inputs, cycled.
      batch_size: samples per call.
      warmup: untimed calls.
      windows, steps: timed windows of ``steps`` calls each.

    Returns:
      ``{"samples_per_sec", "window_rates", "compile_seconds"}``.
    """
    t0 = time.time()
    _block(fn(batches[0]))
    compile_seconds = time.time() - t0
    for i in range(warmup):
        _block(fn(batches[i % len(batches)]))
    rates = []
    for w in range(windows):
        start = time.time()
        out = None
        for i in range(steps):
            out = fn(batches[(w * steps + i) % len(batches)])
        _block(out)
        rates.append(steps * batch_size / (time.time() - start))
    return {"samples_per_sec": statistics.median(rates), "compile_seconds": compile_seconds,
            "window_rates": rates}


def _block(value):
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, value)


class Bench(object):
    """A task, its data and a built trainer, ready to time."""

    def __init__(self, task, data, trainer, batch_size, batches):
        self.task = task
        self.data = data
        self.trainer = trainer
        self.batch_size = batch_size
        self.batches = batches


def _trainer(task, data, runtime, batch_size, optimizer, n_batches, seed=0):
    with runtime.strategy.scope():
        model = task.build_model(data)
        opt = runtime.make_optimizer(optimizer, 1e-3)
        trainer = Trainer(task, data, model, opt, runtime, batch_size)
    dataset = epoch_dataset(task, data, batch_size, 0, seed)
    batches = list(dataset.take(n_batches))
    with runtime.strategy.scope():
        trainer.build(batches[0])
    return trainer, batches


def ngnn(batch_size=16, outfit_size=None, device="cpu", precision="fp32", n_batches=40,
         data=None):
    """NGNN at real size (16,983 outfits, 120 categories, 2048-d / 2757-d features).

    Args:
      batch_size: outfit pairs per step.
      outfit_size: fixed items per outfit, or None (the data's).
      device, precision: the runtime.
      n_batches: batches prepared.
      data: a prepared data set to reuse.

    Returns:
      ``(bench, data)``: a namespace with task, data, trainer and batches; the data.
    """
    from training.tasks.ngnn import NGNNModelConfig, NGNNTask  # pylint: disable=import-outside-toplevel

    runtime = rt.configure(device, precision)
    data = data or realsize.polyvore_in_memory(outfit_size=outfit_size)
    task = NGNNTask(NGNNModelConfig())
    trainer, batches = _trainer(task, data, runtime, batch_size, "rmsprop", n_batches)
    return Bench(task, data, trainer, batch_size, batches), runtime


def din_arrays(rows, maxlen, items=realsize.AMAZON["items"],
               categories=realsize.AMAZON["categories"], users=realsize.AMAZON["users"],
               seed=0):
    """Random DIN sample arrays of the real id-space sizes (for step timing).

    Args:
      rows: samples.
      maxlen: history slots.
      items, categories, users: id-space sizes.
      seed: the arrays' seed.

    Returns:
      ``{name: array}`` as the DIN task reads.
    """
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, maxlen + 1, size=rows).astype(np.int32)
    slots = np.arange(maxlen)[None, :] < lengths[:, None]
    item_cat = rng.randint(1, categories, size=items + 1).astype(np.int32)
    hist = np.where(slots, rng.randint(1, items + 1, size=(rows, maxlen)), 0).astype(np.int32)
    target = rng.randint(1, items + 1, size=rows).astype(np.int32)
    return {"user": rng.randint(users, size=rows).astype(np.int32), "hist_items": hist,
            "hist_cats": np.where(slots, item_cat[hist], 0).astype(np.int32),
            "hist_len": lengths, "target_item": target, "target_cat": item_cat[target],
            "label": rng.randint(2, size=rows).astype(np.float32)}


def din(batch_size=4096, maxlen=20, device="cpu", precision="fp32", n_batches=12):
    """DIN with real id-space sizes (63,001 items, 801 categories), embeddings of 8.

    Args:
      batch_size, maxlen: the step's shape.
      device, precision: the runtime.
      n_batches: batches prepared.

    Returns:
      ``(bench, model)``.
    """
    from datasets.amazon import AmazonData  # pylint: disable=import-outside-toplevel
    from training.tasks.din import DINModelConfig, DINTask  # pylint: disable=import-outside-toplevel

    runtime = rt.configure(device, precision)
    rows = batch_size * n_batches
    sizes = {"items": realsize.AMAZON["items"] + 1,
             "categories": realsize.AMAZON["categories"] + 1,
             "users": realsize.AMAZON["users"], "events": rows}
    splits = {name: din_arrays(rows, maxlen, seed=i)
              for i, name in enumerate(("train", "validation", "test"))}
    data = AmazonData(splits=splits, sizes=sizes, report={}, synthetic=True, root="memory")
    task = DINTask(DINModelConfig())
    trainer, batches = _trainer(task, data, runtime, batch_size, "adam", n_batches)
    return Bench(task, data, trainer, batch_size, batches), runtime
