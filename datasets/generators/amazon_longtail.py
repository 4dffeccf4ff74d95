"""A sparse behaviour log with a real long tail: most items occur once and new items keep
arriving (what real logs that are not k-core look like), and its oracle.

Why: on the 5-core generators nearly every candidate has been seen in training, so the
catalogue-uniform negatives of the paper look like positives there. On a real sparse log
(issue 33: 84k events of 815 users over 55k items) 80 % of the positives at the end of the log
are NEW items while a uniform negative is almost always an old one, and "the candidate never
occurs in training" beat DIN. This generator reproduces that shape with a planted signal the
candidate alone cannot show: users' favourite THEMES (groups of related categories, such as
cameras, lenses and tripods) and, inside a theme, favourite categories. A history's own
categories then predict its next one (what the "category in history" rule and a simple model
on category shares see), and so do the categories it has never shown that belong to the same
themes (what a model must learn from the data: which categories go together).
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.generators import common
from datasets.generators import behaviour_files

KIND = "amazon-longtail"  # what ORACLE.npz says made the data


def generate(n_users=2000, n_themes=10, theme_size=4, interests=2, min_events=8,
             max_events=60, new_item=0.6, gzip_reviews=True, seed=0, directory=None):
    """Generate (once) Amazon-format files of a sparse, growing log; return the dir.

    The ``n_themes * theme_size`` categories form ``n_themes`` themes of ``theme_size``
    (which category is in which theme is random). Every user has ``interests`` favourite
    themes with Dirichlet(1) shares, Dirichlet(1) shares over each theme's categories, and
    ``min_events``-``max_events`` events spread over one timeline. The events are played in
    time order: each picks a theme, then a category of it by the user's shares, then with
    probability ``new_item`` an item that did not exist before (it arrives now, in that category), else
    an existing item of the category by preferential attachment (an item is picked in
    proportion to its events so far; one the user has is skipped). Most items therefore
    occur once, a few become popular, and the last events of the log are mostly new items.

    Args:
      n_users: size.
      n_themes / theme_size: themes and categories per theme.
      interests: favourite themes per user.
      min_events / max_events: events per user (uniform).
      new_item: the share of events that bring a new item.
      gzip_reviews: write the reviews gzipped.
      seed: the generator's seed.
      directory: where to write (default a content-keyed cache folder).

    Returns:
      The data directory.
    """
    params = dict(n_users=n_users, n_themes=n_themes, theme_size=theme_size,
                  interests=interests, min_events=min_events, max_events=max_events,
                  new_item=new_item, gzip_reviews=gzip_reviews, seed=seed,
                  version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "amazon-longtail-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write(tmp, **params))


def _draw(rng, shares):
    """One index per row of ``shares`` (rows of probabilities)."""
    pick = (rng.random_sample(len(shares))[:, None] > np.cumsum(shares, axis=1)).sum(axis=1)
    return np.minimum(pick, shares.shape[1] - 1)


def _write(out, n_users, n_themes, theme_size, interests, min_events, max_events, new_item,
           gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    n_categories = n_themes * theme_size
    members = rng.permutation(n_categories).reshape(n_themes, theme_size)  # theme -> cats
    sizes = rng.randint(min_events, max_events + 1, size=n_users)
    user = np.repeat(np.arange(n_users), sizes)
    favourite = np.stack([rng.choice(n_themes, size=interests, replace=False)
                          for _ in range(n_users)])
    theme_share = rng.dirichlet(np.ones(interests), size=n_users)
    category_share = rng.dirichlet(np.ones(theme_size), size=(n_users, interests))
    slot = _draw(rng, theme_share[user])
    inner = _draw(rng, category_share[user, slot])
    category = members[favourite[user, slot], inner]
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
    asins = behaviour_files.asins(rng, len(item_cat))
    lines = [behaviour_files.review(int(u), asins[i], int(t)) for u, i, t in zip(user, item, time)]
    behaviour_files.write_amazon_files(out, lines, asins, np.asarray(item_cat), gzip_reviews, version)
    theme_of = np.zeros(n_categories, np.int64)
    theme_of[members.ravel()] = np.repeat(np.arange(n_themes), theme_size)
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             interests=np.asarray(interests), theme_of=theme_of,
             asins=np.asarray(asins), item_category=np.asarray(item_cat))


def posterior(rows, theme_of_id, interests, n_themes, theme_size):
    """P(the next event's category | the history) of :func:`generate`: the theme by the
    Dirichlet posterior of :func:`behaviour_files.interest_posterior` over THEMES, then the category
    inside its theme by its own (Polya urn): ``(1 + n_c) / (theme_size + n_t)`` for a
    category seen ``n_c`` times in a theme seen ``n_t`` times.

    Args:
      rows: ``hist_cats``, ``hist_len``, ``target_cat`` columns (processed category ids).
      theme_of_id: the theme of each processed category id (-1: unknown).
      interests / n_themes / theme_size: the generator's parameters.

    Returns:
      [n] float64.
    """
    hist_cats, length = np.asarray(rows["hist_cats"]), np.asarray(rows["hist_len"])
    target_cat = np.asarray(rows["target_cat"])
    valid = np.arange(hist_cats.shape[1])[None, :] < length[:, None]
    themes = {"hist_cats": np.where(valid, theme_of_id[hist_cats], -1), "hist_len": length,
              "target_cat": theme_of_id[target_cat]}
    p_theme = behaviour_files.interest_posterior(themes, interests, n_themes)
    n_theme = ((themes["hist_cats"] == themes["target_cat"][:, None]) & valid).sum(axis=1)
    n_cat = ((hist_cats == target_cat[:, None]) & valid).sum(axis=1)
    return p_theme * (1.0 + n_cat) / (theme_size + n_theme)


def oracle(root, vocab, protocol=None):
    """The generator's own scorer at the category level: ``p(c | history) / q(c)`` with
    :func:`posterior` for ``p`` and, for ``q``, the distribution the negatives' categories
    come from: the split's positive share (``in_split``) or the catalogue's share of items
    (uniform). Against ``in_split`` negatives this is the Bayes rule (which item of the
    category is drawn does not depend on the user); against uniform negatives it ignores
    which item (new items mark positives there) and is a lower bound of the ceiling.

    Args:
      root: the data directory.
      vocab: the processed data's vocabulary (``categories``, ``item_category``).
      protocol: the data's protocol (how negatives were drawn); None: uniform.

    Returns:
      ``scorer(rows) -> scores``, or None when ``root`` was not made by :func:`generate`.
    """
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    interests, theme_of = int(saved["interests"]), saved["theme_of"]
    n_themes = int(theme_of.max()) + 1
    theme_size = len(theme_of) // n_themes
    # processed category id -> generator category, through an item of it
    item_row = behaviour_files.item_rows(saved, vocab)
    item_category = np.asarray(vocab["item_category"])
    theme_of_id = np.full(int(item_category.max()) + 1, -1, np.int64)
    known = item_row >= 0
    theme_of_id[item_category[known]] = theme_of[saved["item_category"][item_row[known]]]
    catalogue = np.bincount(item_category[1:], minlength=len(theme_of_id)).astype(np.float64)
    catalogue /= max(catalogue.sum(), 1.0)
    drawn_in_split = behaviour_files.in_split(protocol)

    def scorer(rows):
        p_cat = posterior(rows, theme_of_id, interests, n_themes, theme_size)
        if drawn_in_split:
            return p_cat / behaviour_files.split_share(rows, "target_cat")
        target_cat = np.asarray(rows["target_cat"])
        return p_cat / np.maximum(catalogue[target_cat], 1e-12)

    return scorer
