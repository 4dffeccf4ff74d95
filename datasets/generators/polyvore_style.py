"""The embedded NGNN default: outfits whose items share a latent style, and its oracle.

Outfits of 3-8 items of distinct categories (chosen uniformly, so the category co-occurrence
rule gets little signal); all items of one outfit share a latent style, which shows in their
2048-d visual vectors and in the words of their 2757-d multi-hot text vectors. A random
replacement item usually has another style, so a model that compares items within an outfit
can tell true outfits from corrupted ones.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.generators import common
from datasets.generators import outfit_files

KIND = "polyvore-style"  # what ORACLE.npz says made the data


def generate(n_train=1000, n_valid=500, n_test=500, num_categories=12, num_styles=4,
             visual_dim=2048, vocab_size=2757, layout="zip", seed=0, directory=None):
    """Generate (once) a Polyvore-format data directory; return its path.

    Args:
      n_valid / n_test: 500 each, so that a test metric's sampling error (pairwise accuracy:
        ~0.016) is below the differences the README reports (150 gave ~0.03).
      layout: ``zip`` (feature archives) or ``dir`` (one JSON file per item in folders).
      directory: where to write; default a content-keyed folder under :func:`cache_root`.

    Returns:
      The data directory.
    """
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test,
                  num_categories=num_categories, num_styles=num_styles, visual_dim=visual_dim,
                  vocab_size=vocab_size, layout=layout, seed=seed, version=common.GENERATOR_VERSION)
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "polyvore-" + common.params_key(params))
    return common.atomic_build(target, lambda tmp: _write_polyvore(tmp, **params))


def _write_polyvore(out, n_train, n_valid, n_test, num_categories, num_styles, visual_dim,
                    vocab_size, layout, seed, version):
    rng = np.random.RandomState(seed)
    # Real-looking sparse category ids, mapped to dense indices like cid2rcid_100.json.
    category_ids = sorted(rng.choice(np.arange(2, 5000), size=num_categories, replace=False))
    style_visual = rng.normal(0.0, 1.0, size=(num_styles, visual_dim)).astype(np.float32)
    category_visual = rng.normal(0.0, 1.0, size=(num_categories, visual_dim)).astype(np.float32)
    style_words = [rng.choice(vocab_size, size=12, replace=False) for _ in range(num_styles)]
    category_words = [rng.choice(vocab_size, size=6, replace=False)
                      for _ in range(num_categories)]

    visual, text, splits, pools = {}, {}, {}, {c: [] for c in range(num_categories)}
    styles = {}
    set_id = 100000000
    for name, count in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        outfits = []
        for _ in range(count):
            set_id += int(rng.randint(1, 500))
            style = rng.randint(num_styles)
            size = min(rng.randint(3, 9), num_categories)
            # distinct categories, uniformly: the category co-occurrence baseline gets little
            # signal, so what a model gains over it comes from the item features (style).
            cats = [int(c) for c in rng.choice(num_categories, size=size, replace=False)]
            entry = {"set_id": str(set_id), "items_index": list(range(1, size + 1)),
                     "items_category": [int(category_ids[c]) for c in cats]}
            for index, c in zip(entry["items_index"], cats):
                key = "{}_{}".format(set_id, index)
                vector = (1.5 * style_visual[style] + 0.5 * category_visual[c]
                          + rng.normal(0.0, 0.5, size=visual_dim))
                # post-ReLU and small, like pooled inception-v3 activations
                visual[key] = (0.3 * np.maximum(vector, 0.0)).astype(np.float32)
                hot = np.zeros(vocab_size, dtype=np.int8)
                hot[rng.choice(style_words[style], size=4, replace=False)] = 1
                hot[rng.choice(category_words[c], size=2, replace=False)] = 1
                hot[rng.randint(vocab_size)] = 1
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
             num_styles=np.asarray(num_styles))


def oracle(root, store_keys, num_categories, distinct_categories=False):
    """The generator's own outfit scorer, or None when ``root`` was not made by :func:`generate`.

    Args:
      root: the data directory.
      store_keys: the item key of each feature-store row.
      num_categories: categories of the data.
      distinct_categories: the negatives keep an outfit's categories distinct (then the
        random-outfit side below is approximate: near-Bayes).

    Returns:
      ``scorer(items, cats, mask) -> scores``: the log-likelihood ratio of "a true outfit" over
      "a random outfit" (the negatives and wrong FITB candidates: each item's category drawn
      uniformly, then an item of it) given each item's TRUE style: ``(n-1) log S`` plus, in
      the original protocol, ``n log C - log C!/(C-n)!`` (0 for a repeated category); 0
      (-1e9 here) for an outfit that mixes styles. Ties are by design: score the metrics with
      ``ties="share"``.
    """
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    single_style = outfit_files.style_scorer_parts(saved, store_keys)
    log_s = np.log(float(saved["num_styles"]))
    log_c = np.log(float(num_categories))

    def scorer(items, cats, mask):
        mask = np.asarray(mask) > 0
        cats = np.asarray(cats)
        n = mask.sum(axis=1)
        valid = single_style(items, mask)
        score = (n - 1) * log_s
        if not distinct_categories:
            score = score + n * log_c - outfit_files.log_falling(num_categories, mask.shape[1])[n]
            valid &= ~outfit_files.repeated(cats, mask)
        return np.where(valid, score, -1e9)

    return scorer
