"""DIN's data object: a behaviour log's sample set with its training statistics, and the
inputs the loop reads from it.

What a reader of :mod:`datasets.behaviour` returns (MovieLens, the Amazon releases, a
``remap.pkl``, or a user's format) becomes a :class:`BehaviourData`: every split's rows stay
on disk (:class:`datasets.samples.Split`) and batches are read in the input pipeline, so a
data set of tens of millions of rows is never held in memory. The columns a batch holds are
:data:`INPUT_KEYS` plus ``label``: the history (:data:`datasets.samples.HISTORY`), the
candidate and its training statistics, the user's running statistics.
"""
from __future__ import absolute_import, division, print_function

import numpy as np
import tensorflow as tf

from core.errors import DataError
from datasets import samples
from datasets.inputs import KeyRange, TaskData, TrainInput

INPUT_KEYS = ("hist_items", "hist_cats", "hist_feedback", "hist_len", "target_item",
              "target_cat", "target_count", "target_rate", "target_feedback", "prior_events",
              "prior_positives", "prior_cat_events", "prior_cat_positives")
DTYPES = {"hist_items": tf.int32, "hist_cats": tf.int32, "hist_feedback": tf.int32,
          "hist_len": tf.int32, "target_item": tf.int32, "target_cat": tf.int32,
          "target_count": tf.float32, "target_rate": tf.float32,
          "target_feedback": tf.float32, "prior_events": tf.int32,
          "prior_positives": tf.int32, "prior_cat_events": tf.int32,
          "prior_cat_positives": tf.int32, "label": tf.float32}
SPLIT_SHIFT = 40  # evaluation row keys: split code << 40 | row
TRAIN_CHUNK = 256  # consecutive training rows read together (BehaviourData.train_input)


RATE_PRIOR_ROWS = 10.0  # pseudo-rows of the training base rate in an item's positive rate
FEEDBACK_PRIOR_EVENTS = 2.0  # pseudo-events of the training mean in an item's mean feedback


class BehaviourData(TaskData):
    """DIN's samples and what is known about them, as the task and the model use them,
    and the inputs the loop reads from them (:class:`datasets.inputs.TaskData`).

    Attributes:
      splits: {split: :class:`datasets.samples.Split`} (rows read from disk in batches).
      sizes: id-space sizes (items, categories, users, events, feedback codes).
      maxlen: the history length.
      report: what was checked, dropped or converted while loading (counted; zero counts
        kept).
      synthetic: whether the data is the embedded generated set.
      root: the data directory.
      vocab: raw key of every id (see :func:`datasets.amazon.build_samples`), feedback names.
      protocol: how rows, labels and negatives were made (the sample set's, unless given).
      item_index: raw asin -> item id (requests name items by asin).
      item_counts / category_counts: positive training events per id (the mini-batch aware
        regulariser's frequencies, counted when the samples were written).
      item_stats: float32 [5, items]: each item's positive training rows, training rows
        (both labels), occurrences in the training log (events training rows predict; a
        sampled negative is not one), and the sum and count of those events' numeric
        feedback (ratings, stars).
      base_rate: the training rows' positive share.
      feedback_mean: the training events' mean numeric feedback (0 without any).

    Each split also gets derived columns of the candidate's training statistics:
    ``target_count`` (positive training rows: the popularity input), ``target_rate`` (its
    positive share over its training rows, smoothed toward the base rate with
    :data:`RATE_PRIOR_ROWS` pseudo-rows: on labelled data, MovieLens, the item's quality) and
    ``target_events`` (its occurrences in the training log: "seen in training"). On
    validation and test rows they are the training set's; on a TRAINING row they are those
    of the other folds' users (:func:`datasets.samples.fold_counts`), the counts scaled to
    the whole set, so that nothing of the row's own label reaches its features.
    """

    def __init__(self, sample_set, synthetic, root, protocol=None):
        self.splits = sample_set.splits
        self.sizes = sample_set.sizes
        self.maxlen = sample_set.maxlen
        self.report = sample_set.report
        self.synthetic = synthetic
        self.root = root
        self.vocab = sample_set.vocab
        self.protocol = protocol or getattr(sample_set, "protocol", None)
        self.item_index = {str(k): i for i, k in enumerate(self.vocab["items"]) if i}
        self.item_counts = sample_set.item_counts
        self.category_counts = sample_set.category_counts
        folds = getattr(sample_set, "fold_counts", None)
        if folds is None:  # a sample set without them: positives only, one fold
            zeros = np.zeros_like(self.item_counts)
            folds = np.stack([self.item_counts] * 3 + [zeros, zeros])[:, None, :].astype(
                np.float32)
        self.fold_counts = folds
        self.item_stats = folds.sum(axis=1)
        rows = float(self.item_stats[1].sum())
        self.base_rate = float(self.item_stats[0].sum()) / rows if rows else 0.5
        rated = float(self.item_stats[4].sum())
        self.feedback_mean = float(self.item_stats[3].sum()) / rated if rated else 0.0
        for name, split in self.splits.items():
            train = name == "train"
            for what in ("count", "rate", "events", "feedback"):
                split.derived["target_" + what] = self._derived(train, what)

    def candidate_stats(self, batch, train):
        """The candidate's (positives, rows, events, feedback sum, feedback count) in
        training: out of fold for training rows (scaled to the whole set), the whole training
        set's otherwise.

        Args:
          batch: ``target_item`` and ``user`` columns.
          train: whether the rows are training rows.

        Returns:
          Five float64 [n] arrays.
        """
        item = np.asarray(batch["target_item"], np.int64)
        stats = self.item_stats[:, item].astype(np.float64)
        folds = self.fold_counts.shape[1]
        if train and folds > 1:
            fold = samples.fold_of(batch["user"])
            stats = (stats - self.fold_counts[:, fold, item]) * (folds / (folds - 1.0))
        return tuple(stats)

    def _derived(self, train, what):
        base, mean = self.base_rate, self.feedback_mean

        def compute(batch):
            positives, rows, events, total, rated = self.candidate_stats(batch, train)
            if what == "count":
                value = positives
            elif what == "events":
                value = events
            elif what == "feedback":
                value = (total - rated * mean) / (rated + FEEDBACK_PRIOR_EVENTS)
            else:
                value = (positives + RATE_PRIOR_ROWS * base) / (rows + RATE_PRIOR_ROWS)
            return value.astype(np.float32)

        return compute

    # -- the inputs the loop reads (datasets.inputs.TaskData) -----------------------------
    def num_train_examples(self):
        return self.splits["train"].num_rows

    def train_input(self, batch_size, epoch, seed):
        """An epoch as a random order of chunks of :data:`TRAIN_CHUNK` consecutive rows of the
        (already shuffled) training rows, then the rows after the last whole chunk, read as
        one stream and cut into batches: a batch is a few file reads, and memory holds only
        the batches in flight and the chunk order (``rows / 256`` numbers), never a row
        array. The stream does not depend on the batch size, so workers sharing a global
        batch read exactly what one process would."""
        train = self.splits["train"]
        chunks = train.num_rows // TRAIN_CHUNK
        order = np.random.RandomState(seed * 100003 + epoch).permutation(chunks)
        # the partial last chunk keeps its place: position p of it is row p
        order = tf.constant(np.append(order, chunks).astype(np.int64))
        offsets = tf.range(batch_size, dtype=tf.int64)

        def rows_of(batch):  # stream positions -> row numbers
            position = batch * batch_size + offsets
            return tf.gather(order, position // TRAIN_CHUNK) * TRAIN_CHUNK + \
                position % TRAIN_CHUNK

        keys = tf.data.Dataset.range(train.num_rows // batch_size).map(rows_of)
        return TrainInput(keys, reader(train.read, INPUT_KEYS + ("label",), self.maxlen))

    def eval_arrays(self, split):
        """Row numbers (the split in their high bits): the rows themselves are read from disk
        batch by batch (:meth:`eval_materialize`)."""
        code = samples.SPLITS.index(split) << SPLIT_SHIFT
        return {"row": KeyRange(code, code + self.splits[split].num_rows)}

    def eval_materialize(self):
        splits = [self.splits[name] for name in samples.SPLITS]

        def read(rows):
            split = splits[int(rows[0]) >> SPLIT_SHIFT] if len(rows) else splits[0]
            return split.read(rows & ((1 << SPLIT_SHIFT) - 1))

        return reader(read, INPUT_KEYS, self.maxlen, key="row")

    # -- the run record -------------------------------------------------------------------
    def metric_rows(self, split):
        """AUC and log loss rest on the rows; GAUC on the users that have both labels."""
        rows = self.splits[split]
        user, label = np.asarray(rows["user"]), np.asarray(rows["label"]) > 0.5
        both = np.intersect1d(np.unique(user[label]), np.unique(user[~label]))
        return {"rows": rows.num_rows, "gauc_users": int(len(both))}

    def describe(self):
        out = {"synthetic": self.synthetic, "root": self.root, "sizes": self.sizes,
               "rows": {k: v.num_rows for k, v in self.splits.items()},
               "report": self.report}
        if self.protocol is not None:
            out["protocol"] = self.protocol
        return out

    def applied_config(self, config):
        """Without the generator's settings on real data, and without the Amazon negatives'
        settings where the negatives are real (MovieLens)."""
        out = super(BehaviourData, self).applied_config(config)
        section = out.get("data", {})
        if not self.synthetic:
            for key in ("synthetic_users", "synthetic_kind"):
                section.pop(key, None)
        if (self.protocol or {}).get("dataset") == "movielens":
            for key in ("negatives", "min_item_events", "trust_pickle"):
                section.pop(key, None)
        return out

    def vocabulary(self):
        """items[id] = raw key (asin; id 0 = padding ''), categories[id] = category name,
        item_category[item id] = category id: what request ids mean."""
        if self.vocab is None:
            return None
        return {key: [v.item() if hasattr(v, "item") else v for v in self.vocab[key].tolist()]
                for key in ("items", "categories", "item_category", "feedback")
                if key in self.vocab}

    def check_both_labels(self):
        """Every split holds both labels, or AUC, GAUC and model selection are undefined
        (e.g. MovieLens where every rating is 4 or 5): a DataError says which split and why,
        before anything is trained or written."""
        protocol = self.protocol or {}
        for name in samples.SPLITS:
            split = self.splits[name]
            if split.num_rows == 0:  # say why, not "batch_size is larger than 0 examples"
                raise DataError(
                    "{}: no {} rows from {:,} users and {:,} events. The split: {}{}".format(
                        self.root, name, self.sizes.get("users", 0),
                        self.sizes.get("events", 0), protocol.get("split", "from the data"),
                        "; so training rows come from users with 4 or more events, and here "
                        "every user has 3 or fewer" if name == "train" and
                        protocol.get("split", "").startswith("by time") else ""))
            positives = int(np.count_nonzero(split["label"] > 0.5))
            if positives in (0, split.num_rows):
                raise DataError("{}: every {} row is {} ({} rows): AUC and model selection "
                                "need both labels (the labels: {})".format(
                                    self.root, name, "positive" if positives else "negative",
                                    split.num_rows, protocol.get("label", "from the data")))


def reader(read, keys, maxlen, key=None):
    """A tf.data map function: a batch of row numbers (in a dict under ``key`` if given) ->
    the batch ``read`` gives (numpy, in the input pipeline), with static shapes.

    Args:
      read: row numbers -> ``{column: array}``.
      keys: the columns to keep (each in :data:`DTYPES`).
      maxlen: the history length (the static shape of :data:`datasets.samples.HISTORY`).
      key: the dict key of the row numbers, or None when the batch is the row numbers.

    Returns:
      The map function.
    """
    def numpy_read(ids):
        batch = read(ids)
        return [np.asarray(batch[k], DTYPES[k].as_numpy_dtype) for k in keys]

    def materialize(ids):
        ids = ids[key] if key is not None else ids
        values = tf.numpy_function(numpy_read, [ids], [DTYPES[k] for k in keys],
                                   stateful=False)
        rows = ids.shape[0]
        out = {}
        for name, value in zip(keys, values):
            value.set_shape([rows, maxlen] if name in samples.HISTORY else [rows])
            out[name] = value
        return out

    return materialize
