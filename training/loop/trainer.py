"""The compiled steps of the shared loop (orbit's Trainer): one training step, one scoring step.

:class:`Trainer` owns only what runs inside ``tf.function``: the per-replica loss and
gradients, loss scaling, the gradient reduction of the runtime, the optimizer update, and
scoring in static-shape batches. The calendar around it (epochs, evaluation, selection) is
:mod:`training.loop.controller`'s; the files are :mod:`training.loop.checkpoints`'.
"""
from __future__ import absolute_import, division, print_function

import numpy as np
import tensorflow as tf

from datasets.pipeline import without_autotune_model
from core import compat
from training.infra.sharding import InputShard
from datasets.inputs import KeyRange


class Trainer(object):
    """Compiled train and score steps for one task, model and optimizer.

    Args:
      task: the :class:`training.tasks.Task`.
      data: what the task's ``prepare`` returned (its loss and score read it).
      model: its Keras model (built under ``runtime.strategy.scope()``).
      optimizer: from ``runtime.make_optimizer`` (loss-scale wrapped when needed).
      runtime: the :class:`training.infra.runtime.Runtime`.
      global_batch_size: batch size summed over all replicas.
    """

    def __init__(self, task, data, model, optimizer, runtime, global_batch_size):
        self.task = task
        self.data = data
        self.model = model
        self.optimizer = optimizer
        self.runtime = runtime
        self.global_batch_size = int(global_batch_size)  # divides over the replicas: the
        # driver checked it (training.driver.experiment._check_settings)
        with runtime.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            # checkpointed, so that a resume with another replica count is refused
            self.replicas = tf.Variable(runtime.num_replicas, dtype=tf.int64, trainable=False,
                                        name="replicas")
        autograph = bool(getattr(task, "autograph", True))  # Task.autograph says why
        self._train_step = tf.function(self._distributed_train_step, autograph=autograph)
        self._score_step = tf.function(self._score, autograph=autograph)

    # -- inside the graph ------------------------------------------------------------------
    def _replica_train_step(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            per_example = tf.cast(
                self.task.loss(self.model, self.data, batch, training=True), tf.float32)
            # Divide by the GLOBAL batch, not the replica's: replica gradients are SUMMED by
            # the optimizer (or all_reduce), so the sum of per-replica means would be too big.
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self.global_batch_size)
            if self.model.losses:
                # regularisers are whole on every replica (models/replicas.py: the rule) and
                # the replicas' gradients are summed (by the strategy and/or the NPU
                # all_reduce): count them once in total
                regularisation = tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses])
                loss += regularisation / float(self.runtime.num_replicas)
            scaled = compat.scale_loss(self.optimizer, loss)
        grads = tape.gradient(scaled, variables)
        grads = self.runtime.reduce_gradients(grads)
        compat.apply_gradients(self.optimizer, grads, variables)
        return loss

    def _distributed_train_step(self, batch):
        per_replica = self.runtime.strategy.run(self._replica_train_step, args=(batch,))
        loss = self.runtime.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        self.step.assign_add(1)
        return loss

    def _score(self, batch):
        strategy = self.runtime.strategy
        scores = strategy.run(lambda b: self.task.score(self.model, self.data, b),
                              args=(batch,))
        # every replica's scores, in replica order, on every worker: all report the same metrics
        return strategy.gather(scores, axis=0)

    # -- called from Python ----------------------------------------------------------------
    def build(self, batch):
        """Create all model and optimizer variables (before restoring a checkpoint)."""
        self.task.loss(self.model, self.data, batch, training=False)
        compat.build_optimizer(self.optimizer, self.model.trainable_variables)
        self.runtime.broadcast_variables(self.model.variables)

    def train_step(self, batch):
        """One optimisation step on a (distributed) global batch; returns the mean loss."""
        return self._train_step(batch)

    def score_arrays(self, arrays, batch_size):
        """Score a dict of equally long numpy arrays with static-shape batches; numpy out.

        The replicas (of all workers) share each batch of ``batch_size`` (rounded down to a
        multiple of the replica count) and every worker gets all the scores back. The task's
        :meth:`~datasets.inputs.TaskData.eval_materialize` turns each replica's rows into the
        batch it scores, in the input pipeline.

        Key columns (:class:`datasets.inputs.KeyRange`) are made batch by batch by
        ``tf.data.Dataset.range``: a split of millions of disk rows is scored without a key
        array in memory.

        Args:
          arrays: ``{name: [n, ...] array or KeyRange}`` (the data's ``eval_arrays``).
          batch_size: the global evaluation batch.

        Returns:
          [n] scores.
        """
        materialize = self.data.eval_materialize()
        strategy = self.runtime.strategy
        replicas = strategy.num_replicas_in_sync
        batch_size = max(replicas, batch_size - batch_size % replicas)
        per_replica = batch_size // replicas
        n = _one_length(arrays)
        if all(isinstance(v, KeyRange) for v in arrays.values()):
            batch_rows = _key_batches(arrays, n, per_replica, batch_size)
        else:
            batch_rows = _array_batches(arrays, per_replica, batch_size)

        def dataset_fn(context):
            shard = InputShard.from_context(context)
            batches = shard.select(batch_rows())
            if materialize is not None:
                # one batch at a time: evaluation batches are large (NGNN: 512 outfits of
                # 2048-d items, 34 MB) and parallel calls would hold several at once
                batches = batches.map(materialize)
            return without_autotune_model(batches.prefetch(1))

        dataset = strategy.distribute_datasets_from_function(dataset_fn)
        outputs = [self._score_step(batch).numpy() for batch in dataset]
        return np.concatenate(outputs, axis=0)[:n]


def _one_length(arrays):
    """The common length of the evaluation columns (ValueError: they differ, or none)."""
    lengths = {len(v) for v in arrays.values()}
    if len(lengths) != 1:
        raise ValueError("evaluation arrays differ in length: {}".format(
            {k: len(v) for k, v in arrays.items()}))
    n = lengths.pop()
    if n == 0:
        raise ValueError("evaluation split is empty")
    return n


def _key_batches(ranges, n, batch, multiple):
    """A function making the batches of ``{name: KeyRange}`` columns: static ``[batch]``
    shapes; the keys padded to a multiple of ``multiple`` (the global batch) by repeating the
    last one, as :func:`pad_to_multiple` pads arrays."""
    starts = {name: tf.constant(r.start, tf.int64) for name, r in ranges.items()}
    offsets = tf.range(batch, dtype=tf.int64)

    def keys(first):
        position = tf.minimum(first + offsets, n - 1)
        return {name: start + position for name, start in starts.items()}

    padded = n + (-n) % multiple

    def batches():
        return tf.data.Dataset.range(0, padded, batch).map(keys)

    return batches


def _array_batches(arrays, batch, multiple):
    """A function making the ``[batch]`` batches of numpy columns, padded to a multiple of
    ``multiple`` (:func:`pad_to_multiple`)."""
    padded, _ = pad_to_multiple(arrays, multiple)

    def batches():
        return tf.data.Dataset.from_tensor_slices(padded).batch(batch, drop_remainder=True)

    return batches


def pad_to_multiple(arrays, multiple):
    """Pad every array (by repeating its last row) to a multiple of ``multiple`` rows.

    Evaluation keeps static shapes too: the padded rows are scored and then dropped.
    Returns (padded arrays, original length).

    Args:
      arrays: ``{name: array}`` of one length.
      multiple: the batch size.

    Returns:
      ``(padded arrays, original length)``.

    Raises:
      ValueError: lengths differ, or the split is empty.
    """
    n = _one_length(arrays)
    pad = (-n) % multiple
    if not pad:
        return dict(arrays), n
    out = {}
    for key, value in arrays.items():
        filler = np.repeat(value[-1:], pad, axis=0)
        out[key] = np.concatenate([value, filler], axis=0)
    return out, n
