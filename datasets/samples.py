"""Behaviour samples on disk, read in batches: the one processed form of every behaviour data
set (Amazon 2014 / 2018 / 2023, ``remap.pkl``, MovieLens, the generators).

Why: DIN's rows used to be one in-memory array per field, histories materialised
(``rows x maxlen`` twice) and copied again into TensorFlow constants: by arithmetic 6.4 GB of
histories for the 40M rows of 20M Amazon events at maxlen 20, twice over, and a process whose
memory grew with every row. Here a row is 6 int32 numbers on disk and
its history is a slice of the user's event sequence, made when a batch is read:

    DIR/meta.json          sizes, report, maxlen, rows per split, version
    DIR/sequence.npy       int32 [events]: item ids of every event, by user, then time
    DIR/<split>.npy        int32 [rows, 6]: user, event, hist_len, target_item, target_cat, label
    DIR/vocab_<name>.npy   raw keys of item and category ids, each item's category id
    DIR/counts_<name>.npy  positive training events per item id and per category id

Row ``r``'s history is ``sequence[event - hist_len : event]`` (oldest first, left-aligned,
0 = padding), its categories those items' categories. Training rows are stored in a seeded
random order (:func:`shuffled`), so an epoch can read them as a random sequence of contiguous
chunks (a few reads per batch, never one per row: :meth:`Split.read` reads each run of
consecutive rows at once); evaluation reads
contiguous ranges. Reads go through plain file reads (:func:`datasets.features.read_rows`), not
through a memory mapping, whose touched pages would count as the process's memory.
"""
from __future__ import absolute_import, division, print_function

import collections.abc
import json
import os

import numpy as np

from models import files
from models import memory
from models.errors import DataError
from datasets import features as feature_store

RECORD = ("user", "event", "hist_len", "target_item", "target_cat", "label")
HISTORY = ("hist_items", "hist_cats")
SPLITS = ("train", "validation", "test")
VOCAB = ("items", "categories", "item_category")
VERSION = 2
READ_ROWS = 1 << 20  # rows per read of a whole column


def events(users, maxlen):
    """Where each predicted event sits: every event after a user's first, with up to
    ``maxlen`` previous events as its history (the one step every behaviour data set shares).

    Args:
      users: [n] user ids, the events sorted by user, then time (then item).
      maxlen: most recent history items kept.

    Returns:
      ``(event, position, last, hist_len)``: the index of each predicted event, every event's
      position in its user's sequence and its user's last position, each predicted event's
      history length.
    """
    start = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    size = np.diff(np.r_[start, len(users)])
    position = np.arange(len(users)) - np.repeat(start, size)
    last = np.repeat(size, size) - 1
    event = np.flatnonzero(position >= 1)  # every prefix predicts its next event
    hist_len = np.minimum(position[event], maxlen)
    return event, position, last, hist_len


def check_maxlen(maxlen, batch_rows=65536):
    """Refuse a history length whose batches the machine cannot hold (the number and the
    setting named), before any data is processed.

    Args:
      maxlen: the history length.
      batch_rows: the largest batch read at once (evaluation ranges, whole-column passes).

    Raises:
      UsageError: it would not fit.
    """
    memory.check_fits(int(batch_rows) * int(maxlen) * 4 * 6, "a batch's histories ({:,} rows x "
                      "{:,} slots)".format(int(batch_rows), int(maxlen)),
                      "data.maxlen={}".format(maxlen))


def histories(sequence, item_to_cat, event, hist_len, maxlen):
    """Left-aligned histories of rows: slot ``j < hist_len`` holds event ``event - hist_len +
    j`` of the sequence, the rest is 0.

    Args:
      sequence: [events] item ids.
      item_to_cat: [items] each item id's category id.
      event / hist_len: [n] the rows' predicted events and history lengths.
      maxlen: the slots.

    Returns:
      ``(hist_items, hist_cats)``, int32 [n, maxlen].
    """
    slots = np.arange(maxlen)[None, :]
    hist_len = np.asarray(hist_len)[:, None]
    valid = slots < hist_len
    index = np.clip(np.asarray(event, np.int64)[:, None] - hist_len + slots, 0,
                    max(len(sequence) - 1, 0))
    items = np.where(valid, sequence[index], 0).astype(np.int32)
    cats = np.where(valid, item_to_cat[items], 0).astype(np.int32)
    return items, cats


def records(user, event, hist_len, target_item, target_cat, label):
    """One split's rows as the stored int32 [n, 6] array (the order of :data:`RECORD`).

    Args:
      user, event, hist_len, target_item, target_cat, label: [n] each (label 0/1).

    Returns:
      int32 [n, 6].
    """
    return np.stack([np.asarray(a).astype(np.int32) for a in
                     (user, event, hist_len, target_item, target_cat, label)], axis=1)


def shuffled(rows, seed):
    """Training rows in a seeded random order (what an epoch's chunks are read from).

    Args:
      rows: int32 [n, 6].
      seed: the order's seed.

    Returns:
      The rows, permuted.
    """
    return rows[np.random.RandomState(seed).permutation(len(rows))]


def write(path, sequence, splits, sizes, report, vocab, maxlen):
    """Write a sample set to ``path`` (a new folder, built aside and renamed into place; a
    concurrent writer of the same content that finished first wins).

    Args:
      path: the folder (content-keyed by the caller).
      sequence: [events] item ids.
      splits: ``{split: int32 [rows, 6]}`` (:func:`records`).
      sizes / report: id-space sizes and what was dropped (JSON).
      vocab: ``{items, categories, item_category}`` arrays.
      maxlen: the history length.
    """
    with files.atomic_directory(path, exists=files.KEEP) as tmp:
        np.save(os.path.join(tmp, "sequence.npy"), np.asarray(sequence, np.int32))
        for name, rows in splits.items():
            np.save(os.path.join(tmp, name + ".npy"), np.ascontiguousarray(rows, np.int32))
        for name in VOCAB:
            np.save(os.path.join(tmp, "vocab_{}.npy".format(name)), np.asarray(vocab[name]))
        # positive training events per item and per category, counted once here so that a
        # process (a worker) never reads every training row to know them
        train = splits["train"]
        positive = train[:, RECORD.index("label")] > 0
        for name, column, size in (("items", "target_item", sizes["items"]),
                                   ("categories", "target_cat", sizes["categories"])):
            np.save(os.path.join(tmp, "counts_{}.npy".format(name)), np.bincount(
                train[positive, RECORD.index(column)], minlength=size).astype(np.float32))
        files.write_json(os.path.join(tmp, "meta.json"), {
            "version": VERSION, "sizes": sizes, "report": report, "maxlen": int(maxlen),
            "rows": {name: int(len(rows)) for name, rows in splits.items()}})


def open_set(path):
    """The sample set written at ``path``, or None when there is none.

    Args:
      path: a folder :func:`write` made.

    Returns:
      A :class:`SampleSet` or None.

    Raises:
      DataError: a damaged or foreign folder.
    """
    if not os.path.isfile(os.path.join(path, "meta.json")):
        return None
    try:
        return SampleSet(path)
    except (OSError, ValueError, KeyError) as err:
        raise DataError("{}: not a readable sample cache ({}: {}); remove it to build it "
                        "again".format(path, type(err).__name__, err))


class SampleSet(object):
    """An opened sample set: ``splits`` ({name: :class:`Split`}), ``sizes``, ``report``,
    ``vocab``, ``maxlen``, ``item_counts`` / ``category_counts`` (positive training events)
    and ``sequence`` (in memory: 4 bytes per event)."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "meta.json")) as handle:
            meta = json.load(handle)
        if meta.get("version") != VERSION:
            raise ValueError("version {} (expected {})".format(meta.get("version"), VERSION))
        self.sizes, self.report, self.maxlen = meta["sizes"], meta["report"], meta["maxlen"]
        self.sequence = np.load(os.path.join(path, "sequence.npy"))
        self.vocab = {name: np.load(os.path.join(path, "vocab_{}.npy".format(name)))
                      for name in VOCAB}
        self.item_counts = np.load(os.path.join(path, "counts_items.npy"))
        self.category_counts = np.load(os.path.join(path, "counts_categories.npy"))
        item_to_cat = np.asarray(self.vocab["item_category"], np.int32)
        self.splits = {name: Split(os.path.join(path, name + ".npy"), self.sequence,
                                   item_to_cat, self.maxlen) for name in SPLITS}


class Split(collections.abc.Mapping):
    """One split's rows, read from disk on demand.

    As a mapping, ``split[column]`` is a WHOLE column (read in chunks; histories materialised
    for every row: meant for small data, tests and notebooks); :meth:`read` and
    :meth:`read_range` give batches (dicts of arrays), :meth:`map_chunks` a pass over every
    row in bounded memory. ``derived`` adds columns computed from a batch's stored ones (e.g.
    the candidate's popularity).

    Args:
      path: the split's ``.npy``.
      sequence: the set's event sequence.
      item_to_cat: each item id's category id.
      maxlen: the history length.
    """

    def __init__(self, path, sequence, item_to_cat, maxlen):
        self.path = path
        self.records = np.load(path, mmap_mode="r")
        if self.records.ndim != 2 or self.records.shape[1] != len(RECORD):
            raise ValueError("{}: expected [rows, {}] records".format(path, len(RECORD)))
        self.sequence = sequence
        self.item_to_cat = item_to_cat
        self.maxlen = int(maxlen)
        self.derived = {}

    @property
    def num_rows(self):
        """How many rows the split has."""
        return int(self.records.shape[0])

    def keys(self):
        """The columns a batch has: the stored ones, the histories, the derived ones.

        Returns:
          A list of names.
        """
        return list(RECORD) + list(HISTORY) + sorted(self.derived)

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __getitem__(self, key):
        if key in RECORD:
            column = RECORD.index(key)
            dtype = np.float32 if key == "label" else np.int32
            values = np.empty(self.num_rows, dtype)  # the column only: 4 bytes a row
            for start in range(0, self.num_rows, READ_ROWS):
                stop = min(start + READ_ROWS, self.num_rows)
                values[start:stop] = self._raw(start, stop)[:, column]
            return values
        if key in HISTORY or key in self.derived:
            return self.read_range(0, self.num_rows)[key]
        raise KeyError(key)

    def _raw(self, start, stop):
        return feature_store.read_rows(self.records, np.arange(start, stop))

    def expand(self, raw):
        """Stored records [n, 6] -> the batch dict (columns, histories, derived columns).

        Args:
          raw: int32 [n, 6] records.

        Returns:
          ``{name: array}``.
        """
        out = {name: raw[:, i] for i, name in enumerate(RECORD)}
        out["label"] = out["label"].astype(np.float32)
        out["hist_items"], out["hist_cats"] = histories(
            self.sequence, self.item_to_cat, out["event"], out["hist_len"], self.maxlen)
        for name, compute in self.derived.items():
            out[name] = compute(out)
        return out

    def read(self, rows):
        """The batch of the given rows (any order; one file read per run of consecutive
        rows).

        Args:
          rows: int row indices.

        Returns:
          ``{name: array}``.
        """
        return self.expand(feature_store.read_rows(self.records, np.asarray(rows, np.int64)))

    def read_range(self, start, stop):
        """Rows ``start .. stop - 1`` (one read).

        Args:
          start / stop: the range.

        Returns:
          ``{name: array}``.
        """
        return self.expand(self._raw(start, stop))

    def map_chunks(self, compute, rows=65536):
        """``compute(batch)`` over the whole split, range by range, concatenated: a pass over
        every row whose memory is that of one range.

        Args:
          compute: batch dict -> [n] array.
          rows: rows per range.

        Returns:
          The concatenated results.
        """
        parts = [compute(self.read_range(start, min(start + rows, self.num_rows)))
                 for start in range(0, self.num_rows, rows)]
        return np.concatenate(parts) if parts else np.zeros(0)
