"""A sparse behaviour log with a real long tail: most items occur once and new items keep
arriving (what real logs that are not k-core look like), and its oracle.

Why: on the 5-core generators nearly every candidate has been seen in training, so the
catalogue-uniform negatives of the paper look like positives there. On a real sparse log
(issue 33: 84k events of 815 users over 55k items) 80 % of the positives at the end of the log
are NEW items while a uniform negative is almost always an old one, and "the candidate never
occurs in training" beat DIN. This generator reproduces that shape with a planted signal the
candidate alone cannot show: users' favourite categories, as in :mod:`.amazon_interests`.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.generators import common

KIND = "amazon-longtail"  # what ORACLE.npz says made the data


def generate(n_users=2000, n_categories=40, interests=3, min_events=8, max_events=60,
             new_item=0.6, gzip_reviews=True, seed=0, directory=None):
    """Generate (once) Amazon-format files of a sparse, growing log; return the dir.

    Every user has ``interests`` favourite categories with Dirichlet(1) shares and
    ``min_events``-``max_events`` events spread over one timeline. The events are played in
    time order: each picks a category from the user's favourites, then with probability
    ``new_item`` an item that did not exist before (it arrives now, in that category), else
    an existing item of the category by preferential attachment (an item is picked in
    proportion to its events so far; one the user has is skipped). Most items therefore
    occur once, a few become popular, and the last events of the log are mostly new items.

    Args:
      n_users, n_categories: sizes.
      interests: favourite categories per user.
      min_events / max_events: events per user (uniform).
      new_item: the share of events that bring a new item.
      gzip_reviews: write the reviews gzipped.
      seed: the generator's seed.
      directory: where to write (default a content-keyed cache folder).

    Returns:
      The data directory.
    """
    params = dict(n_users=n_users, n_categories=n_categories, interests=interests,
                  min_events=min_events, max_events=max_events, new_item=new_item,
                  gzip_reviews=gzip_reviews, seed=seed, version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "amazon-longtail-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write(tmp, **params))


def _write(out, n_users, n_categories, interests, min_events, max_events, new_item,
           gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    sizes = rng.randint(min_events, max_events + 1, size=n_users)
    user = np.repeat(np.arange(n_users), sizes)
    favourite = np.stack([rng.choice(n_categories, size=interests, replace=False)
                          for _ in range(n_users)])
    share = rng.dirichlet(np.ones(interests), size=n_users)
    pick = (rng.random_sample(len(user))[:, None] > np.cumsum(share[user], axis=1)).sum(axis=1)
    category = favourite[user, np.minimum(pick, interests - 1)]
    # each user's events spread over a part of one shared timeline, played in time order
    start = rng.randint(0, 6 * 10 ** 7, size=n_users)
    time = 1300000000 + start[user] + rng.randint(0, 4 * 10 ** 7, size=len(user))
    fresh = rng.random_sample(len(user)) < new_item
    draws = rng.random_sample(len(user))
    item_cat, occurrences, owned = [], [[] for _ in range(n_categories)], set()
    item = np.zeros(len(user), np.int64)
    for e in np.argsort(time, kind="stable"):  # generation only (once, cached)
        c, u = int(category[e]), int(user[e])
        pool = occurrences[c]
        chosen = -1
        if not fresh[e] and pool:
            chosen = pool[int(draws[e] * len(pool))]
            if (u, chosen) in owned:
                chosen = -1
        if chosen < 0:
            chosen = len(item_cat)
            item_cat.append(c)
        pool.append(chosen)
        owned.add((u, chosen))
        item[e] = chosen
    asins = common.asins(rng, len(item_cat))
    lines = [common.review(int(u), asins[i], int(t)) for u, i, t in zip(user, item, time)]
    common.write_amazon_files(out, lines, asins, np.asarray(item_cat), gzip_reviews, version)
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             interests=np.asarray(interests), n_categories=np.asarray(n_categories))


def oracle(root, vocab, protocol=None):
    """The generator's own scorer at the category level: ``p(c | history) / q(c)`` with
    :func:`common.interest_posterior` for ``p`` and, for ``q``, the distribution the
    negatives' categories come from: the split's positive share (``in_split``) or the
    catalogue's share of items (uniform). Against ``in_split`` negatives this is the Bayes
    rule (which item of the category is drawn does not depend on the user); against uniform
    negatives it ignores which item (new items mark positives there) and is a lower bound
    of the ceiling.

    Args:
      root: the data directory.
      vocab: the processed data's vocabulary (``item_category``).
      protocol: the data's protocol (how negatives were drawn); None: uniform.

    Returns:
      ``scorer(rows) -> scores``, or None when ``root`` was not made by :func:`generate`.
    """
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    interests, n_categories = int(saved["interests"]), int(saved["n_categories"])
    catalogue = np.bincount(np.asarray(vocab["item_category"])[1:]).astype(np.float64)
    catalogue /= max(catalogue.sum(), 1.0)
    drawn_in_split = common.in_split(protocol)

    def scorer(rows):
        p_cat = common.interest_posterior(rows, interests, n_categories)
        if drawn_in_split:
            return p_cat / common.split_share(rows, "target_cat")
        target_cat = np.asarray(rows["target_cat"])
        q = catalogue[np.minimum(target_cat, len(catalogue) - 1)]
        return p_cat / np.maximum(q, 1e-12)

    return scorer
