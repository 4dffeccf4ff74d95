"""Behaviour samples on disk, read in batches: the one processed form of every behaviour data
set (Amazon 2014 / 2018 / 2023, ``remap.pkl``, MovieLens, the generators).

Why: DIN's rows used to be one in-memory array per field, histories materialised
(``rows x maxlen`` twice) and copied again into TensorFlow constants: by arithmetic 6.4 GB of
histories for the 40M rows of 20M Amazon events at maxlen 20, twice over, and a process whose
memory grew with every row. Here a row is 8 int32 numbers on disk and
its history is a slice of the user's event sequence, made when a batch is read:

    DIR/meta.json          sizes, report, maxlen, rows per split, version
    DIR/sequence.npy       int32 [events]: item ids of every event, by user, then time
    DIR/feedback.npy       int16 [events]: each event's feedback code (a rating, stars, a
                           behaviour type; 0 = none recorded), names in vocab_feedback
    DIR/<split>.npy        int32 [rows, 10]: user, event, hist_len, target_item, target_cat,
                           label, prior_events, prior_positives, prior_cat_events,
                           prior_cat_positives
    DIR/vocab_<name>.npy   raw keys of item and category ids, each item's category id, the
                           feedback codes' names and whether the protocol counts each as liked
    DIR/counts_<name>.npy  positive training events per item id and per category id;
    DIR/fold_counts.npy    float32 [5, FOLDS, items]: per fold of training users, each
                           item's positive rows, rows (both labels), events, and the sum
                           and count of its events' numeric feedback (:func:`fold_counts`)

Row ``r``'s history is ``sequence[event - hist_len : event]`` (oldest first, left-aligned,
0 = padding), its categories those items' categories and its feedback those events'
feedback. ``prior_events`` / ``prior_positives`` are the user's running statistics before the
row's event: how many events the user had (ALL of them, not only the ``maxlen`` kept) and how
many of them the protocol counts as liked (a rating of 4 or more on MovieLens; every review on
Amazon, where negatives are sampled); ``prior_cat_events`` / ``prior_cat_positives`` the same
among the user's earlier events in the CANDIDATE's category (a genre on MovieLens).

Training rows are stored in a seeded random order (:func:`shuffled`), so an epoch can read
them as a random sequence of contiguous chunks (a few reads per batch, never one per row:
:meth:`Split.read` reads each run of consecutive rows at once); evaluation reads contiguous
ranges. Reads go through plain file reads (:func:`datasets.arrays.read_rows`), not
through a memory mapping, whose touched pages would count as the process's memory.
"""
from __future__ import absolute_import, division, print_function

import collections
import collections.abc
import hashlib
import json
import os

import numpy as np
import pandas as pd

from core import files
from core import memory
from core.errors import DataError
from datasets import arrays

RECORD = ("user", "event", "hist_len", "target_item", "target_cat", "label", "prior_events",
          "prior_positives", "prior_cat_events", "prior_cat_positives")
HISTORY = ("hist_items", "hist_cats", "hist_feedback")
SPLITS = ("train", "validation", "test")
VOCAB = ("items", "categories", "item_category", "feedback", "feedback_liked")
VERSION = 4  # 3: per-event feedback, the user's running statistics, out-of-fold item counts;
# 4: the digest of every file and the folder's key in meta.json, checked when read back
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


FOLDS = 5  # folds of training users for the candidate's out-of-fold statistics


def fold_of(user):
    """The fold (0..FOLDS-1) of each user id.

    Args:
      user: int user ids.

    Returns:
      int64 folds.
    """
    return np.asarray(user, np.int64) % FOLDS


def feedback_values(names):
    """The number each feedback code stands for (a rating, stars), NaN where its name is not
    a number (a behaviour type) and for code 0 (none recorded).

    Args:
      names: the feedback codes' names, code 0 first.

    Returns:
      float64 [codes].
    """
    values = np.full(len(names), np.nan)
    for code, name in enumerate(np.asarray(names).tolist()):
        if code:
            try:
                values[code] = float(name)
            except ValueError:
                pass
    values[~np.isfinite(values)] = np.nan
    return values


def fold_counts(train, sequence, n_items, event_values=None):
    """Per fold of training users, each item's positive training rows, training rows (both
    labels), events (its occurrences in the training log: the events training rows predict,
    each once; a sampled negative is not one), and the sum and count of those events'
    numeric feedback (a rating, stars; ``event_values`` NaN where there is none).

    Why folds: a training row's own statistics must not include its label. Leaving only the
    row itself out is not enough: an item's leave-one-out positive rate is LOWER on its
    positive rows than on its negative ones, and a learner that can tell items apart reads
    the label from that (scikit-learn's trees on MovieLens: AUC 0.60 on test from 0.78 for a
    linear model). Out-of-fold statistics (the other folds' users) carry nothing of the
    row's label or of its user.

    Args:
      train: int32 [rows, 10] training records.
      sequence: [events] item ids.
      n_items: the item id space.
      event_values: [events] each event's numeric feedback (NaN: none), or None.

    Returns:
      float32 [5, FOLDS, n_items]: positives, rows, events, feedback sum, feedback count.
    """
    user = train[:, RECORD.index("user")]
    item = train[:, RECORD.index("target_item")].astype(np.int64)
    positive = train[:, RECORD.index("label")] > 0
    fold = fold_of(user)
    size = FOLDS * n_items
    out = np.zeros((5, FOLDS, n_items), np.float32)
    index = fold * n_items + item
    out[0] = np.bincount(index[positive], minlength=size).reshape(FOLDS, n_items)
    out[1] = np.bincount(index, minlength=size).reshape(FOLDS, n_items)
    event = train[:, RECORD.index("event")].astype(np.int64)
    sequence = np.asarray(sequence)
    own = (event < len(sequence)) & (sequence[np.clip(event, 0, max(len(sequence) - 1, 0))]
                                     == item) if len(sequence) else np.zeros(len(item), bool)
    key = np.unique(index[own] * (len(sequence) + 1) + event[own])  # each event once
    events, slot = key % (len(sequence) + 1), key // (len(sequence) + 1)
    out[2] = np.bincount(slot, minlength=size).reshape(FOLDS, n_items)
    if event_values is not None and len(events):
        value = np.asarray(event_values, np.float64)[events]
        rated = np.isfinite(value)
        out[3] = np.bincount(slot[rated], value[rated], minlength=size).reshape(FOLDS, n_items)
        out[4] = np.bincount(slot[rated], minlength=size).reshape(FOLDS, n_items)
    return out


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


def prior_stats(users, liked):
    """The user's running statistics before each event: how many events the user had before
    it and how many of those were liked (vectorised: cumulative sums restarted per user).

    Args:
      users: [n] user ids, the events sorted by user, then time.
      liked: [n] 0/1 whether the protocol counts each event as liked.

    Returns:
      ``(prior_events, prior_positives)``, int64 [n] each.
    """
    users = np.asarray(users)
    liked = np.asarray(liked, np.int64)
    start = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1] if len(users) else \
        np.zeros(0, np.int64)
    size = np.diff(np.r_[start, len(users)])
    first = np.repeat(start, size)
    prior_events = np.arange(len(users)) - first
    done = np.cumsum(liked) - liked  # liked events strictly before each event
    prior_positives = done - done[first] if len(users) else done
    return prior_events, prior_positives


def category_prior(users, categories, liked, row_user, row_event, row_cat):
    """For each row, the user's events before the row's event in the row's candidate
    category, and how many of them were liked (vectorised: one sort of the events by (user,
    category), then binary searches).

    Args:
      users / categories / liked: [events] each event's user, category and 0/1 liked, the
        events sorted by user, then time.
      row_user / row_event / row_cat: [rows] each row's user, predicted event and
        candidate's category.

    Returns:
      ``(prior_cat_events, prior_cat_positives)``, int64 [rows] each.
    """
    n = len(users)
    if not n or not len(row_user):
        return np.zeros(len(row_user), np.int64), np.zeros(len(row_user), np.int64)
    width = int(max(np.max(categories), np.max(row_cat))) + 1
    group = np.asarray(users, np.int64) * width + np.asarray(categories, np.int64)
    key = group * n + np.arange(n)  # events sorted by (user, category), then time
    order = np.argsort(key, kind="stable")
    key = key[order]
    done = np.r_[0, np.cumsum(np.asarray(liked, np.int64)[order])]  # liked before position
    query = np.asarray(row_user, np.int64) * width + np.asarray(row_cat, np.int64)
    first = np.searchsorted(key, query * n)
    before = np.searchsorted(key, query * n + np.asarray(row_event, np.int64))
    return before - first, done[before] - done[first]


def feedback_codes(values):
    """Feedback values (ratings, stars, behaviour types) as small integer codes, vectorised
    (one sort of the distinct values: a full-size log has tens of millions of events).

    Args:
      values: [n] values, numbers or strings (NaN / None = none recorded).

    Returns:
      ``(codes, names)``: int16 [n] (0 = none recorded) and the names of codes 0.. (code 0
      is ``""``; numbers are named by :func:`feedback_name`, in numeric order; strings in
      sorted order).
    """
    series = pd.Series(np.asarray(values, dtype=object))
    present = series.notna().to_numpy()
    codes = np.zeros(len(series), np.int16)
    numeric = pd.to_numeric(series[present], errors="coerce")
    if numeric.notna().all():
        distinct, index = np.unique(numeric.to_numpy(np.float64), return_inverse=True)
        names = [feedback_name(v) for v in distinct]
    else:
        distinct, index = np.unique(series[present].astype(str).to_numpy(),
                                    return_inverse=True)
        names = [str(v) for v in distinct]
    codes[present] = np.asarray(index).ravel() + 1
    return codes, [""] + names


def feedback_name(value):
    """A feedback value's name: ``4`` for 4.0, ``3.5`` for 3.5, a string as it is.

    Args:
      value: a number or a string.

    Returns:
      A string.
    """
    if isinstance(value, str):
        return value
    value = float(value)
    if not np.isfinite(value):
        return repr(value)
    return str(int(value)) if value == int(value) else repr(value)


def histories(sequence, item_to_cat, event, hist_len, maxlen, feedback=None):
    """Left-aligned histories of rows: slot ``j < hist_len`` holds event ``event - hist_len +
    j`` of the sequence, the rest is 0.

    Args:
      sequence: [events] item ids.
      item_to_cat: [items] each item id's category id.
      event / hist_len: [n] the rows' predicted events and history lengths.
      maxlen: the slots.
      feedback: [events] feedback codes, or None (then only items and categories).

    Returns:
      ``(hist_items, hist_cats)``, int32 [n, maxlen], and ``hist_feedback`` third when
      ``feedback`` is given.
    """
    slots = np.arange(maxlen)[None, :]
    hist_len = np.asarray(hist_len)[:, None]
    valid = slots < hist_len
    index = np.clip(np.asarray(event, np.int64)[:, None] - hist_len + slots, 0,
                    max(len(sequence) - 1, 0))
    items = np.where(valid, sequence[index], 0).astype(np.int32)
    cats = np.where(valid, item_to_cat[items], 0).astype(np.int32)
    if feedback is None:
        return items, cats
    codes = np.where(valid, feedback[index], 0).astype(np.int32) if len(feedback) else \
        np.zeros_like(items)
    return items, cats, codes


def records(user, event, hist_len, target_item, target_cat, label, prior_events=None,
            prior_positives=None, prior_cat_events=None, prior_cat_positives=None):
    """One split's rows as the stored int32 [n, 10] array (the order of :data:`RECORD`).

    Args:
      user, event, hist_len, target_item, target_cat, label: [n] each (label 0/1).
      prior_events / prior_positives: [n] the user's running statistics (:func:`prior_stats`);
        None: the kept history's length and, for lack of feedback, all of it liked.
      prior_cat_events / prior_cat_positives: [n] the same in the candidate's category
        (:func:`category_prior`); None: 0.

    Returns:
      int32 [n, 10].
    """
    if prior_events is None:
        prior_events = hist_len
    if prior_positives is None:
        prior_positives = prior_events
    zeros = np.zeros(len(np.asarray(user)), np.int32)
    if prior_cat_events is None:
        prior_cat_events = zeros
    if prior_cat_positives is None:
        prior_cat_positives = zeros
    return np.stack([np.asarray(a).astype(np.int32) for a in
                     (user, event, hist_len, target_item, target_cat, label, prior_events,
                      prior_positives, prior_cat_events, prior_cat_positives)], axis=1)


def shuffled(rows, seed):
    """Training rows in a seeded random order (what an epoch's chunks are read from).

    Args:
      rows: int32 [n, 6].
      seed: the order's seed.

    Returns:
      The rows, permuted.
    """
    return rows[np.random.RandomState(seed).permutation(len(rows))]


def write(path, sequence, splits, sizes, report, vocab, maxlen, feedback=None, protocol=None,
          replace=False):
    """Write a sample set to ``path`` (a new folder, built aside and renamed into place; a
    concurrent writer of the same content that finished first wins).

    Args:
      path: the folder (content-keyed by the caller).
      sequence: [events] item ids.
      splits: ``{split: int32 [rows, 10]}`` (:func:`records`).
      sizes / report: id-space sizes and what was dropped or altered (JSON; zero counts are
        kept: "0 duplicates" is a finding too).
      vocab: ``{items, categories, item_category}`` arrays, and optionally ``feedback`` (the
        names of feedback codes 0..) and ``feedback_liked`` (whether the protocol counts each
        code as liked); without them: no feedback recorded.
      maxlen: the history length.
      feedback: [events] feedback codes (int16; 0 = none recorded), or None.
      protocol: how rows, labels and negatives were made (JSON), or None.
      replace: replace a folder already at ``path`` (a damaged cache) instead of keeping it.
    """
    vocab = dict(vocab)
    vocab.setdefault("feedback", np.asarray([""]))
    vocab.setdefault("feedback_liked", np.ones(len(vocab["feedback"]), np.int8))
    if feedback is None:
        feedback = np.zeros(len(sequence), np.int16)
    sizes = dict(sizes, feedback=len(vocab["feedback"]))
    with files.atomic_directory(path, exists=files.REPLACE if replace else files.KEEP) as tmp:
        np.save(os.path.join(tmp, "sequence.npy"), np.asarray(sequence, np.int32))
        np.save(os.path.join(tmp, "feedback.npy"), np.asarray(feedback, np.int16))
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
        np.save(os.path.join(tmp, "fold_counts.npy"), fold_counts(
            train, sequence, sizes["items"], feedback_values(vocab["feedback"])[feedback]))
        files.write_json(os.path.join(tmp, "meta.json"), {
            "version": VERSION, "sizes": sizes, "report": report, "maxlen": int(maxlen),
            "protocol": protocol, "key": os.path.basename(os.path.normpath(path)),
            "files": files.file_digests(tmp),
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
        meta = files.load_json(os.path.join(path, "meta.json"), "sample cache meta")
        if not isinstance(meta, dict) or meta.get("version") != VERSION:
            raise ValueError("version {} (expected {})".format(
                meta.get("version") if isinstance(meta, dict) else None, VERSION))
        key = os.path.basename(os.path.normpath(path))
        if meta.get("key") != key:  # another data set's (or settings') folder moved here
            raise ValueError("it was built as {!r}, and is read as {!r}".format(
                meta.get("key"), key))
        files.check_digests(path, meta.get("files") or {})
        return SampleSet(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError("{}: not a readable sample cache ({}); remove it to build it "
                        "again".format(path, err))


class SampleSet(object):
    """An opened sample set: ``splits`` ({name: :class:`Split`}), ``sizes``, ``report``,
    ``vocab``, ``maxlen``, ``protocol``, ``item_counts`` / ``category_counts`` (positive
    training events), ``fold_counts`` (:func:`fold_counts`), ``sequence`` and
    ``feedback`` (in memory: 6 bytes per event)."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "meta.json")) as handle:
            meta = json.load(handle)
        if meta.get("version") != VERSION:
            raise ValueError("version {} (expected {})".format(meta.get("version"), VERSION))
        self.sizes, self.report, self.maxlen = meta["sizes"], meta["report"], meta["maxlen"]
        self.protocol = meta.get("protocol")
        self.sequence = np.load(os.path.join(path, "sequence.npy"))
        self.feedback = np.load(os.path.join(path, "feedback.npy"))
        if self.feedback.shape != self.sequence.shape:
            raise ValueError("feedback.npy has {} events, sequence.npy {}".format(
                self.feedback.shape, self.sequence.shape))
        self.vocab = {name: np.load(os.path.join(path, "vocab_{}.npy".format(name)))
                      for name in VOCAB}
        self.item_counts = np.load(os.path.join(path, "counts_items.npy"))
        self.category_counts = np.load(os.path.join(path, "counts_categories.npy"))
        self.fold_counts = np.load(os.path.join(path, "fold_counts.npy"))
        if self.fold_counts.shape != (5, FOLDS, self.item_counts.shape[0]):
            raise ValueError("fold_counts.npy has shape {}, expected {}".format(
                self.fold_counts.shape, (5, FOLDS, self.item_counts.shape[0])))
        item_to_cat = np.asarray(self.vocab["item_category"], np.int32)
        self.splits = {name: Split(os.path.join(path, name + ".npy"), self.sequence,
                                   item_to_cat, self.maxlen, self.feedback)
                       for name in SPLITS}


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
      feedback: [events] feedback codes (None: none recorded, all 0).
    """

    def __init__(self, path, sequence, item_to_cat, maxlen, feedback=None):
        self.path = path
        self.records = np.load(path, mmap_mode="r")
        if self.records.ndim != 2 or self.records.shape[1] != len(RECORD):
            raise ValueError("{}: expected [rows, {}] records".format(path, len(RECORD)))
        self.sequence = sequence
        self.item_to_cat = item_to_cat
        self.maxlen = int(maxlen)
        self.feedback = feedback if feedback is not None else np.zeros(len(sequence), np.int16)
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
        return arrays.read_rows(self.records, np.arange(start, stop))

    def expand(self, raw):
        """Stored records [n, 6] -> the batch dict (columns, histories, derived columns).

        Args:
          raw: int32 [n, 10] records.

        Returns:
          ``{name: array}``.
        """
        out = {name: raw[:, i] for i, name in enumerate(RECORD)}
        out["label"] = out["label"].astype(np.float32)
        out["hist_items"], out["hist_cats"], out["hist_feedback"] = histories(
            self.sequence, self.item_to_cat, out["event"], out["hist_len"], self.maxlen,
            self.feedback)
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
        return self.expand(arrays.read_rows(self.records, np.asarray(rows, np.int64)))

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


def file_key(paths, params):
    """Cache key: the parameters and the full CONTENT of every input (an in-place edit that
    keeps size and mtime still changes it; hashing ~1.4 GB costs seconds, loading minutes)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for path in paths:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def cached(path, build, maxlen, name, log=None):
    """The sample set at ``path`` (content-keyed by the caller), built once with
    ``build(report)`` -> ``(sequence, splits, sizes, vocab, feedback, protocol)``: the one
    cache of every behaviour data set.

    Args:
      path: the cache folder.
      build: makes the samples; counts what it drops in the Counter it is given.
      maxlen: the history length the samples were built with.
      name: the data set's name in the log lines.
      log: a logger (where the cache is; what was altered, at WARNING, on every load).

    Returns:
      A :class:`SampleSet`.
    """
    try:
        opened = open_set(path)
        damaged = False
    except DataError as err:  # derived data: built again, never trusted, and said
        if log:
            log.warning("%s: %s", name, str(err).replace("remove it to build it again",
                                                         "building it again"))
        opened, damaged = None, True
    if opened is None:
        report = collections.Counter()
        sequence, splits, sizes, vocab, feedback, made_by = build(report)
        write(path, sequence, splits, sizes, {k: int(v) for k, v in report.items()}, vocab,
              maxlen, feedback=feedback, protocol=made_by, replace=damaged)
        opened = open_set(path)
        if log:
            log.info("%s: %s; %s", name, opened.sizes, opened.report)
    elif log:
        log.info("%s: cached samples %s", name, path)
    warn_report(opened.report, log, name)
    return opened


def warn_report(report, log, name):
    """Whatever was dropped, skipped or altered is said at WARNING level on every load
    (a cached load too), so a user never trains on silently different data.

    Args:
      report: ``{what: count}``.
      log: a logger, or None.
      name: the data set's name in the line.
    """
    altered = {k: v for k, v in report.items() if v}  # negatives a user reviewed too: said
    if log and altered:
        log.warning("%s: the data was not used as given: %s", name, ", ".join(
            "{} {}".format(v, k.replace("_", " ")) for k, v in sorted(altered.items())))
