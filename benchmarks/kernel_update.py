"""What NGNN's per-category image kernel costs per step, dense and "lazy":
``python -m benchmarks.kernel_update --out kernel_update.json``.

At NGNN's batch 16 the per-category kernel (120 categories x 2048 x 12 = 2.95M weights, 12 MB)
is the largest share of a step: its gradient and its RMSprop update touch every category
each step, although a batch holds only some of them. Issue 26 asked for a "lazy" option that
updates only the categories present (a change of results: an absent category's RMSprop
velocity would stop decaying). This runner times the two updates alone, on the real shapes,
so that the option is judged by what it would save before it is built:

* ``dense`` - what training runs: the kernel gradient as one compiled outer-product sum
  (:func:`models.ngnn_layers.category_outer_sum`) and the fused dense RMSprop step
  (:func:`training.infra.optimizers.dense_rmsprop`);
* ``touched`` - the categories present only: their gradient sums (the same compiled sum,
  gathered), then the row-wise RMSprop update the lazy optimizer applies to sparse gradients
  (gather the rows' velocity, update, scatter the velocity and the weights).

Both on two category draws: ``uniform`` (the benchmark data's categories) and ``real``: 16
training outfits of the paper's own lists (``../shared/data/polyvore``, when present) plus
16 replacement items drawn by category frequency, as a training batch has them. Each record
says how many categories a batch touched. The rows are a batch-16 step's 144 (8 slots + the
replacement per pair; padding rows go to an extra group that is never updated).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import statistics
import sys
import time

import numpy as np

CATEGORIES, IN_DIM, UNITS, PAIRS, SLOTS = 120, 2048, 12, 16, 8


def category_draws(rng, batches, structure=""):
    """Per batch, the [PAIRS * (SLOTS + 1)] category of each row (CATEGORIES = padding):
    ``{"uniform": ..., "real": ...}``; ``real`` is absent without the outfit lists.

    Args:
      rng: a numpy RandomState.
      batches: how many batches.
      structure: the folder of the real outfit lists ('' = the default lookup).

    Returns:
      A dict of lists of int32 arrays.
    """
    from core.errors import DataError  # pylint: disable=import-outside-toplevel
    from datasets.generators import real_outfits  # pylint: disable=import-outside-toplevel

    rows = PAIRS * (SLOTS + 1)
    draws = {"uniform": []}
    for _ in range(batches):
        sizes = rng.randint(3, SLOTS + 1, size=PAIRS)
        groups = np.full((PAIRS, SLOTS + 1), CATEGORIES, np.int32)
        for pair, size in enumerate(sizes):
            groups[pair, :size] = rng.randint(CATEGORIES, size=size)
        groups[:, -1] = rng.randint(CATEGORIES, size=PAIRS)
        draws["uniform"].append(groups.reshape(rows))
    try:
        _, lists = real_outfits.read_lists(real_outfits.structure_dir(structure))
    except DataError:
        return draws
    outfits = [cats for _, _, cats in lists["train"] if len(cats) <= SLOTS]
    flat = np.concatenate([np.asarray(c) for c in outfits])
    counts = np.bincount(flat, minlength=CATEGORIES)[:CATEGORIES].astype(np.float64)
    draws["real"] = []
    for _ in range(batches):
        groups = np.full((PAIRS, SLOTS + 1), CATEGORIES, np.int32)
        for pair, index in enumerate(rng.randint(len(outfits), size=PAIRS)):
            cats = outfits[index]
            groups[pair, :len(cats)] = cats
        groups[:, -1] = rng.choice(CATEGORIES, size=PAIRS, p=counts / counts.sum())
        draws["real"].append(groups.reshape(rows))
    return draws


def make_updates(tf, learning_rate=1e-3, rho=0.9, epsilon=1e-7):
    """``{"dense": fn, "touched": fn}``: each ``fn(kernel, velocity, x, dy, groups)`` applies
    one RMSprop step of the kernel gradient ``sum over rows of group c of outer(x, dy)``.

    Args:
      tf: the tensorflow module.
      learning_rate, rho, epsilon: RMSprop's (Keras' defaults, NGNN's learning rate).

    Returns:
      A dict of functions.
    """
    from models.ngnn_layers import category_outer_sum  # pylint: disable=import-outside-toplevel
    from training.infra.optimizers import dense_rmsprop  # pylint: disable=import-outside-toplevel

    lr, rho_t, eps = (tf.constant(v, tf.float32) for v in (learning_rate, rho, epsilon))

    @tf.function
    def dense(kernel, velocity, x, dy, groups):
        grad = category_outer_sum(x, dy, groups, CATEGORIES)
        dense_rmsprop([kernel], [velocity], [grad], lr, rho_t, eps)

    @tf.function
    def touched(kernel, velocity, x, dy, groups):
        present = tf.unique(tf.boolean_mask(groups, groups < CATEGORIES))[0]
        grad = tf.gather(category_outer_sum(x, dy, groups, CATEGORIES), present)
        new_v = rho * tf.gather(velocity, present) + (1.0 - rho) * tf.square(grad)
        velocity.scatter_update(tf.IndexedSlices(new_v, present))
        kernel.scatter_sub(tf.IndexedSlices(learning_rate * grad / tf.sqrt(new_v + epsilon),
                                            present))

    return {"dense": dense, "touched": touched}


def measure(windows=7, calls=30, batches=8, seed=0, structure=""):
    """Milliseconds per update of each kind on each category draw (median window).

    Args:
      windows, calls: timed windows and calls per window (kinds alternate by window).
      batches: distinct category draws, cycled.
      seed: the draws' and the arrays' seed.
      structure: the folder of the real outfit lists ('' = the default lookup).

    Returns:
      A list of records.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    rng = np.random.RandomState(seed)
    rows = PAIRS * (SLOTS + 1)
    x = tf.constant(rng.rand(rows, IN_DIM).astype(np.float32))
    dy = tf.constant((rng.randn(rows, UNITS) * 1e-2).astype(np.float32))
    start = rng.randn(CATEGORIES, IN_DIM, UNITS).astype(np.float32) * 0.01
    updates = make_updates(tf)
    state = {kind: (tf.Variable(start), tf.Variable(np.ones_like(start))) for kind in updates}
    records = []
    for draw, groups in sorted(category_draws(rng, batches, structure).items()):
        groups = [tf.constant(g) for g in groups]
        touched = [int(np.unique(g.numpy()[g.numpy() < CATEGORIES]).size) for g in groups]
        times = {kind: [] for kind in updates}
        for kind, fn in updates.items():  # trace and warm up
            for g in groups[:3]:
                fn(*state[kind], x, dy, g)
        for window in range(windows):
            for kind in (sorted(updates) if window % 2 == 0 else sorted(updates)[::-1]):
                begin = time.time()
                for call in range(calls):
                    updates[kind](*state[kind], x, dy, groups[call % len(groups)])
                state[kind][0][0, 0, 0].numpy()  # waits for the last update
                times[kind].append((time.time() - begin) / calls * 1000.0)
        for kind in sorted(updates):
            records.append({"benchmark": "kernel_update", "kind": kind, "draw": draw,
                            "ms_per_update": statistics.median(times[kind]),
                            "window_ms": times[kind], "rows": rows,
                            "categories_touched_mean": float(np.mean(touched)),
                            "categories": CATEGORIES, "kernel_mb": start.nbytes / 1e6,
                            "tensorflow": tf.__version__, "cpu_count": os.cpu_count()})
    return records


def main(argv=None):
    """The command line; returns 0.

    Args:
      argv: the arguments.

    Returns:
      0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel_update")
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--structure", default="", help="folder of the real outfit lists")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args(argv)
    from core import quiet  # pylint: disable=import-outside-toplevel

    quiet.start_tensorflow(False)
    from benchmarks import report  # pylint: disable=import-outside-toplevel

    report.emit({"records": measure(args.windows, args.calls, structure=args.structure)},
                args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
