"""Amazon Electronics for DIN: raw review/meta files (or the reference pickles) -> samples.

Accepted inputs, in ``data_dir``:

* ``reviews_Electronics_5.json[.gz]``: JSON lines with reviewerID, asin, unixReviewTime.
* ``meta_Electronics.json[.gz]``: one Python-literal dict per line (NOT strict JSON), parsed
  with ``ast.literal_eval`` (never ``eval``); category = last leaf of ``categories[-1]``.
* or the Ascend port's layout: ``remap.pkl`` (reviews DataFrame, category list, counts, keys),
  read through :class:`datasets.safe_pickle.RestrictedUnpickler` (an exact allow-list of the
  numpy/pandas names needed to rebuild data) unless the user opts in with ``trust_pickle``.

Samples as in the reference preprocessing, vectorised with numpy/pandas: per user, events
sorted by time; each prefix predicts the next item (label 1) and one seeded random item the user
never touched (label 0); the last event is test, the one before validation, the rest train.
Histories keep the most recent ``maxlen`` items, left-aligned (slots 0..len-1, oldest first);
item/category id 0 is padding.
Processed arrays are cached in a ``.npz`` keyed by a hash of the input files and parameters.
"""
from __future__ import absolute_import, division, print_function

import ast
import collections
import gzip
import hashlib
import json
import os
import pickle
import zlib

import numpy as np
import pandas as pd

from models.errors import DataError
from datasets import progress, safe_pickle, samples

REVIEWS = "reviews_Electronics_5.json"
META = "meta_Electronics.json"
REMAP_PICKLE = "remap.pkl"
CACHE_VERSION = 5  # 5: the on-disk sample set of datasets.samples

def _find(data_dir, name):
    """``name`` or ``name.gz`` in ``data_dir`` (None when neither). When both are there they
    must hold the same text (e.g. after ``gunzip -k``); otherwise which one is meant is
    ambiguous and the user is asked to remove one."""
    found = [os.path.join(data_dir, c) for c in (name, name + ".gz")
             if os.path.isfile(os.path.join(data_dir, c))]
    if len(found) == 2 and not _same_text(*found):
        raise DataError("{} and {} are both present with different contents: remove the one "
                        "that should not be used".format(found[0], found[1]))
    return found[0] if found else None


_RELEASE_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")


def _find_release_files(data_dir):
    """(reviews, meta) of an Amazon 2018 or 2023 release in ``data_dir``: one ``meta_*`` file
    and one other reviews file, named by their category (``Electronics_5.json.gz``,
    ``Electronics.jsonl``, ...); which release it is, is told by the records' fields.

    Raises:
      DataError: several candidate files of one kind (it names them).
    """
    names = sorted(n for n in os.listdir(data_dir) if n.endswith(_RELEASE_SUFFIXES)
                   and os.path.isfile(os.path.join(data_dir, n)))
    meta = [n for n in names if n.startswith("meta_")]
    reviews = [n for n in names if not n.startswith("meta_")]
    if not meta or not reviews:
        return None, None
    for kind, found in (("meta", meta), ("reviews", reviews)):
        if len(found) > 1:
            raise DataError("{}: several {} files ({}); keep one category's files in a "
                            "folder".format(data_dir, kind, ", ".join(found)))
    return os.path.join(data_dir, reviews[0]), os.path.join(data_dir, meta[0])


def _same_text(plain, packed, chunk=1 << 22):
    try:
        with open(plain, "rb") as left, gzip.open(packed, "rb") as right:
            while True:
                a, b = left.read(chunk), right.read(chunk)
                if a != b:
                    return False
                if not a:
                    return True
    except (EOFError, OSError, zlib.error):
        return False


def _lines(path):
    """(line number, text) of a plain or gzipped text file; a truncated gzip is a DataError."""
    opener = gzip.open if path.endswith(".gz") else open
    bar = None
    if os.path.getsize(path) > 50 * 2 ** 20:  # the first processing of a big file
        bar = progress.bar(desc=os.path.basename(path), unit=" lines", unit_scale=True,
                           mininterval=1.0)
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if bar is not None and number % 10000 == 0:
                    bar.update(10000)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    text = _NotText("bytes that are not UTF-8 at column {}".format(
                        err.start + 1))
                yield number, text
    except (EOFError, OSError, zlib.error) as err:
        raise DataError("{}: unreadable or truncated ({})".format(path, err))
    finally:
        if bar is not None:
            bar.close()


class _NotText(str):
    """A line that could not be decoded; its text is the reason."""


def _key(value, what):
    """A review/meta key (reviewerID, asin) as text: strings and integers only."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError("{} must be a string, got {} {!r}".format(
            what, type(value).__name__, value)[:200])
    text = str(value)
    if not text.strip():
        raise ValueError("{} is empty".format(what))
    return text


def _timestamp(value, what="unixReviewTime"):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("{} must be an integer, got {}".format(what, type(value).__name__))
    number = float(value)
    if not np.isfinite(number) or number != int(number):
        raise ValueError("{} must be a whole number, got {!r}".format(what, value))
    if not 0 <= number < _MAX_TIME:  # e.g. "1e300": a whole number no int64 column holds
        raise ValueError("{} {!r} is out of range (0 to 2**53 seconds or "
                         "milliseconds)".format(what, value))
    return int(number)


_MAX_TIME = 2.0 ** 53  # exact in float64, far beyond any date in seconds or milliseconds


def _bad_line(path, number, what, on_bad_line, report):
    if on_bad_line == "error":
        raise DataError("{}:{}: {}. Use data.on_bad_line=skip to skip such lines "
                        "(counted).".format(path, number, what))
    report["skipped_lines:" + os.path.basename(path)] += 1


def _review_fields(record):
    """(user, item, time) of one review in any release, told apart by its fields.

    * 2014 and 2018: ``reviewerID``, ``asin``, ``unixReviewTime`` (seconds);
    * 2023 (Amazon Reviews 2023): ``user_id``, ``parent_asin`` (the product, not the
      variant: what the 2023 release groups by; ``asin`` when absent) and ``timestamp``
      (milliseconds; only the order matters here).
    """
    if "user_id" in record:
        item = record.get("parent_asin") or record["asin"]
        return (_key(record["user_id"], "user_id"), _key(item, "parent_asin"),
                _timestamp(record["timestamp"], "timestamp"))
    return (_key(record["reviewerID"], "reviewerID"), _key(record["asin"], "asin"),
            _timestamp(record["unixReviewTime"], "unixReviewTime"))


def read_reviews(path, on_bad_line="error", report=None):
    """DataFrame (user, item, time) from a reviews JSON-lines file.

    Args:
      path: a reviews file (JSON lines, plain or gzip).
      on_bad_line: ``error`` or ``skip`` (counted in ``report``).
      report: a Counter of what was dropped (updated).

    Returns:
      A DataFrame with columns user, item, time.

    Raises:
      DataError: a bad line with ``on_bad_line="error"`` (file and line named).
    """
    report = report if report is not None else collections.Counter()
    users, items, times = [], [], []
    for number, text in _lines(path):
        if isinstance(text, _NotText):
            _bad_line(path, number, str(text), on_bad_line, report)
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise TypeError("got a JSON {}".format(type(record).__name__))
            user, item, stamp = _review_fields(record)
        except (ValueError, KeyError, TypeError, OverflowError) as err:
            _bad_line(path, number, "expected a JSON object with reviewerID, asin and "
                      "unixReviewTime (2014, 2018) or user_id, parent_asin and timestamp "
                      "(2023) ({})".format(err), on_bad_line, report)
            continue
        users.append(user)
        items.append(item)
        times.append(stamp)
    if not users:
        raise DataError("{}: no reviews".format(path))
    return pd.DataFrame({"user": users, "item": items, "time": np.asarray(times, np.int64)})


def read_meta(path, on_bad_line="error", report=None):
    """{asin: category} from a meta file of Python-literal dicts (``ast.literal_eval``).

    Args:
      path: a meta file (plain or gzip).
      on_bad_line: ``error`` or ``skip`` (counted in ``report``).
      report: a Counter of what was dropped (updated).

    Returns:
      ``{asin: category}``.

    Raises:
      DataError: a bad line with ``on_bad_line="error"`` (file and line named).
    """
    report = report if report is not None else collections.Counter()
    categories = {}
    for number, text in _lines(path):
        if isinstance(text, _NotText):
            _bad_line(path, number, str(text), on_bad_line, report)
            continue
        if not text.strip():
            continue
        try:
            record = _meta_record(text.strip())
            if not isinstance(record, dict):
                raise TypeError("got a {}".format(type(record).__name__))
            asin, category = _meta_fields(record)
        except (ValueError, SyntaxError, KeyError, TypeError, IndexError,
                MemoryError, RecursionError) as err:
            _bad_line(path, number, "expected a dict with asin and categories (2014: a Python "
                      "literal, categories a list of lists; 2018: JSON, category a list; "
                      "2023: JSON, parent_asin and categories a list): {}".format(err)[:300],
                      on_bad_line, report)
            continue
        if asin in categories and categories[asin] != category:
            report["meta_asin_repeated_with_another_category"] += 1
        categories[asin] = category
    return categories


def _meta_record(text):
    """A meta line: strict JSON (2018, 2023), else a Python literal (2014: single quotes),
    read with ``ast.literal_eval`` (never ``eval``)."""
    if text.startswith("{") and '"' in text[:3]:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return ast.literal_eval(text)


def _meta_fields(record):
    """(item, category) of one meta record in any release, told apart by its fields.

    The category is the most specific one given: 2014 the last leaf of the last path of
    ``categories`` (lists of lists); 2018 the last entry of ``category``; 2023 the last entry
    of ``categories`` (a flat list), keyed by ``parent_asin``; ``main_cat`` / ``main_category``
    when the list is empty; else ``unknown``.
    """
    if "parent_asin" in record:  # 2023
        return (_key(record["parent_asin"], "parent_asin"),
                _flat_category(record.get("categories"), record.get("main_category")))
    asin = _key(record["asin"], "asin")
    if "category" in record and "categories" not in record:  # 2018
        return asin, _flat_category(record.get("category"), record.get("main_cat"))
    return asin, _leaf_category(record.get("categories"))


def _flat_category(names, main):
    """The last non-empty string of a flat category list, else ``main``, else 'unknown'."""
    if names is not None and not (isinstance(names, list) and
                                  all(isinstance(n, str) for n in names)):
        raise TypeError("categories must be a list of strings, got {!r}".format(names)[:200])
    names = [n.strip() for n in (names or []) if n.strip()]
    if names:
        return names[-1]
    return main.strip() if isinstance(main, str) and main.strip() else "unknown"


def _leaf_category(tree):
    """The last leaf of the last category path; no categories -> 'unknown'."""
    if tree is None or (isinstance(tree, list) and not tree):
        return "unknown"
    if not isinstance(tree, list) or not all(isinstance(p, list) for p in tree):
        raise TypeError("categories must be a list of lists of strings, got {!r}".format(
            tree)[:200])
    path = tree[-1]
    if not path:
        return "unknown"
    if not all(isinstance(c, str) for c in path):
        raise TypeError("categories must hold strings, got {!r}".format(path)[:200])
    return path[-1]


def load_pickles(path, trust_pickle=False):
    """All objects pickled one after another in ``path`` (the reference dumps several), read
    through :class:`datasets.safe_pickle.RestrictedUnpickler` unless ``trust_pickle``.

    Args:
      path: the pickle file.
      trust_pickle: use the unrestricted unpickler (it can run code).

    Returns:
      The list of objects.

    Raises:
      DataError: not a readable pickle, or a class the restricted unpickler refuses.
    """
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        return safe_pickle.load_all(payload, trust=trust_pickle)
    except pickle.UnpicklingError as err:
        if trust_pickle:
            raise DataError("{}: not a readable pickle ({})".format(path, err))
        raise DataError("{}: {}. If you trust this file, pass --set data.trust_pickle=true "
                        "(it can run code).".format(path, err))
    except (EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, MemoryError) as err:
        raise DataError("{}: not a readable pickle ({}: {})".format(path, type(err).__name__,
                                                                     err))


def from_remap_pickle(path, trust_pickle=False):
    """The reference ``remap.pkl`` -> (reviews DataFrame, item -> category), as from raw files.

    Layout (the reference ``build_dataset``): reviews_df with columns reviewerID, asin,
    unixReviewTime (ints), then cate_list (category of each item id), then counts and keys.

    Args:
      path: the ``remap.pkl``.
      trust_pickle: as :func:`load_pickles`.

    Returns:
      ``(reviews DataFrame, {item: category})``.

    Raises:
      DataError: not the reference layout (what was found is named).
    """
    objects = load_pickles(path, trust_pickle)
    if len(objects) < 2 or not isinstance(objects[0], pd.DataFrame):
        raise DataError("{}: expected a reviews DataFrame followed by the category list, got "
                        "{}".format(path, [type(o).__name__ for o in objects[:3]]))
    frame, cate_list = objects[0], objects[1]
    missing = {"reviewerID", "asin", "unixReviewTime"} - set(frame.columns)
    if missing:
        raise DataError("{}: reviews DataFrame lacks column(s) {}".format(
            path, ", ".join(sorted(missing))))
    for column in ("reviewerID", "asin", "unixReviewTime"):
        values = frame[column]
        if not pd.api.types.is_integer_dtype(values) or (values < 0).any():
            raise DataError("{}: reviews column {} must hold non-negative integer ids (the "
                            "remapped layout), got dtype {}".format(path, column, values.dtype))
    cate_list = np.asarray(cate_list)
    if cate_list.ndim != 1 or len(cate_list) <= int(frame["asin"].max()):
        raise DataError("{}: category list has {} entries but item ids go up to {}".format(
            path, len(cate_list), int(frame["asin"].max())))
    reviews = pd.DataFrame({"user": frame["reviewerID"].to_numpy(),
                            "item": frame["asin"].to_numpy(),
                            "time": frame["unixReviewTime"].to_numpy().astype(np.int64)})
    meta = dict(zip(range(len(cate_list)), cate_list.tolist()))
    return reviews, meta


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


def build_samples(reviews, item_category, maxlen=20, seed=0, report=None):
    """Vectorised reference preprocessing: the event sequence, each split's rows
    (:mod:`datasets.samples` records), id-space sizes and the vocabulary (raw item / category
    key of each id, index 0 = padding, and each item's category id), so that requests can
    name items by their raw asin.

    Each event after a user's first yields a positive row and a negative row (a random item
    the user never touched); a user's last event is a test row, the one before it a
    validation row, the rest train (stored in a seeded random order).

    Args:
      reviews: DataFrame of user, item, time.
      item_category: ``{item: category}``.
      maxlen: most recent history items kept.
      seed: the negatives' seed (and, plus one, the training rows' order).
      report: a Counter of what was dropped (updated).

    Returns:
      ``(sequence, splits, sizes, vocabulary)``.

    Raises:
      DataError: no user with enough events to build the splits.
    """
    report = report if report is not None else collections.Counter()
    # keys numbered once, in sorted key order, so that everything below sorts, groups and
    # compares integers (at 20M reviews the string columns' sorts and hashes were most of
    # the time); orders and results are those of the keys themselves
    user_codes, user_keys = pd.factorize(reviews["user"], sort=True)
    item_codes, all_items = pd.factorize(reviews["item"], sort=True)
    frame = pd.DataFrame({"user": user_codes, "item": item_codes,
                          "time": reviews["time"].to_numpy()})
    # a (user, item) pair reviewed twice would put the target into its own history (the
    # next event's history holds the previous copy): keep the first, count the rest
    frame = frame.sort_values(["user", "time"], kind="mergesort")
    repeated = frame.duplicated(["user", "item"], keep="first")
    if repeated.any():
        report["duplicate_user_item_reviews_dropped"] += int(repeated.sum())
        frame = frame.loc[~repeated]
    category_of_code = np.asarray([item_category.get(k) for k in all_items], dtype=object)
    unknown = pd.isna(category_of_code[frame["item"].to_numpy()])
    if unknown.any():
        report["reviews_with_item_missing_from_meta"] += int(unknown.sum())
    category_of_code[pd.isna(category_of_code)] = "unknown"
    events_of_user = np.bincount(frame["user"].to_numpy(), minlength=len(user_keys))
    short = events_of_user[frame["user"].to_numpy()] < 3
    if short.any():
        report["users_dropped_fewer_than_3_events"] += int(
            ((events_of_user > 0) & (events_of_user < 3)).sum())
        frame = frame.loc[~short]
    if frame.empty:
        raise DataError("no user has 3 or more events")
    # id 0 is padding: items and categories start at 1
    kept_items, item_index = np.unique(frame["item"].to_numpy(), return_inverse=True)
    item_keys = all_items[kept_items]
    frame["item_id"] = item_index.ravel() + 1
    cat_codes, cat_keys = pd.factorize(pd.Series(category_of_code[kept_items]), sort=True)
    item_to_cat = np.zeros(len(item_keys) + 1, dtype=np.int32)
    item_to_cat[1:] = cat_codes + 1
    frame["user_id"] = np.unique(frame["user"].to_numpy(), return_inverse=True)[1].ravel()
    frame = frame.sort_values(["user_id", "time", "item_id"], kind="mergesort")
    users = frame["user_id"].to_numpy().astype(np.int64)
    items = frame["item_id"].to_numpy().astype(np.int32)
    del frame
    n_items = len(item_keys)
    event, position, last, hist_len = samples.events(users, maxlen)
    target = items[event]
    user = users[event]
    # negatives: a random item the user never touched (vectorised rejection)
    rng = np.random.RandomState(seed)
    touched = np.unique(users * (n_items + 1) + items)

    def touched_by_user(rows):
        pairs = user[rows] * (n_items + 1) + negative[rows]
        where = np.minimum(np.searchsorted(touched, pairs), len(touched) - 1)
        return touched[where] == pairs

    negative = rng.randint(1, n_items + 1, size=len(event)).astype(np.int32)
    pending = np.arange(len(event))
    for _ in range(64):  # only the rows redrawn last round can still clash
        pending = pending[touched_by_user(pending)]
        if not len(pending):
            break
        negative[pending] = rng.randint(1, n_items + 1, size=len(pending))
    report["negatives_touched_by_user"] = int(touched_by_user(np.arange(len(event))).sum())
    del touched
    split_of = np.where(position[event] == last[event], 2,
                        np.where(position[event] == last[event] - 1, 1, 0))
    splits = {}
    for code, name in enumerate(samples.SPLITS):
        rows = np.flatnonzero(split_of == code)
        both = np.concatenate([rows, rows])
        tgt = np.concatenate([target[rows], negative[rows]])
        splits[name] = samples.records(
            user[both], event[both], hist_len[both], tgt, item_to_cat[tgt],
            np.r_[np.ones(len(rows)), np.zeros(len(rows))])
    splits["train"] = samples.shuffled(splits["train"], seed + 1)
    sizes = {"items": n_items + 1, "categories": len(cat_keys) + 1,
             "users": int(users.max()) + 1, "events": int(len(users))}
    vocab = {"items": np.asarray([""] + [str(k) for k in item_keys]),
             "categories": np.asarray([""] + [str(k) for k in cat_keys]),
             "item_category": item_to_cat}
    return items, splits, sizes, vocab


class AmazonData(object):
    """DIN's samples and what is known about them, as the task and the model use them.

    Attributes:
      splits: {split: :class:`datasets.samples.Split`} (rows read from disk in batches).
      sizes: id-space sizes (items, categories, users, events).
      maxlen: the history length.
      report: what was dropped or converted while loading (counted).
      synthetic: whether the data is the embedded generated set.
      root: the data directory.
      vocab: raw key of every id (see :func:`build_samples`).
      protocol: how rows and labels were made when it is not Amazon's (MovieLens), or None.
      item_index: raw asin -> item id (requests name items by asin).
      item_counts / category_counts: positive training events per id (the mini-batch aware
        regulariser's frequencies, counted when the samples were written). Each split
        also gets the derived column ``target_count``: the candidate's count (leave-one-out
        on training rows), the popularity feature's input.
    """

    def __init__(self, sample_set, synthetic, root, protocol=None):
        self.splits = sample_set.splits
        self.sizes = sample_set.sizes
        self.maxlen = sample_set.maxlen
        self.report = sample_set.report
        self.synthetic = synthetic
        self.root = root
        self.vocab = sample_set.vocab
        self.protocol = protocol  # how rows and labels were made, when not Amazon's
        self.item_index = {str(k): i for i, k in enumerate(self.vocab["items"]) if i}
        self.item_counts = sample_set.item_counts
        self.category_counts = sample_set.category_counts
        # the candidate's popularity as a feature: a training row's own event is not counted
        # (leave-one-out), or "count >= 1" would tell positives apart only in training
        for name, split in self.splits.items():
            split.derived["target_count"] = self._target_count(name == "train")

    def _target_count(self, leave_own_out):
        counts = self.item_counts

        def compute(batch):
            own = batch["label"] if leave_own_out else 0.0
            return (counts[batch["target_item"]] - own).astype(np.float32)

        return compute


def load(data_dir, cache_dir, maxlen=20, seed=0, on_bad_line="error", trust_pickle=False,
         log=None):
    """Samples from raw files or ``remap.pkl`` in ``data_dir``, cached by content and params.

    Args:
      data_dir: ``reviews_Electronics_5.json[.gz]`` + ``meta_Electronics.json[.gz]``, or
        ``remap.pkl`` (read by the restricted unpickler unless ``trust_pickle``).
      cache_dir: where processed samples are kept, keyed by the inputs' full content.
      maxlen: history length; seed: the negatives' seed.
      on_bad_line: ``error`` (stop, naming file and line) or ``skip`` (count and go on).
      log: a logger for what was dropped (WARNING) and where the cache is.

    Returns:
      A :class:`datasets.samples.SampleSet` (see :func:`build_samples`).

    Raises:
      UsageError: a ``maxlen`` whose batches cannot fit in memory.
      DataError: missing or ambiguous files (both ``.json`` and ``.json.gz`` with different
        contents), a malformed line or field (file and line named), a refused pickle.
    """
    if on_bad_line not in ("error", "skip"):
        raise DataError("data.on_bad_line ({!r}) must be 'error' or 'skip'".format(on_bad_line))
    reviews_path, meta_path = _find(data_dir, REVIEWS), _find(data_dir, META)
    if not (reviews_path and meta_path):  # the 2018 / 2023 releases name files by category
        reviews_path, meta_path = _find_release_files(data_dir)
    pickle_path = os.path.join(data_dir, REMAP_PICKLE)
    if reviews_path and meta_path:
        inputs = [reviews_path, meta_path]
    elif os.path.isfile(pickle_path):
        inputs = [pickle_path]
    else:
        raise DataError("{}: expected {}[.gz] and {}[.gz] (2014), CATEGORY[_5].json[.gz] and "
                        "meta_CATEGORY.json[.gz] (2018), CATEGORY.jsonl[.gz] and "
                        "meta_CATEGORY.jsonl[.gz] (2023), or {}".format(
                            data_dir, REVIEWS, META, REMAP_PICKLE))
    samples.check_maxlen(maxlen)
    params = {"maxlen": maxlen, "seed": seed, "on_bad_line": on_bad_line,
              "version": CACHE_VERSION, "samples": samples.VERSION}
    return cached_samples(os.path.join(cache_dir, "amazon-{}".format(file_key(inputs, params))),
                          lambda report: _build(inputs, pickle_path, trust_pickle, maxlen, seed,
                                                on_bad_line, report), maxlen, "amazon", log)


def _build(inputs, pickle_path, trust_pickle, maxlen, seed, on_bad_line, report):
    if len(inputs) == 2:
        reviews = read_reviews(inputs[0], on_bad_line, report)
        item_category = read_meta(inputs[1], on_bad_line, report)
    else:
        reviews, item_category = from_remap_pickle(pickle_path, trust_pickle)
    return build_samples(reviews, item_category, maxlen=maxlen, seed=seed, report=report)


def cached_samples(path, build, maxlen, name, log=None):
    """The sample set at ``path`` (content-keyed by the caller), built once with
    ``build(report)`` -> ``(sequence, splits, sizes, vocab)``: the one cache of every
    behaviour data set.

    Args:
      path: the cache folder.
      build: makes the samples; counts what it drops in the Counter it is given.
      maxlen: the history length the samples were built with.
      name: the data set's name in the log lines.
      log: a logger (where the cache is; what was altered, at WARNING, on every load).

    Returns:
      A :class:`datasets.samples.SampleSet`.
    """
    opened = samples.open_set(path)
    if opened is None:
        report = collections.Counter()
        sequence, splits, sizes, vocab = build(report)
        samples.write(path, sequence, splits, sizes, {k: int(v) for k, v in report.items()},
                      vocab, maxlen)
        opened = samples.open_set(path)
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
