"""NGNN's baselines: the category co-occurrence rules and a learned simple model on the same
category statistics, scored on the model's questions.

The rules score an outfit by the mean over its item pairs of ``log(1 + count)`` of the
training outfits' categories (on Polyvore Outfits once per category field:
``category_id`` and ``semantic_category``). What a practitioner would fit next is a small
model on a few statistics of those counts: ``category_statistics`` is a logistic regression
on, per category field, the rule's mean log-count, the mean smoothed pointwise mutual
information of the pairs and the mean log-frequency of the categories (the three statistics
NGNN's own co-occurrence prior mixes, :class:`models.ngnn_layers.CooccurrencePrior`). It is
fitted like the model: on training outfits against the same corrupted outfits (one item
swapped for a random one), as pairs (a linear ranker of the difference), with each training
outfit's own pairs left out of the counts (else every training positive looks "seen").

Ties count at their expected value under a random tie-break for every scorer
(:mod:`training.infra.metrics`).
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from core.threads import one_native_thread
from datasets import outfit_data

FIT_PAIRS = 200000  # training pairs the learned baseline is fitted on (at most)


def statistics(counts, frequency, outfits, cats, mask, own=None):
    """Per outfit: the mean over its item pairs of ``log(1 + count)`` (the rule), of the
    smoothed PMI, and the mean over its items of ``log(1 + frequency)``, as
    :class:`models.ngnn_layers.CooccurrencePrior` computes them.

    Args:
      counts: [C, C] co-occurrence counts of the training outfits.
      frequency: [C] training outfits holding each category.
      outfits: how many training outfits.
      cats: [B, N] category ids. mask: [B, N] (1: a real item).
      own: [B, C] category counts of the training outfit each row comes from (left out of
        every statistic), or None.

    Returns:
      float64 [B, 3].
    """
    cats = np.asarray(cats, np.int64)
    mask = np.asarray(mask, np.float64)
    pair = counts[cats[:, :, None], cats[:, None, :]]
    freq = frequency[cats]
    total = np.full(len(cats), float(max(outfits, 1)))
    if own is not None:
        own_node = np.take_along_axis(np.asarray(own, np.float64), cats, axis=1)
        same = (cats[:, :, None] == cats[:, None, :]).astype(np.float64)
        pair = np.maximum(pair - own_node[:, :, None] * (own_node[:, None, :] - same), 0.0)
        freq = np.maximum(freq - np.minimum(own_node, 1.0), 0.0)
        total = np.maximum(total - 1.0, 1.0)
    n = cats.shape[1]
    valid = mask[:, :, None] * mask[:, None, :] * (1.0 - np.eye(n))[None]
    pairs = np.maximum(valid.sum(axis=(1, 2)), 1.0)
    p = (freq + 1.0) / (total[:, None] + float(len(frequency)))
    joint = (pair + p[:, :, None] * p[:, None, :]) / total[:, None, None]
    pmi = np.log(joint) - np.log(p)[:, :, None] - np.log(p)[:, None, :]
    rule = (np.log1p(pair) * valid).sum(axis=(1, 2)) / pairs
    association = (pmi * valid).sum(axis=(1, 2)) / pairs
    common = (np.log1p(freq) * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return np.stack([rule, association, common], axis=1)


def _own_counts(cats, mask, size):
    """[B, size] how many times each category occurs in each outfit."""
    out = np.zeros((len(cats), size))
    rows = np.repeat(np.arange(len(cats)), cats.shape[1])
    real = np.asarray(mask).ravel() > 0
    np.add.at(out, (rows[real], np.asarray(cats).ravel()[real]), 1.0)
    return out


class CategoryStatistics(object):
    """The learned simple model: a linear ranker of outfits on the category statistics of
    every rule's category field (:func:`statistics`), fitted on training pairs.

    Args:
      data: NGNN's prepared data (``splits["train"]``, ``pools``, ``rules``,
        ``num_categories``).
      seed: the training pairs' seed.
      rules: the category fields, ``{name: (store row -> category or None for the nodes,
        counts)}`` (default ``data.rules``).
    """

    def __init__(self, data, seed=0, rules=None):
        self.data = data
        self.fields = []  # (mapping, counts, frequency, outfits, size) per rule
        train = data.splits["train"]
        for _, (mapping, counts) in sorted((rules or data.rules).items()):
            size = counts.shape[0]
            cats = self._cats(mapping, train["items"], train["cats"])
            frequency = outfit_data.category_frequency({"cats": cats, "mask": train["mask"]}, size)
            self.fields.append((mapping, np.asarray(counts, np.float64), frequency,
                                len(cats), size))
        self.weights = self._fit(np.random.RandomState(seed))

    @staticmethod
    def _cats(mapping, items, cats):
        return np.asarray(cats) if mapping is None else np.asarray(mapping)[np.asarray(items)]

    def _features(self, items, cats, mask, own_from=None, chunk=16384):
        """[B, 3 * fields]: every field's statistics (``own_from``: the training outfits'
        (items, cats, mask) whose own counts are left out), ``chunk`` rows at a time (the
        pair tables are [rows, N, N])."""
        if len(items) > chunk:
            return np.concatenate([self._features(
                items[a:a + chunk], cats[a:a + chunk], mask[a:a + chunk],
                None if own_from is None else tuple(v[a:a + chunk] for v in own_from))
                for a in range(0, len(items), chunk)])
        parts = []
        for mapping, counts, frequency, outfits, size in self.fields:
            field_cats = self._cats(mapping, items, cats)
            own = None
            if own_from is not None:
                own = _own_counts(self._cats(mapping, own_from[0], own_from[1]), own_from[2],
                                  size)
            parts.append(statistics(counts, frequency, outfits, field_cats, mask, own))
        return np.concatenate(parts, axis=1)

    @one_native_thread()  # BLAS on busy cores: core/threads.py
    def _fit(self, rng):
        # imported here: scikit-learn is needed only once a run is scored
        # pylint: disable=import-outside-toplevel
        from sklearn.linear_model import LogisticRegression

        data = self.data
        train = data.splits["train"]
        pairs = outfit_data.training_samples(train, data.pools, rng)
        if len(pairs["outfit"]) > FIT_PAIRS:
            keep = np.sort(rng.choice(len(pairs["outfit"]), FIT_PAIRS, replace=False))
            pairs = {k: v[keep] for k, v in pairs.items()}
        if not len(pairs["outfit"]):
            return None
        rows = pairs["outfit"]
        items, cats, mask = train["items"][rows], train["cats"][rows], train["mask"][rows]
        own = (items, cats, mask)
        positive = self._features(items, cats, mask, own)
        slot = (np.arange(len(rows)), pairs["slot"])
        neg_items, neg_cats = items.copy(), cats.copy()
        neg_items[slot], neg_cats[slot] = pairs["neg_item"], pairs["neg_cat"]
        negative = self._features(neg_items, neg_cats, mask, own)
        difference = positive - negative
        scale = np.maximum(difference.std(axis=0), 1e-9)
        x = np.concatenate([difference, -difference]) / scale
        y = np.r_[np.ones(len(difference)), np.zeros(len(difference))]
        model = LogisticRegression(fit_intercept=False, C=1.0, max_iter=1000).fit(x, y)
        return model.coef_.ravel() / scale

    def score(self, rows):
        """Scores of outfit rows (``items``, ``cats``, ``mask``; higher = more compatible).

        Args:
          rows: the outfits.

        Returns:
          float64 [B].
        """
        if self.weights is None:
            return np.zeros(len(rows["items"]))
        return self._features(rows["items"], rows["cats"], rows["mask"]).dot(self.weights)


def fitted_prior_mix(data, seed=0):
    """The weights of NGNN's co-occurrence prior (rule, PMI, frequency of the NODE categories,
    :class:`models.ngnn_layers.CooccurrencePrior`) as the learned simple baseline fits them:
    a pairwise logistic regression on the model's own training pairs, the score difference
    under the same logistic link as the model's BPR loss. The model then starts from what the
    learned baseline knows and learns what the items add.

    Args:
      data: NGNN's prepared data (``cooc``: the node categories' counts).
      seed: the training pairs' seed.

    Returns:
      float32 [3], or None when there is nothing to fit (no training pair).
    """
    weights = CategoryStatistics(data, seed, rules={"nodes": (None, data.cooc)}).weights
    return None if weights is None else np.asarray(weights, np.float32)
