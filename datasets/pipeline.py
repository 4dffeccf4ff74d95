"""The one setting every tf.data pipeline of npurec runs with."""
from __future__ import absolute_import, division, print_function

import tensorflow as tf


def without_autotune_model(dataset):
    """``dataset`` with tf.data's autotuning model (its background optimiser) turned off.

    Why: with autotuning on, TF re-optimises a pipeline from a background thread at doubling
    intervals (10 ms, 20 ms, ... 10.24 s, 20.48 s, ... up to a minute), and reaching the END
    of an iterator sometimes waits until that thread's current interval has run out. Every
    training epoch, evaluation and featurizing chunk ends an iterator, so the step loop sat
    idle for the rest of an interval: ~15-20 s after some real-size NGNN epochs, and 7-10 s
    after 7 of 12 thirteen-second epochs of the real NGNN pipeline, always to an interval
    boundary (none of 12 without the model; BENCHMARKS.md, "End-of-epoch stall"). Nothing
    else changes meaning: ``AUTOTUNE`` parallelism becomes the value autotuning starts from
    (the host's cores, at most 16) and ``prefetch(AUTOTUNE)`` buffers still grow when the
    consumer waits (TF's prefetch autotuner works without the model). npurec's pipelines cost
    a small part of a step, so they have nothing to gain from the optimiser.

    Args:
      dataset: a ``tf.data.Dataset``.

    Returns:
      The same pipeline with the option set.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
