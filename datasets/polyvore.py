"""Polyvore outfits for NGNN: real files in, padded integer arrays and evaluation sets out.

Files (the NGNN authors' filtered split, as in ``../shared/data/polyvore``)::

    train_no_dup_new_100.json   [{set_id, items_index, items_category}, ...]
    valid_no_dup_new_100.json   optional: without it 10% of training outfits validate
    test_no_dup_new_100.json
    cid2rcid_100.json           {category id: dense index 0..C-1}
    category_summarize_100.json [{id, name, frequency, items: ["<set>_<index>", ...]}]
                                the pool that negatives and FITB candidates are drawn from
    polyvore_image_vectors[/|.zip], polyvore_text_onehot_vectors[/|.zip]  (datasets.features)

An outfit is a row of at most 8 item slots: ``items`` (feature-store rows), ``cats`` (dense
category index) and ``mask``. Training pairs follow the original: for each outfit, one sample
per item (at most 8), in which that item is replaced by a random item of a random category.
Evaluation sets are drawn once from the seed and reused every epoch:

* FITB: one random slot of each outfit is blanked; candidates are the true item (column 0)
  plus 3 random items from random categories;
* compatibility: each outfit against a random outfit of the same size (random items of
  random categories), labels 1 / 0.

Both follow the original protocol by default. With ``distinct_categories=True`` wrong items
avoid categories already in the outfit: the original's wrong candidates can often be spotted
by a duplicated category alone, which the category co-occurrence baseline exploits.

Also here: :func:`build_vocabulary` and :func:`text_multi_hot`, the step that makes the 2757-d
multi-hot text vectors from raw Polyvore item names (the original Maryland schema), as the
paper did (words of 3+ characters seen at least 5 times).
"""
from __future__ import absolute_import, division, print_function

import collections
import os
import re

import numpy as np

from core import files
from core.errors import DataError
from core.numbers import parse_whole
from datasets import features as feature_store

MAX_ITEMS = 8
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


class Pools(object):
    """Negative pools as flat arrays, so drawing N random items is three numpy calls."""

    def __init__(self, rows_by_category, num_categories, source):
        sizes = np.zeros(num_categories, dtype=np.int64)
        chunks = []
        for c in range(num_categories):
            rows = rows_by_category.get(c, [])
            sizes[c] = len(rows)
            chunks.append(np.asarray(rows, dtype=np.int64))
        self.sizes = sizes
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.rows = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
        self.categories = np.flatnonzero(sizes > 0)
        if len(self.categories) == 0:
            raise DataError("{}: every category pool is empty".format(source))

    def draw(self, rng, n, exclude=None):
        """``n`` random (item row, category) pairs: a random non-empty category, then a
        random item of it.

        ``exclude`` ([n] or [n, k], -1 = nothing): categories not to draw for each row, e.g. the
        categories already in the outfit, so that a wrong candidate cannot be spotted by its
        duplicated category alone. Clashes are redrawn (vectorised, a few rounds).

        Args:
          rng: a ``numpy.random.RandomState``.
          n: how many.
          exclude: [n, N] categories to avoid per draw (distinct categories), or None.

        Returns:
          ``(item rows [n], categories [n])``.
        """
        cats = self.categories[rng.randint(len(self.categories), size=n)]
        if exclude is not None:
            exclude = np.asarray(exclude).reshape(n, -1)
            for _ in range(32):
                clash = (cats[:, None] == exclude).any(axis=1)
                if not clash.any():
                    break
                cats[clash] = self.categories[rng.randint(len(self.categories),
                                                          size=int(clash.sum()))]
        picks = (rng.random_sample(n) * self.sizes[cats]).astype(np.int64)
        return self.rows[self.offsets[cats] + picks], cats

    def replacements(self, rng, items, cats):
        """Training negatives for the items at ``items`` / ``cats``: the original protocol's
        random item of a random category (the arguments only give the count).

        Args:
          rng: a ``numpy.random.RandomState``.
          items / cats: [n] the replaced items and their categories.

        Returns:
          ``(item rows [n], categories [n])``.
        """
        return self.draw(rng, len(items))


class GroupPools(object):
    """Training negatives of the replaced item's own group (e.g. Polyvore Outfits' semantic
    category, as its official questions draw their wrong answers): flat arrays, drawn in a few
    numpy calls.

    Args:
      rows / cats: [n] the pool's item rows and their (node) categories.
      groups: [n] each pool item's group.
      group_of_category: [C] the group of each category.
      source: what to name in an error.

    Raises:
      DataError: an empty pool.
    """

    def __init__(self, rows, cats, groups, group_of_category, source):
        rows, cats, groups = (np.asarray(a, np.int64) for a in (rows, cats, groups))
        if not len(rows):
            raise DataError("{}: no training item to draw negatives from".format(source))
        order = np.argsort(groups, kind="stable")
        self.rows, self.cats = rows[order], cats[order]
        self.group_of_category = np.asarray(group_of_category, np.int64)
        count = max(int(groups.max()), int(self.group_of_category.max())) + 1
        self.sizes = np.bincount(groups, minlength=count)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.categories = np.unique(cats)

    def replacements(self, rng, items, cats, rounds=8):
        """A random pool item of the same group as each replaced item, redrawn (a few
        vectorised rounds) where it is the replaced item itself. An item whose group has no
        training item gets one of any group.

        Args:
          rng: a ``numpy.random.RandomState``.
          items / cats: [n] the replaced items (store rows) and their categories.
          rounds: redraw rounds for a draw equal to the replaced item.

        Returns:
          ``(item rows [n], categories [n])``.
        """
        items = np.asarray(items, np.int64)
        groups = self.group_of_category[np.asarray(cats, np.int64)]
        sizes, offsets = self.sizes[groups], self.offsets[groups]
        empty = sizes == 0
        sizes = np.where(empty, len(self.rows), sizes)
        offsets = np.where(empty, 0, offsets)
        picks = offsets + (rng.random_sample(len(items)) * sizes).astype(np.int64)
        for _ in range(rounds):
            same = (self.rows[picks] == items) & (sizes > 1)
            if not same.any():
                break
            picks[same] = offsets[same] + (rng.random_sample(int(same.sum())) *
                                           sizes[same]).astype(np.int64)
        return self.rows[picks], self.cats[picks]


def pack(outfits, rows_of, width=MAX_ITEMS):
    """Outfits -> ``items``, ``cats`` [n, width] int32 and ``mask`` [n, width] float32.

    Args:
      outfits: :func:`load_outfits`' outfits.
      rows_of: item keys -> store rows.
      width: the padded outfit size (8 for the NGNN split; the largest outfit otherwise).

    Returns:
      ``{"items", "cats", "mask"}``.
    """
    n = len(outfits)
    items = np.zeros((n, width), dtype=np.int32)
    cats = np.zeros((n, width), dtype=np.int32)
    mask = np.zeros((n, width), dtype=np.float32)
    for i, (_, keys, categories) in enumerate(outfits):
        k = len(keys)
        items[i, :k] = rows_of(keys)
        cats[i, :k] = categories
        mask[i, :k] = 1.0
    return {"items": items, "cats": cats, "mask": mask}


def cooccurrence(packed, num_categories):
    """Category co-occurrence counts [C, C] from packed training outfits: ordered pairs of
    distinct item slots, so the diagonal counts pairs of two items of one category
    (``n * (n - 1)`` for an outfit with ``n`` of them; 0 when no outfit repeats a category).

    Args:
      packed: :func:`pack`'s arrays.
      num_categories: C.

    Returns:
      [C, C] float64 counts.
    """
    cats, mask = packed["cats"], packed["mask"] > 0
    onehot = np.zeros((len(cats), num_categories), dtype=np.float64)
    rows = np.repeat(np.arange(len(cats)), cats.shape[1])[mask.ravel()]
    np.add.at(onehot, (rows, cats.ravel()[mask.ravel()]), 1.0)
    counts = onehot.T.dot(onehot)
    counts[np.diag_indices(num_categories)] -= onehot.sum(axis=0)
    return counts


def category_frequency(packed, num_categories):
    """How many of the packed outfits hold each category [C] (a repeat counts once).

    Args:
      packed: :func:`pack`'s arrays.
      num_categories: C.

    Returns:
      [C] float64 counts.
    """
    present = np.zeros((len(packed["cats"]), num_categories), dtype=bool)
    rows = np.repeat(np.arange(len(packed["cats"])),
                     packed["cats"].shape[1])[packed["mask"].ravel() > 0]
    present[rows, packed["cats"].ravel()[packed["mask"].ravel() > 0]] = True
    return present.sum(axis=0).astype(np.float64)


def training_samples(packed, pools, rng):
    """One epoch of training pairs: (outfit, slot) for every real item, plus its negative.

    Returns ``outfit``, ``slot`` (the replaced position), ``neg_item``, ``neg_cat``.

    Args:
      packed: the training outfits.
      pools: the negative pool.
      rng: a ``numpy.random.RandomState`` (the epoch's).

    Returns:
      ``{"outfit", "slot", "neg_item", "neg_cat"}`` arrays.
    """
    outfit, slot = np.nonzero(packed["mask"] > 0)
    neg_item, neg_cat = pools.replacements(rng, packed["items"][outfit, slot],
                                           packed["cats"][outfit, slot])
    return {"outfit": outfit.astype(np.int32), "slot": slot.astype(np.int32),
            "neg_item": neg_item.astype(np.int32), "neg_cat": neg_cat.astype(np.int32)}


def fitb_questions(packed, pools, rng, candidates=4, distinct_categories=False):
    """FITB as [Q * candidates] outfits; candidate 0 of each question is the true item.

    ``distinct_categories``: wrong candidates avoid the categories already in the outfit.

    Args:
      packed: the outfits asked about.
      pools: the candidates' pool.
      rng: a ``numpy.random.RandomState``.
      candidates: answers per question.
      distinct_categories: wrong candidates avoid the outfit's other categories.

    Returns:
      Packed arrays of the candidate outfits.
    """
    n = len(packed["items"])
    sizes = packed["mask"].sum(axis=1).astype(np.int64)
    blank = (rng.random_sample(n) * sizes).astype(np.int64)
    out = {k: np.repeat(v, candidates, axis=0) for k, v in packed.items()}
    exclude = None
    if distinct_categories:  # every category of the outfit, the blank's included
        present = np.where(packed["mask"] > 0, packed["cats"], -1)
        exclude = np.repeat(present, candidates - 1, axis=0)
    wrong_items, wrong_cats = pools.draw(rng, n * (candidates - 1), exclude=exclude)
    wrong_items = wrong_items.reshape(n, candidates - 1)
    wrong_cats = wrong_cats.reshape(n, candidates - 1)
    rows = np.arange(n) * candidates
    for c in range(1, candidates):
        out["items"][rows + c, blank] = wrong_items[:, c - 1]
        out["cats"][rows + c, blank] = wrong_cats[:, c - 1]
    return out


def compatibility_pairs(packed, pools, rng, distinct_categories=False):
    """Each outfit (label 1) then a random outfit of the same size (label 0).

    ``distinct_categories``: the random outfit's items come from distinct categories (slot by
    slot, each avoiding those drawn before it), like a real outfit's; otherwise each item's
    category is drawn independently, as the original does.

    Args:
      packed: the true outfits.
      pools: the random items' pool.
      rng: a ``numpy.random.RandomState``.
      distinct_categories: random outfits keep distinct categories.

    Returns:
      Packed arrays with ``label``.
    """
    n, width = packed["items"].shape
    mask = packed["mask"]
    neg_items = np.zeros((n, width), dtype=np.int64)
    neg_cats = np.full((n, width), -1, dtype=np.int64)
    for slot in range(width):  # one vectorised draw per slot over all outfits
        exclude = neg_cats[:, :slot] if (slot and distinct_categories) else None
        neg_items[:, slot], neg_cats[:, slot] = pools.draw(rng, n, exclude=exclude)
    negative = {"items": (neg_items * (mask > 0)).astype(np.int32),
                "cats": (neg_cats * (mask > 0)).astype(np.int32),
                "mask": mask.copy()}
    out = {k: np.concatenate([packed[k], negative[k]]) for k in packed}
    out["label"] = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)
    return out


class PolyvoreData(object):
    """Everything NGNN needs, loaded and validated once (keyword arguments = attributes).

    Attributes:
      store: the feature store (visual vectors, text word ids) of every item row.
      num_categories: dense category count.
      splits: {split: packed outfits} (items, cats, mask).
      pools: training items by category (negatives and FITB candidates are drawn from them).
      cooc: category co-occurrence counts of the training outfits.
      fitb / compat: {split: questions} (fill in the blank; compatibility pairs).
      report: what was skipped or converted while loading (counted).
      synthetic: whether this is the embedded generated set; root: the data directory.
      category_map: raw category id -> dense index.
      distinct_categories: how the evaluation sets were drawn.
      width: the padded outfit size of every array (8 for the NGNN split).
      rules: ``{rule name: (store row -> the rule's category [items] or None for the nodes,
        co-occurrence counts of the training outfits)}``: the co-occurrence rules scored on
        the same questions.
      official: the split whose own questions these are (Polyvore Outfits; False: drawn
        here from the seed); FITB
        sets then carry ``answer`` (the true candidate's column) and compatibility sets are
        not paired.
    """

    def __init__(self, *, store, num_categories, splits, pools, cooc, fitb, compat, report,
                 synthetic, root, category_map=None, distinct_categories=False,
                 width=MAX_ITEMS, rules=None, official=False):
        self.store = store
        self.num_categories = num_categories
        self.splits = splits
        self.pools = pools
        self.cooc = cooc
        self.fitb = fitb
        self.compat = compat
        self.report = report
        self.synthetic = synthetic
        self.root = root
        self.category_map = category_map or {}  # raw category id -> dense index
        self.distinct_categories = distinct_categories  # how the evaluation sets were drawn
        self.width = int(width)
        self.rules = rules if rules is not None else {"category_cooccurrence": (None, cooc)}
        self.official = official
        self._item_categories = None

    @property
    def item_categories(self):
        """The dense category of every store row as the outfit lists give it (-1: in no
        outfit), so that a request naming an item with another category can be refused."""
        if self._item_categories is None:
            out = np.full(len(self.store.keys), -1, np.int64)
            for packed in self.splits.values():
                real = np.asarray(packed["mask"]) > 0
                out[np.asarray(packed["items"])[real]] = np.asarray(packed["cats"])[real]
            self._item_categories = out
        return self._item_categories


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
      A :class:`PolyvoreData`.

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
    return PolyvoreData(store=store, num_categories=num_categories, splits=splits, pools=pools,
                        cooc=cooc, fitb=fitb, compat=compat, report=dict(report),
                        synthetic=synthetic, root=root, category_map=category_map,
                        distinct_categories=distinct_categories)


# -- the text vocabulary step (raw Maryland Polyvore schema) ---------------------------------
_WORD = re.compile(r"[^\W_][\w'&-]*")  # unicode letters too: "chloé", "hermès"


def tokenize(name):
    """Lower-case words of an item name (letters, digits, apostrophes, hyphens, ampersands).

    Args:
      name: an item name.

    Returns:
      A list of words.
    """
    return _WORD.findall(str(name).lower())


def build_vocabulary(paths, min_count=5, min_length=3):
    """Words of ``min_length``+ characters seen at least ``min_count`` times in item names.

    Args:
      paths: outfit files in the original Maryland schema ([{items: [{name, ...}]}]).
    Returns:
      ``[(word, count)]`` sorted by count (descending), then word.

    Raises:
      DataError: a names file that cannot be read.
    """
    names = []
    for path in paths:
        raw = files.load_json(path, "Polyvore outfit (Maryland schema)")
        for position, outfit in enumerate(raw):
            try:
                items = outfit["items"]
            except (KeyError, TypeError):
                raise DataError("{}: outfit #{} has no items list".format(path, position))
            names.extend(item.get("name", "") for item in items)
    return vocabulary_from_names(names, min_count, min_length)


def vocabulary_from_names(names, min_count=5, min_length=3):
    """:func:`build_vocabulary` on item names already read: ``[(word, count)]``, sorted by
    count (descending), then word.

    Args:
      names: item names.
      min_count, min_length: as :func:`build_vocabulary`.

    Returns:
      ``[(word, count)]``.
    """
    counts = collections.Counter()
    for name in names:
        counts.update(w for w in tokenize(name or "") if len(w) >= min_length)
    vocab = [(w, c) for w, c in counts.items() if c >= min_count]
    vocab.sort(key=lambda wc: (-wc[1], wc[0]))
    return vocab


def text_multi_hot(name, vocabulary, size=None):
    """Multi-hot vector of an item name over ``vocabulary`` ([(word, count)] or [word]).

    Args:
      name: the item name.
      vocabulary: the words.
      size: the vector length (default the vocabulary's).

    Returns:
      An int8 vector.
    """
    words = [w if isinstance(w, str) else w[0] for w in vocabulary]
    index = {w: i for i, w in enumerate(words)}
    vector = np.zeros(size or len(words), dtype=np.float32)
    for word in tokenize(name):
        if word in index:
            vector[index[word]] = 1.0
    return vector
