"""How long the END of a tf.data epoch takes, with tf.data's autotuning model on and off.

Finding: with the model on, reaching the end of an iterator sometimes waits until TF's
autotuning thread reaches its next optimisation time. Its intervals double from 10 ms, so the
wait ends on a boundary 5.11 s, 10.23 s, 20.47 s, 40.95 s ... after the iterator started (training
sat idle ~15 s at the end of some real-size NGNN epochs). npurec turns the model off
(:func:`datasets.pipeline.without_autotune_model`). This reproduces it on a pipeline shaped
like training's: a parallel map through a Python function, prefetch, the default
distribution strategy, and a compiled CPU-bound step per batch (the wait needs a busy CPU:
with a sleeping consumer it did not show in 13 trials). Run it after a TensorFlow upgrade to
see whether the setting is still needed.

    python -m benchmarks.iterator_end --trials 6 --seconds 11 --out end.json
"""
from __future__ import absolute_import, division, print_function

import argparse
import sys
import time

import numpy as np

from benchmarks import report


def _epoch(tf, steps, autotune_model):
    from datasets.pipeline import (  # pylint: disable=import-outside-toplevel
        without_autotune_model)

    def rows(i):
        return tf.numpy_function(lambda _: np.random.rand(16, 9, 256).astype(np.float32), [i],
                                 tf.float32, stateful=False)

    dataset = (tf.data.Dataset.range(steps).batch(1)
               .map(rows, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    return dataset if autotune_model else without_autotune_model(dataset)


def measure(seconds, trials, matmul=1000):
    """``{"autotune_model": [...], "without_model": [...]}``: per trial, the epoch's seconds
    and the seconds from the start of its last step to the end of the iterator (the trials of
    the two settings alternate, so both see the same machine).

    Args:
      seconds: the idle time before the epoch ends.
      trials: repetitions per setting.
      matmul: the work per element.

    Returns:
      ``{setting: [seconds per trial]}``.
    """
    from core import quiet  # pylint: disable=import-outside-toplevel
    quiet.start_tensorflow()
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    x = tf.random.normal([matmul, matmul])

    @tf.function
    def step(batch):
        return tf.reduce_sum(tf.matmul(x, x)) + tf.reduce_sum(batch)

    zeros = tf.zeros([1, 16, 9, 256])
    step(zeros).numpy()  # tracing, not timed
    start = time.time()
    for _ in range(5):
        step(zeros).numpy()
    steps = max(2, int(seconds / ((time.time() - start) / 5)))
    strategy = tf.distribute.get_strategy()
    results = {"autotune_model": [], "without_model": []}
    for _ in range(trials):
        for name, model_on in (("autotune_model", True), ("without_model", False)):
            begin = last = time.time()
            for batch in strategy.distribute_datasets_from_function(
                    lambda _, on=model_on: _epoch(tf, steps, on)):
                last = time.time()
                step(batch).numpy()
            end = time.time()
            results[name].append({"epoch_seconds": round(end - begin, 2),
                                  "end_seconds": round(end - last, 3)})
    return steps, results


def main(argv=None):
    """The command line; returns 0.

    Args:
      argv: the arguments.

    Returns:
      0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.iterator_end")
    parser.add_argument("--seconds", type=float, default=11.0, help="length of one epoch")
    parser.add_argument("--trials", type=int, default=6, help="epochs per setting")
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    steps, results = measure(args.seconds, args.trials)
    record = {"steps_per_epoch": steps, "epoch_target_seconds": args.seconds,
              "trials": results,
              "summary": {name: {"ends_over_1s": sum(r["end_seconds"] > 1 for r in runs),
                                 "longest_end_seconds": max(r["end_seconds"] for r in runs)}
                          for name, runs in results.items()}}
    report.emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
