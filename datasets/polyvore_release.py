"""The public Polyvore release (Maryland schema) -> NGNN's filtered split and item text.

The release (Han et al. 2017) ships ``train_no_dup.json``, ``valid_no_dup.json`` and
``test_no_dup.json``: lists of outfits ``{set_id, items: [{index, name, price, likes, image,
categoryid}, ...]}``, and the item images as ``images/<set_id>/<index>.jpg``. NGNN's authors
trained on a filtered split of it (``train_no_dup_new_100.json`` etc.) whose building script was
never published. This module reads the release, either takes that split as given
(:func:`read_ngnn_split`) or rebuilds it by the same rule (:func:`filtered_split`), and turns
item names into the word-id lists the feature store keeps (:func:`text_word_ids`).

Everything here is plain Python/numpy: it runs once, before any model exists.
"""
from __future__ import absolute_import, division, print_function

import collections
import os

import numpy as np

from core import files
from core.errors import DataError
from core.numbers import parse_whole
from datasets import item_text, outfit_data
from datasets import polyvore as pv

RELEASE_FILES = (("train", "train_no_dup.json"), ("validation", "valid_no_dup.json"),
                 ("test", "test_no_dup.json"))
SPLIT_FILES = (("train", pv.TRAIN_FILE), ("validation", pv.VALID_FILE), ("test", pv.TEST_FILE))
CATEGORY_NAMES_FILE = "category_id.txt"

#: One item of the release. ``name`` is None when the release gives no usable name.
Item = collections.namedtuple("Item", "key set_id index name category where")

#: One outfit in NGNN's split format: raw category ids, item indices within the set.
Outfit = collections.namedtuple("Outfit", "set_id indices categories")


def item_key(set_id, index):
    """The key NGNN's files use for an item: ``<set_id>_<index>``.

    Args:
      set_id: the outfit's id.
      index: the item's index in it.

    Returns:
      A string.
    """
    return "{}_{}".format(set_id, index)


def read_release(outfits_dir, on_bad="error", report=None):
    """Read the release's outfit files.

    Args:
      outfits_dir: folder holding ``train_no_dup.json`` and ``test_no_dup.json``
        (``valid_no_dup.json`` optional).
      on_bad: ``error`` stops at a malformed outfit or item; ``skip`` counts it in ``report``.
    Returns:
      ``(outfits, items)``: ``{split: [Outfit]}`` and ``{key: Item}`` over all splits. An item
      whose name is missing, empty or not a string keeps ``name=None`` (the caller decides).
    Raises:
      DataError: a missing train/test file, invalid JSON, or (``on_bad="error"``) an outfit
        without ``set_id``/``items`` or an item without an integer ``index``/``categoryid``;
        the message names the file and the outfit's position.
    """
    report = report if report is not None else collections.Counter()
    outfits, items = {}, {}
    seen = {}  # set_id -> where it was first read: a second outfit with it is an error
    for split, name in RELEASE_FILES:
        path = os.path.join(outfits_dir, name)
        if split == "validation" and not os.path.isfile(path):
            continue
        raw = files.load_json(path, "Polyvore release outfit list")
        if not isinstance(raw, list):
            raise DataError("{}: expected a JSON list of outfits".format(path))
        outfits[split] = []
        for position, entry in enumerate(raw):
            try:
                outfit = _parse_outfit(entry, path, position, items, seen)
            except DataError:
                if on_bad == "error":
                    raise
                report["malformed_outfits_skipped"] += 1
                continue
            outfits[split].append(outfit)
    return outfits, items


def _integer(value):
    """An int from the release's JSON (an int, or a string of digits), else None: a float
    such as 1.9 is refused, never truncated."""
    return parse_whole(value)


def _parse_outfit(entry, path, position, items, seen):
    where = "{}: outfit #{}".format(path, position)
    if not isinstance(entry, dict) or "set_id" not in entry or not isinstance(
            entry.get("items"), list):
        raise DataError("{} needs 'set_id' and an 'items' list (the release's schema). Use "
                        "--on-bad skip to skip it (counted).".format(where))
    set_id = entry["set_id"]
    if isinstance(set_id, bool) or not isinstance(set_id, (str, int)):
        raise DataError("{}: set_id must be a string or an integer, got {} {!r}".format(
            where, type(set_id).__name__, set_id)[:300])
    set_id = files.plain_name(set_id, where + ": set_id")
    if set_id in seen:
        raise DataError("{}: set_id {} is also the id of {}; each outfit needs its own id "
                        "(its items' names and images are keyed by it). Use --on-bad skip to "
                        "skip the later one (counted).".format(where, set_id, seen[set_id]))
    indices, categories = [], []
    for slot, raw in enumerate(entry["items"]):
        index = _integer(raw.get("index")) if isinstance(raw, dict) else None
        category = _integer(raw.get("categoryid")) if isinstance(raw, dict) else None
        if index is None or category is None:
            raise DataError("{} (set {}), item #{}: needs integer 'index' and 'categoryid', "
                            "got {!r} and {!r}. Use --on-bad skip to skip the outfit "
                            "(counted).".format(where, set_id, slot,
                                                raw.get("index") if isinstance(raw, dict) else raw,
                                                raw.get("categoryid") if isinstance(raw, dict)
                                                else None)[:400])
        name = raw.get("name")
        name = name.strip() if isinstance(name, str) and name.strip() else None
        key = item_key(set_id, index)
        items[key] = Item(key, set_id, index, name, category,
                          "{} (set {}), item {}".format(where, set_id, index))
        indices.append(index)
        categories.append(category)
    seen[set_id] = where
    return Outfit(set_id, indices, categories)


def filtered_split(release, min_category_items=100, min_items=3, max_items=outfit_data.MAX_ITEMS,
                   category_names=None):
    """Rebuild NGNN's filtered split from the release, by the rule of the authors' files.

    Rule: keep the categories with at least ``min_category_items`` items in the release's
    TRAINING outfits; drop every other item from every outfit; keep the outfits left with
    ``min_items``..``max_items`` items. Categories are indexed 0..C-1 in increasing id order.
    The negative pool of a category is its items in the kept training outfits (its
    ``frequency`` in ``category_summarize_100.json``; the authors' file matches this: each
    frequency equals its item count, the smallest 26 after outfit filtering).

    Args:
      release: :func:`read_release`'s outfits and items.
      min_category_items: categories with fewer training items are dropped.
      min_items, max_items: outfit sizes kept.
      category_names: ``{id: name}`` for the summary.

    Returns:
      ``(outfits, cid2rcid, summary)``: ``{split: [Outfit]}`` (validation only when the release
      has it), ``{category id: dense index}``, and the ``category_summarize`` entries.

    Raises:
      DataError: nothing is left after filtering.
    """
    counts = collections.Counter(c for o in release["train"] for c in o.categories)
    kept = sorted(c for c, n in counts.items() if n >= min_category_items)
    if not kept:
        raise DataError("no category has {}+ items in the release's training outfits; lower "
                        "--min-category-items".format(min_category_items))
    cid2rcid = {c: i for i, c in enumerate(kept)}
    outfits = {}
    for split, rows in release.items():
        outfits[split] = []
        for outfit in rows:
            pairs = [(i, c) for i, c in zip(outfit.indices, outfit.categories) if c in cid2rcid]
            if min_items <= len(pairs) <= max_items:
                outfits[split].append(Outfit(outfit.set_id, [i for i, _ in pairs],
                                             [c for _, c in pairs]))
    return outfits, cid2rcid, pool_summary(outfits["train"], cid2rcid, category_names)


def pool_summary(train_outfits, cid2rcid, category_names=None):
    """``category_summarize`` entries: each category's items in ``train_outfits``.

    Args:
      train_outfits: the training outfits.
      cid2rcid: raw category id -> dense index.
      category_names: ``{id: name}``.

    Returns:
      A list of ``{"id", "name", "frequency", "items"}``.
    """
    pools = collections.OrderedDict((c, []) for c in sorted(cid2rcid, key=cid2rcid.get))
    for outfit in train_outfits:
        for index, category in zip(outfit.indices, outfit.categories):
            pools[category].append(item_key(outfit.set_id, index))
    names = category_names or {}
    return [{"id": c, "name": names.get(c, str(c)), "frequency": len(keys), "items": keys}
            for c, keys in pools.items()]


def read_ngnn_split(split_dir):
    """The authors' split files as given: ``({split: [Outfit]}, cid2rcid, summary)``.

    Validated by the same code that reads them for training (:func:`datasets.polyvore.
    load_outfits`), so a file that would fail there fails here, naming it.

    Args:
      split_dir: the folder of the authors' files.

    Returns:
      ``(outfits, cid2rcid, summary)``.
    """
    cid2rcid = pv.load_category_map(os.path.join(split_dir, pv.CATEGORY_MAP_FILE))
    summary_path = os.path.join(split_dir, pv.CATEGORY_POOL_FILE)
    pv.load_pools(summary_path, cid2rcid)  # validates ids and shapes
    summary = files.load_json(summary_path, "category pool")
    dense_to_raw = {v: k for k, v in cid2rcid.items()}
    outfits = {}
    for split, name in SPLIT_FILES:
        path = os.path.join(split_dir, name)
        if split == "validation" and not os.path.isfile(path):
            continue
        outfits[split] = [
            Outfit(set_id, [int(k.rsplit("_", 1)[1]) for k in keys],
                   [dense_to_raw[c] for c in cats])
            for set_id, keys, cats in pv.load_outfits(path, cid2rcid)]
    return outfits, cid2rcid, summary


def read_category_names(*folders):
    """``{category id: name}`` from the first ``category_id.txt`` found (``id name`` lines).

    Args:
      *folders: where to look.

    Returns:
      ``{id: name}`` (empty when none is found).
    """
    for folder in folders:
        path = os.path.join(folder, CATEGORY_NAMES_FILE) if folder else ""
        if path and os.path.isfile(path):
            names = {}
            for _, line in files.text_lines(path, "category names file"):
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and parse_whole(parts[0]) is not None:
                    names[parse_whole(parts[0])] = parts[1]
            return names
    return {}


def read_vocabulary(path):
    """Words of a vocabulary file, one per line, an optional count after the word (the
    format of ``final_word_dict.txt``); order kept: a word's line number is its id.

    Args:
      path: the vocabulary file.

    Returns:
      The words in order.

    Raises:
      DataError: an unreadable or empty file, or a malformed line (named).
    """
    if not os.path.isfile(path):
        raise DataError("--vocab {}: no such file".format(path))
    words = []
    for number, line in files.text_lines(path, "vocabulary file"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2 or (len(parts) == 2 and parse_whole(parts[1]) is None):
            raise DataError("{}, line {}: expected 'word' or 'word count', got {!r}".format(
                path, number, line.rstrip("\n")))
        words.append(parts[0].lower())
    if not words:
        raise DataError("{}: the vocabulary is empty".format(path))
    if len(set(words)) != len(words):
        dup = [w for w, n in collections.Counter(words).items() if n > 1][0]
        raise DataError("{}: word {!r} is listed twice".format(path, dup))
    return words


def text_word_ids(names, words, mode="multi-hot"):
    """Word-id lists of item names over a vocabulary, padded for the feature store.

    Args:
      names: item names (already checked to be non-empty strings).
      words: the vocabulary in id order.
      mode: ``multi-hot`` (every in-vocabulary word, ids sorted, each once) or ``last-word``:
        the original preprocessing re-creates the vector for each word, so an item keeps only
        the one-hot of its LAST in-vocabulary word; offered to reproduce the paper's inputs.
    Returns:
      ``(ids [n, width] int32, lengths [n] int32)``, ``width`` >= 1.

    Raises:
      DataError: an unknown ``mode``.
    """
    if mode not in ("multi-hot", "last-word"):
        raise DataError("text mode {!r} must be multi-hot or last-word".format(mode))
    index = {w: i for i, w in enumerate(words)}
    lists = []
    for name in names:
        found = [index[w] for w in item_text.tokenize(name) if w in index]
        if mode == "last-word":
            lists.append(found[-1:])
        else:
            lists.append(sorted(set(found)))
    width = max([1] + [len(ids) for ids in lists])
    ids = np.zeros((len(lists), width), dtype=np.int32)
    lengths = np.zeros(len(lists), dtype=np.int32)
    for row, found in enumerate(lists):
        ids[row, :len(found)] = found
        lengths[row] = len(found)
    return ids, lengths
