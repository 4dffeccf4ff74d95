"""NGNN's data object and the outfit sampling every reader of the outfit family shares.

:class:`OutfitData` is what a reader of :mod:`datasets.outfits` returns (the Maryland files'
:func:`datasets.polyvore.load`, the featurized Polyvore Outfits'
:func:`datasets.polyvore_outfits.load`): the padded outfits, the negative pools, the
evaluation questions and the feature store, plus the inputs the loop reads
(:class:`datasets.inputs.TaskData`): an epoch of training pairs, the evaluation rows with
their item vectors gathered on the host, and the run record.

An outfit is a row of at most ``width`` item slots: ``items`` (feature-store rows), ``cats``
(dense category index) and ``mask``. Training pairs follow the original: for each outfit,
one sample per item, in which that item is replaced by a random item of a random category
(:class:`Pools`) or, on Polyvore Outfits, of its own semantic group (:class:`GroupPools`).
Evaluation sets are drawn once from the seed and reused every epoch:

* FITB: one random slot of each outfit is blanked; candidates are the true item (column 0)
  plus 3 random items from random categories;
* compatibility: each outfit against a random outfit of the same size (random items of
  random categories), labels 1 / 0.

Both follow the original protocol by default. With ``distinct_categories=True`` wrong items
avoid categories already in the outfit: the original's wrong candidates can often be spotted
by a duplicated category alone, which the category co-occurrence baseline exploits.

TensorFlow is imported by the input methods only: the readers import this module, and the
featurizer reads the outfit files before it starts TensorFlow quietly (:mod:`core.quiet`).
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from core.errors import DataError
from datasets.inputs import TaskData, TrainInput

MAX_ITEMS = 8


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
      outfits: (set id, item keys, categories) per outfit, as the readers load them.
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


class OutfitData(TaskData):
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

    # -- the inputs the loop reads (datasets.inputs.TaskData) -----------------------------
    def num_train_examples(self):
        """One training pair per real item of the training outfits."""
        return int(self.splits["train"]["mask"].sum())

    def train_input(self, batch_size, epoch, seed):
        """The epoch's pairs (every item of every training outfit, each with a replacement
        drawn from the pools) in a random order of (seed, epoch); the outfits and the item
        vectors are gathered per batch on the host (:func:`datasets.tables.host_lookup`)."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from datasets import tables  # pylint: disable=import-outside-toplevel

        rng = np.random.RandomState(seed * 100003 + epoch)
        samples = training_samples(self.splits["train"], self.pools, rng)
        # the input dropout's seeds: drawn with the data (same seed and epoch, same masks;
        # a resumed run skips to the same batch and so draws the same)
        samples["noise"] = rng.randint(0, 2 ** 31 - 1, size=len(samples["outfit"]))
        order = rng.permutation(len(samples["outfit"]))
        samples = {k: v[order] for k, v in samples.items()}
        outfits = {k: tf.constant(v) for k, v in self.splits["train"].items()}
        lookup = tables.host_lookup(self.store)

        def to_pairs(batch):
            rows = batch["outfit"]
            out = {k: tf.gather(v, rows) for k, v in outfits.items()}
            # the outfits' items and their replacements in ONE host read (one Python call)
            features = lookup(tf.concat([out["items"], batch["neg_item"][:, None]], axis=1))
            out.update({k: v[:, :-1] for k, v in features.items()})
            out.update({"neg_" + k: v[:, -1] for k, v in features.items()})
            out.update(slot=batch["slot"], neg_cat=batch["neg_cat"], noise=batch["noise"])
            return out

        batches = tf.data.Dataset.from_tensor_slices(samples).batch(batch_size,
                                                                    drop_remainder=True)
        return TrainInput(batches, to_pairs)

    def eval_arrays(self, split):
        """The FITB candidate outfits, then the compatibility outfits (store rows)."""
        fitb, compat = self.fitb[split], self.compat[split]
        return {k: np.concatenate([fitb[k], compat[k]]) for k in ("items", "cats", "mask")}

    def eval_materialize(self):
        """Each batch's item vectors, read from the feature store on the host."""
        from datasets import tables  # pylint: disable=import-outside-toplevel

        lookup = tables.host_lookup(self.store)

        def with_features(batch):
            out = dict(batch)
            out.update(lookup(batch["items"]))
            return out

        return with_features

    # -- the run record -------------------------------------------------------------------
    def metric_rows(self, split):
        """FITB metrics rest on the questions, the compatibility ones on the outfits."""
        return {"fitb_questions": int(len(self.fitb[split]["items"]) // 4),
                "compat_outfits": int(len(self.compat[split]["label"]))}

    def describe(self):
        return {"synthetic": self.synthetic, "root": self.root, "items": len(self.store),
                "questions": ("the release's own ({} split)".format(self.official)
                              if self.official else "drawn from the seed"),
                "width": self.width,
                "categories": self.num_categories,
                "outfits": {k: int(len(v["items"])) for k, v in self.splits.items()},
                "features": features_record(self.store),
                "report": self.report}

    def applied_config(self, config):
        """The feature store's own dimensions (a packed store brings them: 1280 for
        EfficientNet, not the default 2048), without the generator's settings on real data
        and without the official split's settings on other data."""
        out = super(OutfitData, self).applied_config(config)
        section = out.get("data", {})
        section["visual_dim"] = int(self.store.visual_dim)
        section["vocab_size"] = int(self.store.vocab_size)
        if not self.synthetic:
            for key in ("synthetic_outfits", "synthetic_kind", "structure_dir",
                        "synthetic_layout"):
                section.pop(key, None)
        if not self.official:
            section.pop("split", None)
            section.pop("min_category_items", None)
        return out

    def vocabulary(self):
        """categories: [original category id, dense index] pairs (the per-category weights
        are indexed by the dense one); items: the feature store's keys in row order; the
        feature dimensions."""
        return {"categories": sorted([int(k), int(v)] for k, v in self.category_map.items()),
                "items": [str(k) for k in self.store.keys],
                "visual_dim": int(self.store.visual_dim),
                "vocab_size": int(self.store.vocab_size)}


def features_record(store):
    """How the item vectors were made, for ``metrics.json``: the featurizer's encoder
    (backbone, weights, precision) and dimensions, ``random_weights`` when the backbone was
    not trained (``--weights none``)."""
    encoder = dict(getattr(store, "meta", {}).get("encoder") or {})
    out = {"visual_dim": int(store.visual_dim), "vocab_size": int(store.vocab_size)}
    if encoder:
        out["encoder"] = encoder
        out["random_weights"] = str(encoder.get("weights", "")).startswith("none")
    return out
