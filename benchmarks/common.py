"""Shared set-up and timing for the benchmark suites and the JSON runner.

Timing rule: the first call of a compiled step (tracing + graph optimisation) is measured on
its own as ``compile_seconds``; then ``warmup`` more steps run untimed, then ``windows`` timed
windows of ``steps`` steps each; the reported figure is the MEDIAN window's samples/s (one
training sample = one pair for NGNN, one labelled row for DIN).
"""
from __future__ import absolute_import, division, print_function

import atexit
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from benchmarks import realsize
from core import compat
from training.infra import config as cfg
from training.infra import runtime as rt
from training.loop import build_trainer
from training.infra.sharding import epoch_dataset


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (Linux reports KiB).

    Returns:
      A float.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def environment(runtime):
    """The runtime and machine a record was measured on (device, precision, CPU count, versions).

    Args:
      runtime: the :class:`training.infra.runtime.Runtime`.

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


def _trainer(task, data, runtime, batch_size, n_batches, seed=0):
    """The model and trainer built as a run builds them (:func:`training.loop.build_trainer`,
    with the task's own optimizer, learning rate and clipping: a fixed 1e-3 once ignored
    DIN's 1e-2)."""
    train_config = cfg.resolve(type(task))["train"]
    with runtime.strategy.scope():
        model = task.build_model(data)
    trainer = build_trainer(task, data, model, runtime, train_config, batch_size)
    dataset = epoch_dataset(data, batch_size, 0, seed)
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
    trainer, batches = _trainer(task, data, runtime, batch_size, n_batches)
    return Bench(task, data, trainer, batch_size, batches), runtime


def din_sample_set(rows, maxlen, items=realsize.AMAZON["items"],
                   categories=realsize.AMAZON["categories"], users=realsize.AMAZON["users"],
                   seed=0):
    """Random DIN samples of the real id-space sizes (for step timing), written as a
    :mod:`datasets.samples` set in a temporary folder (removed at exit) and opened.

    Args:
      rows: samples per split.
      maxlen: history slots.
      items, categories, users: id-space sizes.
      seed: the samples' seed.

    Returns:
      A :class:`datasets.samples.SampleSet`.
    """
    from datasets import samples  # pylint: disable=import-outside-toplevel

    rng = np.random.RandomState(seed)
    item_cat = rng.randint(1, categories, size=items + 1).astype(np.int32)
    item_cat[0] = 0
    sequence = rng.randint(1, items + 1, size=rows + maxlen).astype(np.int32)
    splits = {}
    for name in samples.SPLITS:
        target = rng.randint(1, items + 1, size=rows)
        splits[name] = samples.records(
            rng.randint(users, size=rows), rng.randint(maxlen, rows + maxlen, size=rows),
            rng.randint(1, maxlen + 1, size=rows), target, item_cat[target],
            rng.randint(2, size=rows))
    folder = tempfile.mkdtemp(prefix="npurec-bench-")
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "samples")
    sizes = {"items": items + 1, "categories": categories + 1, "users": users, "events": rows}
    vocab = {"items": np.asarray([""] + ["i{}".format(i) for i in range(1, items + 1)]),
             "categories": np.asarray([""] + ["c{}".format(c) for c in range(1, categories + 1)]),
             "item_category": item_cat}
    samples.write(path, sequence, splits, sizes, {}, vocab, maxlen)
    return samples.open_set(path)


def din(batch_size=4096, maxlen=20, device="cpu", precision="fp32", n_batches=12):
    """DIN with real id-space sizes (63,001 items, 801 categories), embeddings of 8.

    Args:
      batch_size, maxlen: the step's shape.
      device, precision: the runtime.
      n_batches: batches prepared.

    Returns:
      ``(bench, model)``.
    """
    from datasets.behaviour_data import BehaviourData  # pylint: disable=import-outside-toplevel
    from training.tasks.din import DINModelConfig, DINTask  # pylint: disable=import-outside-toplevel

    runtime = rt.configure(device, precision)
    data = BehaviourData(din_sample_set(batch_size * n_batches, maxlen), synthetic=True,
                      root="memory")
    task = DINTask(DINModelConfig())
    trainer, batches = _trainer(task, data, runtime, batch_size, n_batches)
    return Bench(task, data, trainer, batch_size, batches), runtime
