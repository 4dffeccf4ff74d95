"""Amazon-format data with item-to-item chains (the last history item predicts the next by
id; categories are random), and its oracle.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.generators import common
from datasets.generators import behaviour_files

KIND = "amazon-transitions"  # what ORACLE.npz says made the data


def generate(n_users=6000, n_items=1000, n_categories=40, successors=3, jump=0.15,
             gzip_reviews=True, seed=0, directory=None):
    """Generate (once) Amazon-format files whose signal is item-to-item transitions.

    A different kind of signal from :func:`amazon`: categories are assigned to items at random
    and users have no favourite categories; instead every item has ``successors`` likely next
    items (weights from a Dirichlet), and a user's next event follows the chain from their last
    item (with probability ``jump`` a popularity-weighted random item instead). What predicts
    the target is the LAST item of the history, by id: a model must learn item-level relations
    (the category rules see little). Oracle: ``P(target | last item)``. The defaults give each
    (item, successor) pair ~15 observations in 6,000 users' histories: learnable from the data.

    Generate (once) Amazon-format files whose signal is item-to-item chains; return the dir.

    Args:
      n_users, n_items, n_categories: sizes.
      successors: the items each item leads to.
      jump: the share of events that ignore the chain (popularity).
      gzip_reviews: write the reviews gzipped.
      seed: the generator's seed.
      directory: where to write (default a content-keyed cache folder).

    Returns:
      The data directory.
    """
    params = dict(n_users=n_users, n_items=n_items, n_categories=n_categories,
                  successors=successors, jump=jump, gzip_reviews=gzip_reviews, seed=seed,
                  version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "amazon-transitions-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write_amazon_transitions(tmp, **params))


def _write_amazon_transitions(out, n_users, n_items, n_categories, successors, jump,
                              gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    item_cat = rng.randint(n_categories, size=n_items)
    asins = behaviour_files.asins(rng, n_items)
    popularity = rng.pareto(1.5, size=n_items) + 1.0
    popularity /= popularity.sum()
    succ = np.stack([rng.choice(n_items, size=successors, replace=False)
                     for _ in range(n_items)])
    succ_p = rng.dirichlet(np.ones(successors), size=n_items)
    lines = []
    for u in range(n_users):
        n_events = rng.randint(4, 16)
        time = 1300000000 + rng.randint(0, 10 ** 8)
        item = int(rng.choice(n_items, p=popularity))
        seen = set()
        for _ in range(n_events):
            if item not in seen:
                seen.add(item)
                time += int(rng.randint(3600, 30 * 86400))
                lines.append(behaviour_files.review(u, asins[item], time))
            if rng.random_sample() < jump:
                item = int(rng.choice(n_items, p=popularity))
            else:
                item = int(succ[item, rng.choice(successors, p=succ_p[item])])
    behaviour_files.write_amazon_files(out, lines, asins, item_cat, gzip_reviews, version)
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             asins=np.asarray(asins), successors=succ, successor_p=succ_p,
             popularity=popularity, jump=np.asarray(jump))


def oracle(root, vocab, protocol=None):
    """``P(target | the history's last item)`` of :func:`amazon_transitions`: against
    uniform negatives this ranks rows as the Bayes rule does; against ``in_split`` negatives
    (drawn by the split's positive share of each item, ``q``) the score is divided by ``q``
    (the likelihood ratio).

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
    succ, succ_p = saved["successors"], saved["successor_p"]
    popularity, jump = saved["popularity"], float(saved["jump"])
    drawn_in_split = behaviour_files.in_split(protocol)

    def scorer(rows):
        hist, length = np.asarray(rows["hist_items"]), np.asarray(rows["hist_len"])
        last = item_row[hist[np.arange(len(hist)), np.maximum(length - 1, 0)]]
        target = item_row[np.asarray(rows["target_item"])]
        known = (last >= 0) & (target >= 0) & (length > 0)
        last, target = np.where(known, last, 0), np.where(known, target, 0)
        chained = (succ_p[last] * (succ[last] == target[:, None])).sum(axis=1)
        score = jump * popularity[target] + (1.0 - jump) * chained
        if drawn_in_split:
            score = score / behaviour_files.split_share(rows, "target_item")
        return np.where(known, score, 0.0)

    return scorer
