"""Polyvore outfits for NGNN: real files in, padded integer arrays and evaluation sets out.

Files (the NGNN authors' filtered split, as in ``../shared/data/polyvore``)::

    train_no_dup_new_100.json   [{set_id, items_index, items_category}, ...]
    valid_no_dup_new_100.json   optional: without it 10% of training outfits validate
    test_no_dup_new_100.json
    cid2rcid_100.json           {category id: dense index 0..C-1}
    category_summarize_100.json [{id, name, frequency, items: ["<set>_<index>", ...]}]
                                the pool that negatives and FITB candidates are drawn from
    polyvore_image_vectors[/|.zip], polyvore_text_onehot_vectors[/|.zip]  (datasets.features)

The outfits are packed, and the negative pools and evaluation questions drawn, by
:mod:`datasets.outfit_data` (shared with the Polyvore Outfits reader), which also holds the
data object this reader returns (:class:`datasets.outfit_data.OutfitData`). The 2757-d text
vectors are made from raw item names by :mod:`datasets.item_text`.
"""
from __future__ import absolute_import, division, print_function

import collections
import os

import numpy as np

from core import files
from core.errors import DataError
from core.numbers import parse_whole
from datasets import features as feature_store
from datasets.outfit_data import (
    MAX_ITEMS, OutfitData, Pools, compatibility_pairs, cooccurrence, fitb_questions, pack)

TRAIN_FILE = "train_no_dup_new_100.json"
VALID_FILE = "valid_no_dup_new_100.json"
TEST_FILE = "test_no_dup_new_100.json"
CATEGORY_MAP_FILE = "cid2rcid_100.json"
CATEGORY_POOL_FILE = "category_summarize_100.json"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def load_category_map(path):
    """``cid2rcid``: raw category id -> dense index, from its JSON file.

    Args:
      path: the ``cid2rcid_100.json``.

    Returns:
      ``{int id: int index}``.

    Raises:
      DataError: not a JSON object of integers.
    """
    raw = files.load_json(path, "category map")
    if not isinstance(raw, dict):
        raise DataError("{}: expected {{category id: dense index}}".format(path))
    mapping = {parse_whole(k): v for k, v in raw.items()}
    if None in mapping or not all(_is_int(v) for v in mapping.values()):
        raise DataError("{}: keys and values must be whole numbers (keys in ASCII "
                        "digits)".format(path))
    if sorted(mapping.values()) != list(range(len(mapping))):
        raise DataError("{}: dense indices must be 0..{} without gaps".format(
            path, len(mapping) - 1))
    return mapping


def load_outfits(path, category_map, on_bad="error", report=None):
    """Parse an outfit list into ``[(set_id, [item keys], [dense categories])]``.

    Outfits with fewer than 2 or more than 8 items, or with a category missing from the
    category map, raise a DataError naming the outfit (``on_bad="error"``) or are skipped and
    counted in ``report`` (``on_bad="skip-outfit"``).

    Args:
      path: an outfit list (``train_no_dup_new_100.json`` ...).
      category_map: :func:`load_category_map`'s mapping.
      on_bad: ``error`` or ``skip-outfit`` (counted in ``report``).
      report: a Counter (updated).

    Returns:
      The outfits.

    Raises:
      DataError: a malformed file or, with ``on_bad="error"``, a bad outfit (named).
    """
    raw = files.load_json(path, "outfit list")
    if not isinstance(raw, list):
        raise DataError("{}: expected a JSON list of outfits".format(path))
    report = report if report is not None else collections.Counter()
    outfits = []
    for position, outfit in enumerate(raw):
        try:
            set_id, indices, categories = (outfit["set_id"], outfit["items_index"],
                                           outfit["items_category"])
        except (KeyError, TypeError):
            raise DataError("{}: outfit #{} lacks set_id/items_index/items_category".format(
                path, position))
        if not _is_int(set_id) and not (isinstance(set_id, str) and set_id.strip()):
            raise DataError("{}: outfit #{}: set_id must be a string or an integer, got "
                            "{!r}".format(path, position, set_id)[:300])
        set_id = files.plain_name(set_id, "{}: outfit #{}: set_id".format(path, position))
        for name, values in (("items_index", indices), ("items_category", categories)):
            if not isinstance(values, list) or not all(_is_int(v) for v in values):
                raise DataError("{}: outfit {} (#{}): {} must be a list of integers, got "
                                "{!r}".format(path, set_id, position, name, values)[:300])
        problem = None
        if len(set(indices)) != len(indices):
            problem = "lists item index {} twice".format(
                next(i for i in indices if indices.count(i) > 1))
        elif len(indices) != len(categories):
            problem = "items_index and items_category differ in length"
        elif not 2 <= len(indices) <= MAX_ITEMS:
            problem = "has {} items; expected 2 to {}".format(len(indices), MAX_ITEMS)
        else:
            unknown = [c for c in categories if c not in category_map]
            if unknown:
                problem = "category id {} is not in the category map".format(unknown[0])
        if problem:
            if on_bad == "error":
                raise DataError("{}: outfit {} (#{}) {}. Use data.on_bad=skip-outfit to skip "
                                "such outfits (counted).".format(path, set_id, position, problem))
            report["skipped_outfits:" + os.path.basename(path)] += 1
            continue
        keys = ["{}_{}".format(set_id, i) for i in indices]
        outfits.append((set_id, keys, [category_map[c] for c in categories]))
    return outfits


def load_pools(path, category_map):
    """Category dense index -> list of item keys (the negative pool).

    Args:
      path: the ``category_summarize_100.json``.
      category_map: :func:`load_category_map`'s mapping.

    Returns:
      ``{dense category: [item keys]}``.

    Raises:
      DataError: a malformed file.
    """
    raw = files.load_json(path, "category pool")
    if not isinstance(raw, list):
        raise DataError("{}: expected a JSON list of categories".format(path))
    pools = {}
    for entry in raw:
        try:
            cid, items = entry["id"], entry["items"]
        except (KeyError, TypeError):
            cid = items = None
        if not _is_int(cid) or not isinstance(items, list) or not all(
                isinstance(i, str) for i in items):
            raise DataError("{}: each entry needs an integer id and a list of item keys "
                            "(strings), got {!r}".format(path, entry)[:300])
        if cid not in category_map:
            raise DataError("{}: category id {} is not in the category map".format(path, cid))
        pools[category_map[cid]] = items
    return pools

def load(root, cache_dir, seed=0, on_bad="error", on_missing="error", visual_dim=2048,
         vocab_size=2757, synthetic=False, distinct_categories=False, log=None):
    """Load outfits, category maps and features from ``root``; build the evaluation sets.

    Args:
      root: the split files, category maps and item features (per-item files, zips, or a
        packed ``features/`` store from ``datasets.featurize``).
      cache_dir: where packed feature stores are kept, keyed by content.
      seed: the seed of the evaluation questions' candidates.
      on_bad: ``error`` or ``skip-outfit`` for malformed outfits (bad size, unknown category).
      on_missing: ``error`` or ``skip-outfit`` for outfits with an item lacking feature files.
      visual_dim / vocab_size: expected vector sizes (a packed store brings its own).
      synthetic: whether ``root`` is the embedded generated set (recorded).
      distinct_categories: wrong candidates avoid the outfit's categories (harder).
      log: a logger for what was skipped.

    Returns:
      A :class:`datasets.outfit_data.OutfitData`.

    Raises:
      DataError: a missing or malformed file, outfit or vector, naming the file and item.
    """
    for option, value in (("on_bad", on_bad), ("on_missing", on_missing)):
        if value not in ("error", "skip-outfit"):
            raise DataError("data.{} ({!r}) must be 'error' or 'skip-outfit'".format(
                option, value))
    report = collections.Counter()
    category_map = load_category_map(os.path.join(root, CATEGORY_MAP_FILE))
    num_categories = len(category_map)
    outfits = {"train": load_outfits(os.path.join(root, TRAIN_FILE), category_map, on_bad,
                                     report),
               "test": load_outfits(os.path.join(root, TEST_FILE), category_map, on_bad, report)}
    valid_path = os.path.join(root, VALID_FILE)
    if os.path.isfile(valid_path):
        outfits["validation"] = load_outfits(valid_path, category_map, on_bad, report)
    else:
        order = np.random.RandomState(seed).permutation(len(outfits["train"]))
        n_valid = max(1, len(order) // 10)
        train = outfits["train"]
        outfits["validation"] = [train[i] for i in sorted(order[:n_valid])]
        outfits["train"] = [train[i] for i in sorted(order[n_valid:])]
        report["validation_from_train"] = n_valid
        if log:
            log.info("no %s: using %d training outfits for validation", VALID_FILE, n_valid)
    pool_keys = load_pools(os.path.join(root, CATEGORY_POOL_FILE), category_map)

    outfit_keys = {k for split in outfits.values() for _, keys, _ in split for k in keys}
    missing, _ = feature_store.missing_items(root, sorted(outfit_keys))
    if missing:
        if on_missing == "error":
            raise DataError("{} item(s) have no features, e.g. {} (looked in {}/{}, else {}/ "
                            "and {}/ or their .zip). Use data.on_missing=skip-outfit to skip "
                            "their outfits (counted).".format(
                                len(missing), missing[0], root, feature_store.PACKED_DIR,
                                feature_store.VISUAL_DIR, feature_store.TEXT_DIR))
        missing_set = set(missing)
        for name in outfits:
            kept = [o for o in outfits[name] if not missing_set.intersection(o[1])]
            report["skipped_missing_features:" + name] += len(outfits[name]) - len(kept)
            outfits[name] = kept
        outfit_keys -= missing_set
    missing_pool, _ = feature_store.missing_items(
        root, sorted({k for ks in pool_keys.values() for k in ks} - outfit_keys))
    missing_pool = set(missing_pool)
    report["pool_items_without_features"] = len(missing_pool)
    for name, split in outfits.items():
        if not split:
            raise DataError("the {} split has no usable outfits".format(name))
    pool_keys = {c: [k for k in ks if k not in missing_pool] for c, ks in pool_keys.items()}
    all_keys = sorted(outfit_keys | {k for ks in pool_keys.values() for k in ks})
    store = feature_store.build_or_open(root, all_keys, cache_dir, visual_dim=visual_dim,
                                        vocab_size=vocab_size, log=log)
    pools = Pools({c: store.rows(ks) for c, ks in pool_keys.items()}, num_categories,
                  os.path.join(root, CATEGORY_POOL_FILE))
    empty = num_categories - len(pools.categories)
    if empty:  # never drawn as a negative category; reported, not silent
        report["categories_with_empty_pool"] = int(empty)
        if log:
            log.warning("polyvore: %d categories have an empty negative pool and are never "
                        "drawn as negatives", empty)
    splits = {name: pack(split, store.rows) for name, split in outfits.items()}
    cooc = cooccurrence(splits["train"], num_categories)
    rng = np.random.RandomState(seed + 7919)  # evaluation sets: fixed by the seed, built once
    fitb = {name: fitb_questions(splits[name], pools, rng,
                                 distinct_categories=distinct_categories)
            for name in ("validation", "test")}
    compat = {name: compatibility_pairs(splits[name], pools, rng,
                                        distinct_categories=distinct_categories)
              for name in ("validation", "test")}
    if log and report:
        log.info("polyvore: %s", dict(report))
    return OutfitData(store=store, num_categories=num_categories, splits=splits, pools=pools,
                        cooc=cooc, fitb=fitb, compat=compat, report=dict(report),
                        synthetic=synthetic, root=root, category_map=category_map,
                        distinct_categories=distinct_categories)


# -- the text vocabulary step (raw Maryland Polyvore schema) ---------------------------------
