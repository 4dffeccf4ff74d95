"""What a data provider hands the loop: a typed data object (:class:`TaskData`) that gives
the training and evaluation inputs, and the two input types it gives them in.

Why here, below the loop and the tasks: a data set's inputs (which rows an epoch reads and in
what order, how evaluation rows are read from disk, what the run record says about the data)
belong to the data, not to the model trained on it. Before, each Task carried eight such hooks
taking an untyped ``data`` argument, so a new model rewrote them and a new data set edited the
task. Now a provider's reader returns a :class:`TaskData`; the loop asks it for inputs and the
Task only builds the model, the loss, the scores and the metrics (``training.tasks.Task``).

The families' data objects: :class:`datasets.behaviour_data.BehaviourData` (DIN) and
:class:`datasets.outfit_data.OutfitData` (NGNN).
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np


class TrainInput(collections.namedtuple("TrainInput", ["keys", "materialize"])):
    """An epoch of training input, in the two parts the loop needs to shard it.

    Attributes:
      keys: a ``tf.data.Dataset`` of batches of CHEAP keys (row indices, small tuples), in
        the epoch's global order, batched with ``drop_remainder=True``.
      materialize: a function from one batch of keys to the batch the task's loss reads
        (gathers from tables), run in ``tf.data.Dataset.map`` after sharding; ``None``
        when the keys already are the batch.
    """

    __slots__ = ()

    def __new__(cls, keys, materialize=None):
        return super(TrainInput, cls).__new__(cls, keys, materialize)


class KeyRange(object):
    """A column of consecutive int64 keys ``start .. stop - 1`` that is never materialised:
    what :meth:`TaskData.eval_arrays` returns for rows read from disk, so scoring a split of
    millions of rows holds no key array (the trainer makes the keys batch by batch with
    ``tf.data.Dataset.range``). It reads like a 1-d array where the contract needs one:
    ``len()``, slices and ``numpy.asarray``.

    Args:
      start: the first key.
      stop: one past the last key.
    """

    def __init__(self, start, stop):
        self.start, self.stop = int(start), int(stop)
        if self.stop < self.start:
            raise ValueError("KeyRange({}, {}): stop before start".format(start, stop))

    def __len__(self):
        return self.stop - self.start

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return np.arange(self.start + start, self.start + stop, step, dtype=np.int64)
        return np.asarray(self)[index]  # anything else: as an array would answer

    def __array__(self, dtype=None, copy=None):  # pylint: disable=unused-argument
        return np.arange(self.start, self.stop, dtype=dtype or np.int64)

    def __repr__(self):
        return "KeyRange({}, {})".format(self.start, self.stop)


class TaskData(object):
    """The contract between a data family and the loop: override the inputs; the record
    methods have defaults.

    Attributes:
      synthetic: whether the data is the embedded generated set (the record says so).
      root: the data folder.
    """

    synthetic = False
    root = None

    # -- inputs (required) ----------------------------------------------------------------
    def num_train_examples(self):
        """How many training examples an epoch holds (an epoch is this // the global batch
        steps)."""
        raise NotImplementedError

    def train_input(self, batch_size, epoch, seed):
        """One epoch of training input as a :class:`TrainInput` (cheap keys + materialize).

        The keys must be batched into ``batch_size`` with ``drop_remainder=True`` (static
        shapes for compiled steps and NPUs) in an order that is a deterministic function of
        (epoch, seed), so a resumed run sees the same batches. The data does NOT shard: the
        loop (:func:`training.infra.sharding.epoch_dataset`) keeps each worker's share of the
        key batches before ``materialize`` runs, so data cannot be trained duplicated on
        every worker by forgetting to.
        """
        raise NotImplementedError

    def eval_arrays(self, split):
        """The split's evaluation inputs as a dict of equally long numpy arrays, or of
        :class:`KeyRange` columns (keys never held in memory)."""
        raise NotImplementedError

    def eval_materialize(self):
        """A function from a batch of :meth:`eval_arrays` rows to the batch a task scores,
        run in ``tf.data.Dataset.map`` on the host (e.g. reading rows from disk), or None
        (the default) when the rows are the batch."""
        return None

    # -- the run record (defaults) --------------------------------------------------------
    def metric_rows(self, split):
        """How many rows (questions, users) each metric of ``split`` rests on, for the
        record and for the warning on too few; by default the number of scored rows."""
        return {"rows": len(next(iter(self.eval_arrays(split).values())))}

    def describe(self):
        """A short dict about the data (sizes, whether it is synthetic) for the run record."""
        return {"synthetic": bool(self.synthetic), "root": self.root}

    def applied_config(self, config):
        """The run's resolved config as it APPLIED to this data, for ``metrics.json``:
        settings the data overrides show the data's value (a packed feature store's own
        dimensions), settings that did not apply are left out (the generator's settings on
        real data). ``config.json`` keeps what was asked (a resume compares it).

        Args:
          config: ``{section: {key: value}}``.

        Returns:
          A new dict of the same shape.
        """
        return {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}

    def vocabulary(self):
        """The id space a model is trained in, as JSON (lists indexed by id), or None.

        Written to ``RUN/vocab.json``; a resumed run and ``training.predict``/``export``
        compare the data they load against it and refuse data whose ids mean something else
        (a renamed item, another category count), which would otherwise score silently wrong.
        """
        return None
