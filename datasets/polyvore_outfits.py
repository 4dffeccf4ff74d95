"""Polyvore Outfits for NGNN: a ``datasets.featurize polyvore-outfits`` output in, the training
outfits and the split's OFFICIAL questions out (:class:`datasets.outfit_data.OutfitData`).

Choices, each documented because it changes what the numbers mean:

* **Split**: ``data.split`` (``nondisjoint``, the default, or ``disjoint``) picks the folder;
  training pairs come from its ``train.json``; validation and test score its
  ``fill_in_blank_{valid,test}.json`` and ``compatibility_{valid,test}.txt`` exactly as the
  files state them: the candidates in file order, the answer put at ``blank_position``, the
  true answer the candidate of the question's own set (:mod:`datasets.outfits_release`).
  Every question is answered: an item without an image (missing or unreadable at featurize
  time) keeps a zero image vector, its text and its category, and the questions holding one
  are counted in the run's data report (``questions_with_imageless_items:<phase>``).
* **Nodes** (NGNN's categories): a fine ``category_id`` with at least
  ``data.min_category_items`` training items (distinct items of the split's training outfits)
  is a node of its own; every other category (rare, or never seen in training) joins the node
  ``other <semantic category>`` of its semantic category, so every item has a node and
  the per-category weights of a rare category are not learned from a handful of items.
* **Width**: outfits are padded to the largest outfit of the split (questions included).
  Outfits repeat categories here (two bracelets); the co-occurrence counts count such pairs.
* **Text**: the split's own vocabulary (:func:`datasets.featurize.featurize_polyvore_outfits`:
  the words of its TRAINING items); words of other splits are dropped from every item.
* **Negatives in training**: the replaced item's replacement is a random training item of
  the same SEMANTIC category, as the official questions draw their wrong answers (a random
  category would teach a shortcut the questions never reward).
* **Rules** on the same questions: co-occurrence of fine ``category_id`` and of
  ``semantic_category`` in the training outfits.
"""
from __future__ import absolute_import, division, print_function

import collections
import os

import numpy as np

from core import files
from core.errors import DataError
from core.numbers import parse_whole
from datasets import features as feature_store
from datasets import outfits_release as release
from datasets import outfit_data

ITEMS_FILE = "items.json"
CATEGORIES_FILE = "categories.json"
VOCABULARY_FILE = "vocabulary.txt"
REPORT_FILE = "featurize_report.json"
PHASE_SPLIT = {"train": "train", "valid": "validation", "test": "test"}


def is_featurized(root):
    """Whether ``root`` is a ``featurize polyvore-outfits`` output.

    Args:
      root: a folder.

    Returns:
      bool.
    """
    return os.path.isfile(os.path.join(root, ITEMS_FILE)) and os.path.isdir(
        os.path.join(root, feature_store.PACKED_DIR))


def _read_words(path):
    if not os.path.isfile(path):
        raise DataError("missing vocabulary file: {}".format(path))
    words = []
    for line_no, line in files.text_lines(path, "vocabulary file"):
        word = line.rstrip("\n").split("\t")[0]
        if not word:
            raise DataError("{}:{}: expected word<TAB>count".format(path, line_no))
        words.append(word)
    return words


def restrict_text(store, keep):
    """The store with its text limited to the words ``keep`` (store word ids, in the new id
    order): word ids outside ``keep`` are dropped from every item, the rest renumbered.

    Args:
      store: a :class:`datasets.features.FeatureStore`.
      keep: [V'] store word ids.

    Returns:
      A shallow copy of ``store`` whose ``text_ids``, ``text_len`` and ``vocab_size`` are the
      restricted ones (the image vectors are shared).
    """
    new_id = np.full(max(int(store.vocab_size), 1), -1, np.int64)
    new_id[np.asarray(keep, np.int64)] = np.arange(len(keep))
    width = store.text_ids.shape[1]
    valid = np.arange(width)[None, :] < store.text_len[:, None]
    mapped = np.where(valid, new_id[store.text_ids], -1)
    lengths = (mapped >= 0).sum(axis=1).astype(np.int32)
    order = np.argsort(mapped < 0, axis=1, kind="stable")  # kept ids first, in their order
    ids = np.take_along_axis(np.maximum(mapped, 0), order, axis=1).astype(np.int32)
    out = copy_store(store)
    out.text_ids = ids[:, :max(1, int(lengths.max(initial=0)))]
    out.text_len = lengths
    out.vocab_size = len(keep)
    return out


def copy_store(store):
    """A shallow copy of a feature store (attributes may then be replaced).

    Args:
      store: a :class:`datasets.features.FeatureStore`.

    Returns:
      The copy.
    """
    out = feature_store.FeatureStore.__new__(feature_store.FeatureStore)
    out.__dict__.update(store.__dict__)
    return out


def _nodes(train_rows, category_id, semantic, min_items):
    """The node rule (module docstring): ``(category_map {id: node}, node names, node's
    semantic index [C], semantic names)``."""
    counts = collections.Counter(category_id[r] for r in set(train_rows))
    semantics = sorted(set(semantic))
    own = sorted(c for c, n in counts.items() if n >= min_items)
    names = ["category {}".format(c) for c in own] + ["other {}".format(s) for s in semantics]
    first = {}
    for c, s in zip(category_id, semantic):
        first.setdefault(c, s)
    node = {c: i for i, c in enumerate(own)}
    category_map = {c: node.get(c, len(own) + semantics.index(s)) for c, s in first.items()}
    node_semantic = np.zeros(len(names), np.int64)
    for c, s in first.items():
        node_semantic[category_map[c]] = semantics.index(s)
    node_semantic[len(own):] = np.arange(len(semantics))
    return category_map, names, node_semantic, semantics


def load(root, split="nondisjoint", seed=0, min_category_items=100, log=None):
    """Load a featurized Polyvore Outfits folder for one split.

    Args:
      root: the ``datasets.featurize polyvore-outfits`` output.
      split: ``nondisjoint`` or ``disjoint``.
      seed: unused by the official questions (kept for the loaders' common signature).
      min_category_items: the node rule's threshold (module docstring).
      log: a logger.

    Returns:
      A :class:`datasets.outfit_data.OutfitData` with ``official`` = the split.

    Raises:
      DataError: an incomplete output, a split that was not featurized, an item of the lists
        missing from the store, a malformed question (file, line or item named).
    """
    del seed  # the questions are the release's own
    if not os.path.isfile(os.path.join(root, REPORT_FILE)):
        raise DataError("{}: no {}: the featurize run did not finish; run python -m "
                        "datasets.featurize polyvore-outfits again".format(root, REPORT_FILE))
    present = release.splits_present(root)
    if split not in present:
        raise DataError("data.split={}: {} holds only {} (featurize that split with --split "
                        "{})".format(split, root, ", ".join(present) or "no split", split))
    store = feature_store.open_packed(root)
    items_path = os.path.join(root, ITEMS_FILE)
    items = files.load_json(items_path, "featurized items")
    columns = ("keys", "category_id", "semantic_category", "has_image")
    if not isinstance(items, dict) or not all(
            isinstance(items.get(c), list) and len(items[c]) == len(store.keys) for c in columns):
        raise DataError("{}: expected {{{}}}, one list entry per feature-store row ({}); run "
                        "featurize again".format(items_path, ", ".join(columns),
                                                 len(store.keys)))
    if items["keys"] != list(store.keys):
        raise DataError("{}: its items are not the feature store's rows; run featurize "
                        "again".format(items_path))
    category_id = [parse_whole(c) for c in items["category_id"]]
    if None in category_id:
        bad = items["category_id"][category_id.index(None)]
        raise DataError("{}: category_id {!r} is not a whole number; run featurize "
                        "again".format(items_path, bad)[:300])
    semantic = [str(s) for s in items["semantic_category"]]
    has_image = np.asarray(items["has_image"], bool)

    union = _read_words(os.path.join(root, VOCABULARY_FILE))
    position = {w: i for i, w in enumerate(union)}
    own_words = _read_words(os.path.join(root, split, VOCABULARY_FILE))
    unknown = [w for w in own_words if w not in position]
    if unknown or len(union) != store.vocab_size:
        raise DataError("{}: does not match the feature store's words (e.g. {!r}); run "
                        "featurize again".format(os.path.join(root, split, VOCABULARY_FILE),
                                                 (unknown or union)[0]))
    store = restrict_text(store, [position[w] for w in own_words])

    report = collections.Counter()
    lists = {phase: release.read_outfits(root, split, phase) for phase in release.PHASES}
    for phase, outfits in lists.items():
        for set_id, members in outfits:
            for _, item_id in members:
                if item_id not in store:
                    raise DataError("{}: set {}: item {} is not in the feature store {} "
                                    "(featurized from another release?)".format(
                                        os.path.join(root, release.outfit_file(split, phase)),
                                        set_id, item_id, store.path))
    rows_of = store.rows
    train_rows = [r for _, members in lists["train"] for r in rows_of([i for _, i in members])]
    category_map, node_names, node_semantic, semantics = _nodes(
        train_rows, category_id, semantic, min_category_items)
    item_node = np.asarray([category_map[c] for c in category_id], np.int64)

    questions = {}
    for phase in release.QUESTION_PHASES:
        index = release.key_index(lists[phase])
        questions[phase] = (release.read_fitb(root, split, phase, index),
                            release.read_compatibility(root, split, phase, index))
    width = max([len(m) for o in lists.values() for _, m in o] +
                [len(q) + 1 for fitb, _ in questions.values() for q, _, _, _ in fitb] +
                [len(c) for _, compat in questions.values() for c, _ in compat])

    def as_outfits(rows_lists):
        return [(None, rows, item_node[rows].tolist()) for rows in rows_lists]

    def row_lists(outfits):
        return [rows_of([i for _, i in members]) for _, members in outfits]

    train = [rows for rows in row_lists(lists["train"]) if len(rows) >= 2]
    report["train_outfits_with_one_item_dropped"] = len(lists["train"]) - len(train)
    kept = [rows for rows in train if has_image[rows].all()]
    report["train_outfits_with_imageless_items_dropped"] = len(train) - len(kept)
    if not kept:
        raise DataError("{}: no training outfit of 2+ items whose items all have an "
                        "image".format(os.path.join(root, release.outfit_file(split, "train"))))
    identity = np.arange(len(store.keys))
    splits = {PHASE_SPLIT[p]: outfit_data.pack(as_outfits(row_lists(lists[p]) if p != "train" else
                                                 kept), identity.take, width)
              for p in release.PHASES}

    fitb, compat = {}, {}
    for phase, (fitb_q, compat_q) in questions.items():
        name = PHASE_SPLIT[phase]
        candidate_rows, answers, blanks = [], [], []
        imageless = 0
        for items_q, options, answer, blank in fitb_q:
            base = rows_of(items_q)
            choices = rows_of(options)
            imageless += int(not (has_image[base].all() and has_image[choices].all()))
            for choice in choices:
                candidate_rows.append(np.insert(base, blank, choice))
            answers.append(answer)
            blanks.append(blank)
        fitb[name] = outfit_data.pack(as_outfits(candidate_rows), identity.take, width)
        fitb[name]["answer"] = np.asarray(answers, np.int64)
        fitb[name]["blank"] = np.asarray(blanks, np.int64)
        report["questions_with_imageless_items:" + phase] = imageless
        compat_rows = [rows_of(c) for c, _ in compat_q]
        compat[name] = outfit_data.pack(as_outfits(compat_rows), identity.take, width)
        compat[name]["label"] = np.asarray([label for _, label in compat_q], np.float32)
        report["compat_outfits_with_imageless_items:" + phase] = sum(
            int(not has_image[r].all()) for r in compat_rows)
        if len(set(compat[name]["label"].tolist())) < 2:
            raise DataError("{}: every line has label {}; compatibility AUC needs both".format(
                os.path.join(root, release.compat_file(split, phase)),
                int(compat[name]["label"][0])))

    pool_rows = np.unique(np.concatenate(kept))
    pools = outfit_data.GroupPools(pool_rows, item_node[pool_rows], node_semantic[item_node[pool_rows]],
                          node_semantic, os.path.join(root, release.outfit_file(split, "train")))
    num_nodes = len(node_names)
    cooc = outfit_data.cooccurrence(splits["train"], num_nodes)
    fine_ids = sorted(set(category_id))
    item_fine = np.searchsorted(fine_ids, category_id).astype(np.int64)
    item_semantic = np.asarray([semantics.index(s) for s in semantic], np.int64)
    rules = {}
    for rule, mapping, size in (("category_cooccurrence", item_fine, len(fine_ids)),
                                ("semantic_cooccurrence", item_semantic, len(semantics))):
        train_packed = dict(splits["train"], cats=mapping[splits["train"]["items"]] *
                            (splits["train"]["mask"] > 0))
        rules[rule] = (mapping, outfit_data.cooccurrence(train_packed, size))
    report["nodes"] = num_nodes
    report["nodes_of_their_own"] = num_nodes - len(semantics)
    report["width"] = width
    report = {k: int(v) for k, v in report.items() if v}
    if log:
        log.info("polyvore outfits (%s): %d items, %d nodes (%d categories of their own, "
                 "min_category_items=%d), outfits of up to %d items; %s", split,
                 len(store.keys), num_nodes, num_nodes - len(semantics), min_category_items,
                 width, report)
    return outfit_data.OutfitData(store=store, num_categories=num_nodes, splits=splits, pools=pools,
                           cooc=cooc, fitb=fitb, compat=compat, report=report, synthetic=False,
                           root=root, category_map=category_map, width=width, rules=rules,
                           official=split)
