"""The embedded DIN default: users with a few favourite categories, and its oracle.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.generators import common
from datasets.generators import behaviour_files

KIND = "amazon-interests"  # what ORACLE.npz says made the data


def generate(n_users=6000, n_items=2000, n_categories=40, interests=3, gzip_reviews=True,
             seed=0, directory=None):
    """Generate (once) Amazon-format files with a planted multi-interest signal; return the dir.

    Each user has ``interests`` favourite categories; every event is an item of one of them, so
    the part of the history in the target's category predicts the target (attention should beat
    sum pooling). Items have a popularity skew inside their category. Files:
    ``reviews_Electronics_5.json.gz`` (JSON lines) and ``meta_Electronics.json`` (Python-literal
    dicts, single-quoted, as the real dump).

    Args:
      n_users, n_items, n_categories: sizes.
      interests: favourite categories per user.
      gzip_reviews: write the reviews gzipped (as the real dump).
      seed: the generator's seed.
      directory: where to write (default a content-keyed cache folder).

    Returns:
      The data directory.
    """
    params = dict(n_users=n_users, n_items=n_items, n_categories=n_categories,
                  interests=interests, gzip_reviews=gzip_reviews, seed=seed,
                  version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "amazon-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write_amazon(tmp, **params))


def _write_amazon(out, n_users, n_items, n_categories, interests, gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    item_cat = rng.randint(n_categories, size=n_items)
    asins = behaviour_files.asins(rng, n_items)
    by_cat = [np.flatnonzero(item_cat == c) for c in range(n_categories)]
    weights = [rng.pareto(1.5, size=len(items)) + 1.0 for items in by_cat]
    weights = [w / w.sum() for w in weights]
    lines = []
    for u in range(n_users):
        favourite = rng.choice(n_categories, size=interests, replace=False)
        share = rng.dirichlet(np.ones(interests))
        n_events = rng.randint(4, 16)
        time = 1300000000 + rng.randint(0, 10 ** 8)
        seen = set()
        for _ in range(n_events):
            c = favourite[rng.choice(interests, p=share)]
            if not len(by_cat[c]):
                continue
            item = int(by_cat[c][rng.choice(len(by_cat[c]), p=weights[c])])
            if item in seen:
                continue
            seen.add(item)
            time += int(rng.randint(3600, 30 * 86400))
            lines.append(behaviour_files.review(u, asins[item], time))
    behaviour_files.write_amazon_files(out, lines, asins, item_cat, gzip_reviews, version)
    within = np.zeros(n_items, np.float64)  # an item's probability inside its category
    for c in range(n_categories):
        within[by_cat[c]] = weights[c]
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             interests=np.asarray(interests), n_categories=np.asarray(n_categories),
             asins=np.asarray(asins), within=within)


def oracle(root, vocab, protocol=None):
    """The Bayes click scorer of :func:`generate` given what a model sees: the history.

    The generator gives each user ``I`` favourite categories with Dirichlet(1) shares and
    every event is an item of a favourite category, drawn by the item's weight inside its
    category; the next event's category has :func:`.behaviour_files.interest_posterior`. A
    positive's candidate has that probability times the item's weight; against UNIFORM negatives that
    ranks rows as the Bayes rule does (up to the generator's skipping of repeated items).
    Against ``in_split`` negatives (drawn as positives are: category ``c`` with the split's
    positive share ``q_c``, then the item by the same weight) the likelihood ratio is
    ``p(c | history) / q_c``: the item's weight cancels.

    Args:
      root: the data directory.
      vocab: the processed data's vocabulary.
      protocol: the data's protocol (how negatives were drawn); None: uniform.

    Returns:
      ``scorer(rows) -> scores``, or None when ``root`` was not made by :func:`generate`.
    """
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    item_row = behaviour_files.item_rows(saved, vocab)
    interests, n_categories = int(saved["interests"]), int(saved["n_categories"])
    within = saved["within"]
    drawn_in_split = behaviour_files.in_split(protocol)

    def scorer(rows):
        p_cat = behaviour_files.interest_posterior(rows, interests, n_categories)
        if drawn_in_split:
            return p_cat / behaviour_files.split_share(rows, "target_cat")
        target = item_row[np.asarray(rows["target_item"])]
        return np.where(target >= 0, p_cat * within[np.maximum(target, 0)], 0.0)

    return scorer
