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
import tempfile
import zlib

import numpy as np
import pandas as pd

from datasets import DataError, safe_pickle

REVIEWS = "reviews_Electronics_5.json"
META = "meta_Electronics.json"
REMAP_PICKLE = "remap.pkl"
CACHE_VERSION = 3

try:
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover
    _tqdm = None


def _find(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    return None


def _lines(path):
    """(line number, text) of a plain or gzipped text file; a truncated gzip is a DataError."""
    opener = gzip.open if path.endswith(".gz") else open
    bar = None
    if _tqdm is not None and os.path.getsize(path) > 50 * 2 ** 20:  # first processing of a big file
        bar = _tqdm(desc=os.path.basename(path), unit=" lines", unit_scale=True, mininterval=1.0)
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if bar is not None and number % 10000 == 0:
                    bar.update(10000)
                yield number, raw.decode("utf-8", errors="replace")
    except (EOFError, OSError, zlib.error) as err:
        raise DataError("{}: unreadable or truncated ({})".format(path, err))
    finally:
        if bar is not None:
            bar.close()


def _bad_line(path, number, what, on_bad_line, report):
    if on_bad_line == "error":
        raise DataError("{}:{}: {}. Use data.on_bad_line=skip to skip such lines "
                        "(counted).".format(path, number, what))
    report["skipped_lines:" + os.path.basename(path)] += 1


def read_reviews(path, on_bad_line="error", report=None):
    """DataFrame (user, item, time) from a reviews JSON-lines file."""
    report = report if report is not None else collections.Counter()
    users, items, times = [], [], []
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            user, item, stamp = record["reviewerID"], record["asin"], int(record["unixReviewTime"])
        except (ValueError, KeyError, TypeError) as err:
            _bad_line(path, number, "expected a JSON object with reviewerID, asin and "
                      "unixReviewTime ({})".format(err), on_bad_line, report)
            continue
        users.append(user)
        items.append(item)
        times.append(stamp)
    if not users:
        raise DataError("{}: no reviews".format(path))
    return pd.DataFrame({"user": users, "item": items, "time": np.asarray(times, np.int64)})


def read_meta(path, on_bad_line="error", report=None):
    """{asin: category} from a meta file of Python-literal dicts (``ast.literal_eval``)."""
    report = report if report is not None else collections.Counter()
    categories = {}
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            record = ast.literal_eval(text.strip())
            asin = record["asin"]
            tree = record.get("categories") or [["unknown"]]
            category = tree[-1][-1] if tree[-1] else "unknown"
        except (ValueError, SyntaxError, KeyError, TypeError, IndexError) as err:
            _bad_line(path, number, "expected a Python dict literal with asin and categories "
                      "({})".format(type(err).__name__), on_bad_line, report)
            continue
        categories[asin] = str(category)
    return categories


def load_pickles(path, trust_pickle=False):
    """All objects pickled one after another in ``path`` (the reference dumps several), read
    through :class:`datasets.safe_pickle.RestrictedUnpickler` unless ``trust_pickle``."""
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
    cate_list = np.asarray(cate_list)
    if cate_list.ndim != 1 or len(cate_list) <= int(frame["asin"].max()):
        raise DataError("{}: category list has {} entries but item ids go up to {}".format(
            path, len(cate_list), int(frame["asin"].max())))
    reviews = pd.DataFrame({"user": frame["reviewerID"].to_numpy(),
                            "item": frame["asin"].to_numpy(),
                            "time": frame["unixReviewTime"].to_numpy().astype(np.int64)})
    meta = dict(zip(range(len(cate_list)), cate_list.tolist()))
    return reviews, meta


def _file_key(paths, params):
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update("{}:{}:{};".format(os.path.abspath(path), stat.st_size,
                                         stat.st_mtime_ns).encode())
        with open(path, "rb") as handle:  # head and tail: cheap content check
            digest.update(handle.read(1 << 16))
            handle.seek(max(0, stat.st_size - (1 << 16)))
            digest.update(handle.read())
    return digest.hexdigest()[:20]


def build_samples(reviews, item_category, maxlen=20, seed=0, report=None):
    """Vectorised reference preprocessing. Returns {split: arrays}, id-space sizes and the
    vocabulary (raw item / category key of each id, index 0 = padding, and each item's
    category id), so that requests can name items by their raw asin.

    Arrays per split: user, hist_items, hist_cats [n, maxlen],
    hist_len, target_item, target_cat, label (histories left-aligned, 0 = padding). Each event
    yields a positive and a negative row.
    """
    report = report if report is not None else collections.Counter()
    frame = reviews.copy()
    frame["category"] = frame["item"].map(item_category)
    unknown = frame["category"].isna()
    if unknown.any():
        report["reviews_with_item_missing_from_meta"] += int(unknown.sum())
        frame.loc[unknown, "category"] = "unknown"
    counts = frame.groupby("user")["item"].transform("size")
    short = counts < 3
    if short.any():
        report["users_dropped_fewer_than_3_events"] += int(frame.loc[short, "user"].nunique())
        frame = frame.loc[~short]
    if frame.empty:
        raise DataError("no user has 3 or more events")
    # id 0 is padding: items and categories start at 1
    item_codes, item_keys = pd.factorize(frame["item"], sort=True)
    frame["item_id"] = item_codes + 1
    cat_of_item_key = frame.drop_duplicates("item_id").set_index("item_id")["category"]
    cat_codes, cat_keys = pd.factorize(cat_of_item_key.sort_index(), sort=True)
    item_to_cat = np.zeros(len(item_keys) + 1, dtype=np.int32)
    item_to_cat[cat_of_item_key.sort_index().index.to_numpy()] = cat_codes + 1
    frame["user_id"] = pd.factorize(frame["user"], sort=True)[0]
    frame = frame.sort_values(["user_id", "time", "item_id"], kind="mergesort")
    users = frame["user_id"].to_numpy().astype(np.int64)
    items = frame["item_id"].to_numpy().astype(np.int32)
    n_items = len(item_keys)
    start = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    size = np.diff(np.r_[start, len(users)])
    position = np.arange(len(users)) - np.repeat(start, size)
    last = np.repeat(size, size) - 1
    event = np.flatnonzero(position >= 1)  # every prefix predicts its next event
    k = position[event]
    hist_len = np.minimum(k, maxlen)
    # left-aligned, oldest first: slot j < hist_len holds event (k - hist_len + j) of the user,
    # so the mask is tf.sequence_mask(hist_len) and the most recent item is at hist_len - 1
    slots = np.arange(maxlen)[None, :]
    index = event[:, None] - hist_len[:, None] + slots
    valid = slots < hist_len[:, None]
    hist_items = np.where(valid, items[np.clip(index, 0, len(items) - 1)], 0).astype(np.int32)
    hist_cats = item_to_cat[hist_items]
    hist_cats[~valid] = 0
    target = items[event]
    user = users[event]
    # negatives: a random item the user never touched (vectorised rejection)
    rng = np.random.RandomState(seed)
    touched = np.unique(users * (n_items + 1) + items)
    negative = rng.randint(1, n_items + 1, size=len(event)).astype(np.int32)
    for _ in range(64):
        clash = np.isin(user * (n_items + 1) + negative, touched)
        if not clash.any():
            break
        negative[clash] = rng.randint(1, n_items + 1, size=int(clash.sum()))
    report["negatives_touched_by_user"] = int(np.isin(user * (n_items + 1) + negative,
                                                      touched).sum())
    split_of = np.where(position[event] == last[event], 2,
                        np.where(position[event] == last[event] - 1, 1, 0))
    splits = {}
    for code, name in enumerate(("train", "validation", "test")):
        rows = np.flatnonzero(split_of == code)
        both = np.concatenate([rows, rows])
        tgt = np.concatenate([target[rows], negative[rows]])
        splits[name] = {
            "user": user[both].astype(np.int32),
            "hist_items": hist_items[both], "hist_cats": hist_cats[both],
            "hist_len": hist_len[both].astype(np.int32),
            "target_item": tgt.astype(np.int32), "target_cat": item_to_cat[tgt],
            "label": np.r_[np.ones(len(rows)), np.zeros(len(rows))].astype(np.float32),
        }
    sizes = {"items": n_items + 1, "categories": len(cat_keys) + 1,
             "users": int(users.max()) + 1, "events": int(len(users))}
    vocab = {"items": np.asarray([""] + [str(k) for k in item_keys]),
             "categories": np.asarray([""] + [str(k) for k in cat_keys]),
             "item_category": item_to_cat}
    return splits, sizes, vocab


def load(data_dir, cache_dir, maxlen=20, seed=0, on_bad_line="error", trust_pickle=False,
         log=None):
    """Samples from raw files or ``remap.pkl`` in ``data_dir``, cached by content and params.

    Returns (splits, sizes, report, vocab); see :func:`build_samples`.
    """
    if on_bad_line not in ("error", "skip"):
        raise DataError("data.on_bad_line ({!r}) must be 'error' or 'skip'".format(on_bad_line))
    reviews_path, meta_path = _find(data_dir, REVIEWS), _find(data_dir, META)
    pickle_path = os.path.join(data_dir, REMAP_PICKLE)
    if reviews_path and meta_path:
        inputs = [reviews_path, meta_path]
    elif os.path.isfile(pickle_path):
        inputs = [pickle_path]
    else:
        raise DataError("{}: expected {}[.gz] and {}[.gz], or {}".format(
            data_dir, REVIEWS, META, REMAP_PICKLE))
    params = {"maxlen": maxlen, "seed": seed, "on_bad_line": on_bad_line,
              "version": CACHE_VERSION}
    cache_path = os.path.join(cache_dir, "amazon-{}.npz".format(_file_key(inputs, params)))
    if os.path.isfile(cache_path):
        if log:
            log.info("amazon: cached samples %s", cache_path)
        with np.load(cache_path, allow_pickle=False) as cached:
            meta = json.loads(str(cached["meta"]))
            groups = {s: {k.split("/", 1)[1]: cached[k] for k in cached.files
                          if k.startswith(s + "/")}
                      for s in ("train", "validation", "test", "vocab")}
        vocab = groups.pop("vocab")
        return groups, meta["sizes"], meta["report"], vocab
    report = collections.Counter()
    if len(inputs) == 2:
        reviews = read_reviews(reviews_path, on_bad_line, report)
        item_category = read_meta(meta_path, on_bad_line, report)
    else:
        reviews, item_category = from_remap_pickle(pickle_path, trust_pickle)
    splits, sizes, vocab = build_samples(reviews, item_category, maxlen=maxlen, seed=seed,
                                         report=report)
    report = dict(report)
    os.makedirs(cache_dir, exist_ok=True)
    arrays = {"{}/{}".format(s, k): v for s, d in splits.items() for k, v in d.items()}
    arrays.update({"vocab/" + k: v for k, v in vocab.items()})
    arrays["meta"] = np.asarray(json.dumps({"sizes": sizes, "report": report}))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=cache_dir)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, cache_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if log:
        log.info("amazon: %s; %s", sizes, report)
    return splits, sizes, report, vocab
