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
import json
import os
import pickle
import zlib

import numpy as np
import pandas as pd

from core.errors import DataError
from datasets import progress, safe_pickle, samples

REVIEWS = "reviews_Electronics_5.json"
META = "meta_Electronics.json"
REMAP_PICKLE = "remap.pkl"
CACHE_VERSION = 6  # 6: stars as feedback, the negatives protocol

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


_SAME_TEXT = {}  # (paths, sizes and mtimes) -> whether they hold the same text


def _same_text(plain, packed, chunk=1 << 22):
    """Whether ``plain`` and the gzipped ``packed`` hold the same bytes. Remembered per
    (path, inode, size, mtime, ctime) of both: the provider's detection and the loader both ask, and on a
    release of gigabytes each answer reads both files whole."""
    try:
        stats = [(path, os.stat(path)) for path in (plain, packed)]
        key = tuple((path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                    for path, st in stats)
    except OSError:
        return False
    if key not in _SAME_TEXT:
        _SAME_TEXT[key] = _compare_text(plain, packed, chunk)
    return _SAME_TEXT[key]


def _compare_text(plain, packed, chunk):
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
    """(user, item, time, stars) of one review in any release, told apart by its fields.

    * 2014 and 2018: ``reviewerID``, ``asin``, ``unixReviewTime`` (seconds), ``overall``;
    * 2023 (Amazon Reviews 2023): ``user_id``, ``parent_asin`` (the product, not the
      variant: what the 2023 release groups by; ``asin`` when absent), ``timestamp``
      (milliseconds; only the order matters here) and ``rating``.

    The stars are the review's feedback (NaN when the record has none).
    """
    if "user_id" in record:
        item = record.get("parent_asin") or record["asin"]
        return (_key(record["user_id"], "user_id"), _key(item, "parent_asin"),
                _timestamp(record["timestamp"], "timestamp"), _stars(record.get("rating"),
                                                                     "rating"))
    return (_key(record["reviewerID"], "reviewerID"), _key(record["asin"], "asin"),
            _timestamp(record["unixReviewTime"], "unixReviewTime"),
            _stars(record.get("overall"), "overall"))


def _stars(value, what):
    """A review's stars (0 to 5; NaN when absent)."""
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("{} must be a number of stars, got {}".format(what,
                                                                     type(value).__name__))
    number = float(value)
    if not 0 <= number <= 5:
        raise ValueError("{} must be 0 to 5 stars, got {!r}".format(what, value))
    return number


def read_reviews(path, on_bad_line="error", report=None):
    """DataFrame (user, item, time) from a reviews JSON-lines file.

    Args:
      path: a reviews file (JSON lines, plain or gzip).
      on_bad_line: ``error`` or ``skip`` (counted in ``report``).
      report: a Counter of what was dropped (updated).

    Returns:
      A DataFrame with columns user, item, time, stars (NaN where a review has none).

    Raises:
      DataError: a bad line with ``on_bad_line="error"`` (file and line named).
    """
    report = report if report is not None else collections.Counter()
    users, items, times, stars = [], [], [], []
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
            user, item, stamp, star = _review_fields(record)
        except (ValueError, KeyError, TypeError, OverflowError) as err:
            _bad_line(path, number, "expected a JSON object with reviewerID, asin, "
                      "unixReviewTime and optionally overall stars (2014, 2018) or user_id, "
                      "parent_asin, timestamp and optionally rating (2023) ({})".format(err),
                      on_bad_line, report)
            continue
        users.append(user)
        items.append(item)
        times.append(stamp)
        stars.append(star)
    if not users:
        raise DataError("{}: no reviews".format(path))
    return pd.DataFrame({"user": users, "item": items, "time": np.asarray(times, np.int64),
                         "stars": np.asarray(stars, np.float64)})


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
    report["meta_asin_repeated_with_another_category"] += 0
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


NEGATIVES = ("in_split", "uniform")


def protocol(negatives, min_item_events, has_stars):
    """How Amazon-format rows, labels and negatives are made (``metrics.json``'s
    ``data.protocol``).

    Args:
      negatives: ``in_split`` or ``uniform`` (:func:`build_samples`).
      min_item_events: the k-core threshold on items (0: none).
      has_stars: whether the reviews carry stars (the history's feedback).

    Returns:
      A JSON-able dict.
    """
    drawn = {
        "in_split": "the candidate of another row of the same split (so negatives are drawn "
                    "like positives: nothing about the candidate alone, seen in training or "
                    "popular, separates the classes), never an item the user touched",
        "uniform": "a uniform random item of the catalogue the user never touched (the "
                   "paper's draw; on a log that is not k-core, new items mark positives)"}
    return {"dataset": "amazon", "label": "every review is a positive; each has one sampled "
                                          "negative",
            "negatives": "{}: {}".format(negatives, drawn[negatives]),
            "split": "by time: each user's last event is test, the one before validation, "
                     "the rest train; users with 3 or more events",
            "history": "the user's earlier reviews, most recent maxlen",
            "feedback": "the review's stars" if has_stars else "none in the files",
            "min_item_events": int(min_item_events)}


def build_samples(reviews, item_category, maxlen=20, seed=0, report=None, negatives="in_split",
                  min_item_events=0):
    """Vectorised reference preprocessing: the event sequence, each split's rows
    (:mod:`datasets.samples` records), id-space sizes, the vocabulary (raw item / category
    key of each id, index 0 = padding, and each item's category id, so that requests can
    name items by their raw asin) and each event's feedback (its stars).

    Each event after a user's first yields a positive row and a negative row; a user's last
    event is a test row, the one before it a validation row, the rest train (stored in a
    seeded random order). The negative's candidate (``negatives``):

    * ``in_split`` (default): the positive candidate of another random row of the same
      split (training rows: of the same fold of users, :func:`datasets.samples.fold_of`, so
      that the out-of-fold statistics leave a negative's source event out as they leave out
      a positive's own). Negatives are then drawn as positives are, so an item's popularity
      or "it was never seen in training" cannot tell the classes apart. With the uniform draw on a
      sparse log they can: most positives at the end of a log that is not k-core are new
      items, nearly every catalogue item was seen in training, and "the candidate never
      occurs in training" beat DIN (issue 33: AUC 0.887 on a real log).
    * ``uniform``: a random catalogue item (the paper and its reference code), for
      comparison with published numbers.

    Either way the negative is never an item the user touched (redrawn; what is left after
    64 rounds is counted in the report).

    Args:
      reviews: DataFrame of user, item, time and optionally stars.
      item_category: ``{item: category}``.
      maxlen: most recent history items kept.
      seed: the negatives' seed (and, plus one, the training rows' order).
      report: a Counter of what was dropped (updated; zero counts kept).
      negatives: ``in_split`` or ``uniform``.
      min_item_events: drop the events of items with fewer events (0: keep all), once,
        before users with fewer than 3 events are dropped.

    Returns:
      ``(sequence, splits, sizes, vocabulary, feedback)``.

    Raises:
      DataError: no user with enough events to build the splits.
    """
    if negatives not in NEGATIVES:
        raise DataError("negatives ({!r}) must be one of {}".format(negatives,
                                                                   ", ".join(NEGATIVES)))
    report = report if report is not None else collections.Counter()
    # keys numbered once, in sorted key order, so that everything below sorts, groups and
    # compares integers (at 20M reviews the string columns' sorts and hashes were most of
    # the time); orders and results are those of the keys themselves
    user_codes, user_keys = pd.factorize(reviews["user"], sort=True)
    item_codes, all_items = pd.factorize(reviews["item"], sort=True)
    stars = reviews["stars"].to_numpy(np.float64) if "stars" in reviews else \
        np.full(len(reviews), np.nan)
    frame = pd.DataFrame({"user": user_codes, "item": item_codes,
                          "time": reviews["time"].to_numpy(), "stars": stars})
    # a (user, item) pair reviewed twice would put the target into its own history (the
    # next event's history holds the previous copy): keep the first, count the rest
    frame = frame.sort_values(["user", "time"], kind="mergesort")
    repeated = frame.duplicated(["user", "item"], keep="first")
    report["duplicate_user_item_reviews_dropped"] += int(repeated.sum())
    frame = frame.loc[~repeated]
    category_of_code = np.asarray([item_category.get(k) for k in all_items], dtype=object)
    unknown = pd.isna(category_of_code[frame["item"].to_numpy()])
    report["reviews_with_item_missing_from_meta"] += int(unknown.sum())
    category_of_code[pd.isna(category_of_code)] = "unknown"
    if min_item_events > 1:
        item_events = np.bincount(frame["item"].to_numpy(), minlength=len(all_items))
        rare = item_events[frame["item"].to_numpy()] < min_item_events
        report["events_of_items_below_min_item_events_dropped"] += int(rare.sum())
        frame = frame.loc[~rare]
    events_of_user = np.bincount(frame["user"].to_numpy(), minlength=len(user_keys))
    short = events_of_user[frame["user"].to_numpy()] < 3
    report["users_dropped_fewer_than_3_events"] += int(
        ((events_of_user > 0) & (events_of_user < 3)).sum())
    frame = frame.loc[~short]
    if frame.empty:
        raise DataError("no user has 3 or more events{}: a user needs a training, a "
                        "validation and a test event".format(
                            " after dropping items with fewer than {} events".format(
                                min_item_events) if min_item_events > 1 else ""))
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
    feedback, feedback_names = samples.feedback_codes(frame["stars"].to_numpy())
    del frame
    n_items = len(item_keys)
    event, position, last, hist_len = samples.events(users, maxlen)
    prior_events, prior_positives = samples.prior_stats(users, np.ones(len(users)))
    target = items[event]
    user = users[event]
    split_of = np.where(position[event] == last[event], 2,
                        np.where(position[event] == last[event] - 1, 1, 0))
    negative = _negatives(user, target, split_of, users, items, n_items, negatives,
                          np.random.RandomState(seed), report)
    splits = {}
    for code, name in enumerate(samples.SPLITS):
        rows = np.flatnonzero(split_of == code)
        both = np.concatenate([rows, rows])
        tgt = np.concatenate([target[rows], negative[rows]])
        cat_events, cat_positives = samples.category_prior(
            users, item_to_cat[items], np.ones(len(users)), user[both], event[both],
            item_to_cat[tgt])
        splits[name] = samples.records(
            user[both], event[both], hist_len[both], tgt, item_to_cat[tgt],
            np.r_[np.ones(len(rows)), np.zeros(len(rows))], prior_events[event[both]],
            prior_positives[event[both]], cat_events, cat_positives)
    splits["train"] = samples.shuffled(splits["train"], seed + 1)
    sizes = {"items": n_items + 1, "categories": len(cat_keys) + 1,
             "users": int(users.max()) + 1, "events": int(len(users))}
    vocab = {"items": np.asarray([""] + [str(k) for k in item_keys]),
             "categories": np.asarray([""] + [str(k) for k in cat_keys]),
             "item_category": item_to_cat, "feedback": np.asarray(feedback_names),
             "feedback_liked": np.ones(len(feedback_names), np.int8)}
    return items, splits, sizes, vocab, feedback


def _negatives(user, target, split_of, users, items, n_items, how, rng, report):
    """One negative candidate per predicted event (:func:`build_samples`), vectorised:
    drawn, then the draws that hit an item the user touched redrawn, up to 64 rounds (only
    the rows redrawn last round can still clash).

    Args:
      user / target / split_of: [rows] each predicted event's user, positive candidate and
        split code.
      users / items: [events] every event's user and item (what a user touched).
      n_items: the catalogue's size (ids 1..n_items).
      how: ``in_split`` or ``uniform``.
      rng: a RandomState.
      report: a Counter (``negatives_touched_by_user``: clashes left after the rounds).

    Returns:
      int32 [rows] negative candidates.
    """
    touched = np.unique(users * (n_items + 1) + items)
    if how == "in_split":
        # rows grouped: a draw is a random row of the row's own group. Validation and test
        # are a group each; training rows are grouped by their user's fold
        # (datasets.samples.fold_of), so that a training negative's candidate, like the
        # positive's, has its source event left out of the row's out-of-fold statistics,
        # as a test negative's source (a test event) is never in the training statistics
        groups = samples.FOLDS + 2
        group = np.where(split_of == 0, samples.fold_of(user), samples.FOLDS + split_of - 1)
        order = np.argsort(group, kind="stable")
        start = np.searchsorted(group[order], np.arange(groups))
        size = np.bincount(group, minlength=groups)

    def draw(rows, uniform):
        if uniform:
            return rng.randint(1, n_items + 1, size=len(rows))
        code = group[rows]
        pick = start[code] + (rng.random_sample(len(rows)) * size[code]).astype(np.int64)
        return target[order[pick]]

    def touched_by_user(rows):
        pairs = user[rows] * (n_items + 1) + negative[rows]
        where = np.minimum(np.searchsorted(touched, pairs), len(touched) - 1)
        return touched[where] == pairs

    negative = draw(np.arange(len(user)), how == "uniform").astype(np.int32)
    pending = np.arange(len(user))
    fallback = 0
    for round_ in range(64):
        pending = pending[touched_by_user(pending)]
        if not len(pending):
            break
        # in_split: a row whose split holds only items the user touched (a tiny split)
        # would never get a negative; after 16 rounds the rest are drawn from the catalogue
        uniform = how == "uniform" or round_ >= 16
        if uniform and how != "uniform" and round_ == 16:
            fallback = len(pending)
        negative[pending] = draw(pending, uniform)
    if how == "in_split":
        report["negatives_from_the_catalogue_split_exhausted"] += int(fallback)
    report["negatives_touched_by_user"] = int(touched_by_user(np.arange(len(user))).sum())
    return negative


def detect(data_dir):
    """The Amazon inputs in ``data_dir``: ``[reviews, meta]`` or ``[remap.pkl]``, or None.

    Args:
      data_dir: a folder.

    Returns:
      The input files, or None when the folder holds no Amazon data.

    Raises:
      DataError: ambiguous files: a raw release AND ``remap.pkl`` (which one is meant?),
        several category files of one kind, or ``.json`` and ``.json.gz`` that differ.
    """
    reviews_path, meta_path = _find(data_dir, REVIEWS), _find(data_dir, META)
    if not (reviews_path and meta_path):  # the 2018 / 2023 releases name files by category
        reviews_path, meta_path = _find_release_files(data_dir)
    pickle_path = os.path.join(data_dir, REMAP_PICKLE)
    if reviews_path and meta_path and os.path.isfile(pickle_path):
        raise DataError("{}: both raw Amazon files ({}, {}) and {}: which one is meant is "
                        "ambiguous; keep one in the folder".format(
                            data_dir, os.path.basename(reviews_path),
                            os.path.basename(meta_path), REMAP_PICKLE))
    if reviews_path and meta_path:
        return [reviews_path, meta_path]
    return [pickle_path] if os.path.isfile(pickle_path) else None


def load(data_dir, cache_dir, maxlen=20, seed=0, on_bad_line="error", trust_pickle=False,
         log=None, negatives="in_split", min_item_events=0):
    """Samples from raw files or ``remap.pkl`` in ``data_dir``, cached by content and params.

    Args:
      data_dir: ``reviews_Electronics_5.json[.gz]`` + ``meta_Electronics.json[.gz]``, or
        ``remap.pkl`` (read by the restricted unpickler unless ``trust_pickle``).
      cache_dir: where processed samples are kept, keyed by the inputs' full content.
      maxlen: history length; seed: the negatives' seed.
      on_bad_line: ``error`` (stop, naming file and line) or ``skip`` (count and go on).
      log: a logger for what was dropped (WARNING) and where the cache is.
      negatives / min_item_events: the protocol (:func:`build_samples`).

    Returns:
      A :class:`datasets.samples.SampleSet` (see :func:`build_samples`; its ``protocol``
      says how it was made).

    Raises:
      UsageError: a ``maxlen`` whose batches cannot fit in memory.
      DataError: missing or ambiguous files (both ``.json`` and ``.json.gz`` with different
        contents), a malformed line or field (file and line named), a refused pickle.
    """
    if on_bad_line not in ("error", "skip"):
        raise DataError("data.on_bad_line ({!r}) must be 'error' or 'skip'".format(on_bad_line))
    inputs = detect(data_dir)
    if inputs is None:
        raise DataError("{}: expected {}[.gz] and {}[.gz] (2014), CATEGORY[_5].json[.gz] and "
                        "meta_CATEGORY.json[.gz] (2018), CATEGORY.jsonl[.gz] and "
                        "meta_CATEGORY.jsonl[.gz] (2023), or {}".format(
                            data_dir, REVIEWS, META, REMAP_PICKLE))
    if negatives not in NEGATIVES:
        raise DataError("data.negatives ({!r}) must be one of {}".format(
            negatives, ", ".join(NEGATIVES)))
    samples.check_maxlen(maxlen)
    params = {"maxlen": maxlen, "seed": seed, "on_bad_line": on_bad_line,
              "version": CACHE_VERSION, "samples": samples.VERSION, "negatives": negatives,
              "min_item_events": int(min_item_events)}

    def build(report):
        if len(inputs) == 2:
            reviews = read_reviews(inputs[0], on_bad_line, report)
            item_category = read_meta(inputs[1], on_bad_line, report)
        else:
            reviews, item_category = from_remap_pickle(inputs[0], trust_pickle)
        made = build_samples(reviews, item_category, maxlen=maxlen, seed=seed, report=report,
                             negatives=negatives, min_item_events=min_item_events)
        has_stars = bool(np.isfinite(reviews["stars"]).any()) if "stars" in reviews else False
        return made + (protocol(negatives, min_item_events, has_stars),)

    return samples.cached(os.path.join(cache_dir, "amazon-{}".format(samples.file_key(inputs, params))),
                          build, maxlen, "amazon", log)
