"""The one place layers ask how many replicas share a global batch, and sum across them.

Layers whose TRAINING maths spans the batch (Dice's batch statistics, DIN's mini-batch aware
regulariser) must see the global batch, not each replica's share, so that data-parallel
training computes what one device would. Replicas come in two layers:

* tf.distribute replicas of this process's strategy (MirroredStrategy, MultiWorkerMirrored):
  read from the replica context of the call;
* Ascend NPU ranks (one process each, ``RANK_SIZE``): invisible to tf.distribute, so the
  runtime registers them here with :func:`use_outer_group` (``training/infra/runtime.py`` is the
  only caller; models import nothing from it).

The rule for regularisers (``model.losses``), Keras' own convention: every term is WHOLE on
every replica (a function of the weights, or of the global batch through :func:`total`); the
loop divides their sum by the replica count before the replicas' gradients are summed, so each
term counts once (``training/loop/__init__.py``).
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

_OUTER = {"size": 1, "all_reduce": None}


def use_outer_group(size, all_reduce=None):
    """Register replicas beyond tf.distribute's: ``size`` processes whose values
    ``all_reduce(list_of_tensors) -> list_of_tensors`` sums (npu_device's HCCL all-reduce).
    ``size`` 1 (the default, and what every non-NPU runtime sets) means none.

    Args:
      size: processes in the outer group (1: none).
      all_reduce: the group's sum, required when ``size`` > 1.

    Raises:
      ValueError: ``size`` > 1 without an ``all_reduce``.
    """
    if size > 1 and all_reduce is None:
        raise ValueError("an outer replica group of {} needs an all_reduce".format(size))
    _OUTER["size"] = int(size)
    _OUTER["all_reduce"] = all_reduce if size > 1 else None


def count():
    """Replicas whose batches form one global batch: strategy replicas x outer ranks.

    Returns:
      An int (1 outside any replica context and group).
    """
    context = tf.distribute.get_replica_context()
    local = 1 if context is None else context.num_replicas_in_sync
    return local * _OUTER["size"]


def total(x):
    """Sum of ``x`` over every replica (the same value on each), differentiable: the
    gradient of each replica's copy is summed back over the replicas, as for one device.

    Args:
      x: a tensor of this replica.

    Returns:
      The sum over all replicas, the same on each.
    """
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        x = context.all_reduce(tf.distribute.ReduceOp.SUM, x)  # differentiable (tf.distribute)
    if _OUTER["size"] > 1:
        x = _outer_sum(x)
    return x


def _outer_sum(x):
    reduce = _OUTER["all_reduce"]

    @tf.custom_gradient
    def summed(value):
        def grad(upstream, variables=None):
            # the collective may read variables (a test double does); they get no gradient
            summed_upstream = reduce([upstream])[0]
            if variables:
                return summed_upstream, [None] * len(variables)
            return summed_upstream

        return reduce([value])[0], grad

    return summed(x)
