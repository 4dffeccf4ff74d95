"""Polyvore-format data whose signal is pairwise category compatibility, and its oracle.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets import outfit_data
from datasets.generators import common
from datasets.generators import outfit_files

KIND = "polyvore-compatibility"  # what ORACLE.npz says made the data


def generate(n_train=4000, n_valid=300, n_test=600, groups=8, per_group=5, num_styles=6,
             concentration=0.3, style_strength=1.0, noise=1.0, visual_dim=2048,
             vocab_size=2757, layout="zip", seed=0, directory=None):
    """Generate (once) Polyvore-format data whose signal is pairwise category compatibility.

    A different kind of signal from :func:`polyvore`, closer to real outfits: the categories
    (``groups`` x ``per_group``, e.g. tops, bottoms, shoes...) of an outfit are one per group
    and chosen by the outfit's style (each style prefers a few categories of each group, a
    Dirichlet(``concentration``)), so WHICH categories go together is informative (the
    co-occurrence rule is strong, as on real data), and the style also shows in every item's
    image vector (``style_strength`` against ``noise``) and words. Defaults: 4,000 training
    outfits, the issue's realistic size; ``n_train`` makes the learning curve.

    Args:
      n_train, n_valid, n_test: outfits per split.
      groups, per_group: the category layout.
      num_styles: latent styles.
      concentration: the Dirichlet of each style's category preferences.
      style_strength, noise: the style's weight in image vectors against noise.
      visual_dim, vocab_size: vector lengths.
      layout: ``zip`` or ``dir``.
      seed: the generator's seed.
      directory: where to write (default a content-keyed cache folder).

    Returns:
      The data directory.
    """
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test, groups=groups,
                  per_group=per_group, num_styles=num_styles, concentration=concentration,
                  style_strength=style_strength, noise=noise, visual_dim=visual_dim,
                  vocab_size=vocab_size, layout=layout, seed=seed, version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "polyvore-compat-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write_polyvore_compatibility(tmp, **params))


def _write_polyvore_compatibility(out, n_train, n_valid, n_test, groups, per_group, num_styles,
                                  concentration, style_strength, noise, visual_dim, vocab_size,
                                  layout, seed, version):
    rng = np.random.RandomState(seed)
    num_categories = groups * per_group
    category_ids = sorted(rng.choice(np.arange(2, 5000), size=num_categories, replace=False))
    group_of = np.repeat(np.arange(groups), per_group)
    # pref[s, c]: P(category c | style s, its group), each group's row sums to 1
    pref = rng.dirichlet(np.full(per_group, concentration), size=(num_styles, groups))
    pref = pref.reshape(num_styles, num_categories)
    style_visual = rng.normal(0.0, 1.0, size=(num_styles, visual_dim))
    category_visual = rng.normal(0.0, 1.0, size=(num_categories, visual_dim))
    style_words = [rng.choice(vocab_size, size=12, replace=False) for _ in range(num_styles)]
    category_words = [rng.choice(vocab_size, size=6, replace=False)
                      for _ in range(num_categories)]
    visual, text, splits, styles = {}, {}, {}, {}
    pools = {c: [] for c in range(num_categories)}
    set_id = 200000000
    for name, count in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        outfits = []
        for _ in range(count):
            set_id += int(rng.randint(1, 500))
            style = rng.randint(num_styles)
            size = rng.randint(3, min(groups, outfit_data.MAX_ITEMS) + 1)
            chosen = rng.choice(groups, size=size, replace=False)
            cats = [int(g * per_group + rng.choice(per_group, p=pref[style, g * per_group:
                                                                      (g + 1) * per_group]))
                    for g in chosen]
            entry = {"set_id": str(set_id), "items_index": list(range(1, size + 1)),
                     "items_category": [int(category_ids[c]) for c in cats]}
            for index, c in zip(entry["items_index"], cats):
                key = "{}_{}".format(set_id, index)
                vector = (style_strength * style_visual[style] + 0.5 * category_visual[c]
                          + rng.normal(0.0, noise, size=visual_dim))
                visual[key] = (0.3 * np.maximum(vector, 0.0)).astype(np.float32)
                hot = np.zeros(vocab_size, dtype=np.int8)
                hot[rng.choice(style_words[style], size=2, replace=False)] = 1
                hot[rng.choice(category_words[c], size=2, replace=False)] = 1
                hot[rng.choice(vocab_size, size=2, replace=False)] = 1
                text[key] = hot
                styles[key] = style
                if name == "train":
                    pools[c].append(key)
            outfits.append(entry)
        splits[name] = outfits
    outfit_files.write_polyvore_files(out, splits, pools, category_ids, visual, text, layout, version)
    keys = sorted(styles)
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             keys=np.asarray(keys), style=np.asarray([styles[k] for k in keys], np.int64),
             num_styles=np.asarray(num_styles), groups=np.asarray(groups),
             group_of=group_of, pref=pref)


def oracle(root, store_keys, num_categories, distinct_categories=False):
    """The generator's own outfit scorer, or None when ``root`` was not made by :func:`generate`.

    Args:
      root: the data directory.
      store_keys: the item key of each feature-store row.
      num_categories: categories of the data.
      distinct_categories: unused (one category per group keeps them distinct already).

    Returns:
      ``scorer(items, cats, mask) -> scores``: the log-likelihood ratio of "a true outfit"
      over "a random outfit" given each item's TRUE style: ``-log S - log G!/(G-n)! + n log C
      + sum_i log sum_s pref[s, c_i]`` (0 for a repeated group; the style's own preferences
      cancel against the random item's style odds); -1e9 for an outfit that mixes styles.
    """
    del distinct_categories
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    single_style = outfit_files.style_scorer_parts(saved, store_keys)
    log_s = np.log(float(saved["num_styles"]))
    log_c = np.log(float(num_categories))
    groups = int(saved["groups"])
    mass = np.log(saved["pref"].sum(axis=0))

    def scorer(items, cats, mask):
        mask = np.asarray(mask) > 0
        cats = np.asarray(cats)
        n = mask.sum(axis=1)
        valid = single_style(items, mask)
        score = (-log_s - outfit_files.log_falling(groups, mask.shape[1])[np.minimum(n, groups)]
                 + n * log_c + (mass[cats] * mask).sum(axis=1))
        valid &= ~outfit_files.repeated(saved["group_of"][cats], mask) & (n <= groups)
        return np.where(valid, score, -1e9)

    return scorer
