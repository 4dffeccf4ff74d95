"""The one module that splits training input over workers and replicas.

The data hands the loop an epoch as a :class:`datasets.inputs.TrainInput`: batches of cheap keys
plus a ``materialize`` function. :func:`epoch_dataset` keeps this input pipeline's share of the
key batches (:class:`InputShard`) BEFORE anything expensive runs, then materializes them; the
runtime tells it which share (:meth:`training.infra.runtime.Runtime.distribute_batches`). Data
objects never see a shard, so none can forget to apply it (which would silently train every worker on the
whole epoch).
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from datasets.pipeline import without_autotune_model
from core.errors import UsageError


class InputShard(object):
    """The per-replica batches of an epoch that one input pipeline feeds, and which steps.

    One global step consumes ``pipelines * local_replicas`` consecutive per-replica batches of
    the task's (deterministic) order; pipeline ``index`` feeds the ``local_replicas`` of them at
    positions ``index * local_replicas ...``. So the union over workers at step ``s`` is exactly
    the global batch a single process trains at step ``s``, whatever the worker count, and a
    resumed run (``first_step``) starts with the very next batch. ``num_steps`` caps the epoch.
    """

    def __init__(self, pipelines=1, index=0, local_replicas=1, first_step=0, num_steps=None):
        if not 0 <= index < pipelines or local_replicas < 1:
            raise ValueError("bad input shard: pipeline {} of {}, {} local replicas".format(
                index, pipelines, local_replicas))
        self.pipelines = int(pipelines)
        self.index = int(index)
        self.local_replicas = int(local_replicas)
        self.first_step = int(first_step)
        self.num_steps = None if num_steps is None else int(num_steps)

    @classmethod
    def from_context(cls, context, first_step=0, num_steps=None):
        """The shard of a tf.distribute ``InputContext`` (one input pipeline per worker).

        Args:
          context: a ``tf.distribute.InputContext`` (None: one shard).
          first_step, num_steps: the part of the epoch to read.

        Returns:
          An :class:`InputShard`.
        """
        return cls(context.num_input_pipelines, context.input_pipeline_id,
                   context.num_replicas_in_sync // context.num_input_pipelines,
                   first_step, num_steps)

    @property
    def batches_per_step(self):
        """Key batches one global step consumes on this shard."""
        return self.pipelines * self.local_replicas

    def select(self, batches):
        """Keep this pipeline's batches of steps ``first_step .. num_steps - 1``.

        Args:
          batches: the epoch's key batches in global order.

        Returns:
          This shard's batches of the steps to run.
        """
        per_step = self.batches_per_step
        if self.num_steps is not None:
            batches = batches.take(self.num_steps * per_step)
        if self.first_step:
            batches = batches.skip(self.first_step * per_step)
        if self.pipelines == 1:
            return batches
        index, local = self.index, self.local_replicas
        # enumerate/filter per BATCH of indices: no per-example work, still one static shape
        return (batches.enumerate()
                .filter(lambda i, _: tf.equal((i % per_step) // local, index))
                .map(lambda _, batch: batch))

    def __repr__(self):
        return "InputShard(pipeline {} of {}, {} local replicas, steps {}..{})".format(
            self.index, self.pipelines, self.local_replicas, self.first_step, self.num_steps)


def epoch_dataset(data, batch_size, epoch, seed, shard=None):
    """The per-replica training batches of ``epoch`` that ``shard`` feeds, materialized.

    Args:
      data: a :class:`datasets.inputs.TaskData`; its ``train_input`` gives the epoch's keys.
      batch_size: PER-REPLICA batch size.
      epoch, seed: the epoch's deterministic order.
      shard: an :class:`InputShard` (default: one pipeline, every batch).

    Returns:
      A ``tf.data.Dataset`` of batches with a static leading dimension ``batch_size``.

    Raises:
      UsageError: the data's keys are not batched into ``batch_size`` with
        ``drop_remainder=True`` (a partial last batch would change shapes inside a compiled
        step, and the shards would no longer add up to the global batch).
    """
    epoch_input = data.train_input(batch_size, epoch, seed)
    keys = epoch_input.keys
    for spec in tf.nest.flatten(keys.element_spec):
        if not spec.shape.rank or spec.shape[0] != batch_size:
            raise UsageError(
                "{}: train_input must batch its keys into batches of {} with "
                "drop_remainder=True (static shapes); got a key of shape {}".format(
                    type(data).__name__, batch_size, spec.shape))
    batches = (shard or InputShard()).select(keys)
    if epoch_input.materialize is not None:
        batches = batches.map(epoch_input.materialize, num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune_model(batches.prefetch(tf.data.AUTOTUNE))
