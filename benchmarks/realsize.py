"""Real-size inputs for benchmarks, in memory (for step timing) or in the real file formats.

Sizes of the real data sets:

* Polyvore (NGNN's split): 16,983 training outfits of 3-8 items, 120 categories, 2048-d image
  and 2757-d multi-hot text vectors (about 6-10 words per item).
* Amazon Electronics (5-core): 192,403 users, 63,001 items, 801 categories, 1,689,188 reviews.

:func:`polyvore_in_memory` builds a :class:`datasets.outfit_data.OutfitData` directly from random
arrays of the real shapes (the train step does not care where the bytes came from);
:func:`amazon_files` writes real-format Amazon files of the real size (for preprocessing
timings); :func:`datasets.generators.polyvore_style.generate` writes real-format Polyvore files at any size.
"""
from __future__ import absolute_import, division, print_function

import gzip
import json
import os
import shutil

import numpy as np

from datasets import outfit_data

POLYVORE_TRAIN_OUTFITS = 16983
POLYVORE_CATEGORIES = 120
AMAZON = {"users": 192403, "items": 63001, "categories": 801, "reviews": 1689188}


class MemoryStore(object):
    """The attributes of :class:`datasets.features.FeatureStore` the task uses."""

    def __init__(self, n_items, visual_dim, vocab_size, words, rng):
        self.visual = rng.random_sample((n_items, visual_dim)).astype(np.float32)
        self.text_ids = rng.randint(vocab_size, size=(n_items, words)).astype(np.int32)
        self.text_len = rng.randint(3, words + 1, size=n_items).astype(np.int32)
        self.visual_dim = visual_dim
        self.vocab_size = vocab_size
        self.keys = [str(i) for i in range(n_items)]

    def __len__(self):
        return len(self.visual)


def polyvore_in_memory(n_train=POLYVORE_TRAIN_OUTFITS, n_eval=500,
                       num_categories=POLYVORE_CATEGORIES, visual_dim=2048, vocab_size=2757,
                       words=12, outfit_size=None, seed=0):
    """An OutfitData of real shapes from random arrays (no files). ``outfit_size``: fixed
    size of every outfit (None: 3-8 as in the real data).

    Args:
      n_train, n_eval: outfits.
      num_categories: categories.
      visual_dim, vocab_size: vector lengths.
      words: words per item.
      outfit_size: fixed items per outfit, or None (3-8).
      seed: the arrays' seed.

    Returns:
      A :class:`datasets.outfit_data.OutfitData`.
    """
    rng = np.random.RandomState(seed)
    n_outfits = n_train + 2 * n_eval
    sizes = (np.full(n_outfits, outfit_size) if outfit_size
             else rng.randint(3, outfit_data.MAX_ITEMS + 1, size=n_outfits))
    n_items = int(sizes.sum())
    store = MemoryStore(n_items, visual_dim, vocab_size, words, rng)
    item_cat = rng.randint(num_categories, size=n_items)
    mask = (np.arange(outfit_data.MAX_ITEMS)[None, :] < sizes[:, None]).astype(np.float32)
    items = np.zeros((n_outfits, outfit_data.MAX_ITEMS), np.int32)
    items[mask > 0] = np.arange(n_items)
    cats = np.where(mask > 0, item_cat[items], 0).astype(np.int32)
    split = {"train": slice(0, n_train), "validation": slice(n_train, n_train + n_eval),
             "test": slice(n_train + n_eval, n_outfits)}
    splits = {name: {"items": items[s], "cats": cats[s], "mask": mask[s]}
              for name, s in split.items()}
    train_rows = items[:n_train][mask[:n_train] > 0]
    pools = outfit_data.Pools({c: train_rows[item_cat[train_rows] == c] for c in range(num_categories)},
                     num_categories, "memory")
    cooc = outfit_data.cooccurrence(splits["train"], num_categories)
    fitb = {n: outfit_data.fitb_questions(splits[n], pools, rng) for n in ("validation", "test")}
    compat = {n: outfit_data.compatibility_pairs(splits[n], pools, rng) for n in ("validation", "test")}
    return outfit_data.OutfitData(store=store, num_categories=num_categories, splits=splits,
                           pools=pools, cooc=cooc, fitb=fitb, compat=compat, report={},
                           synthetic=True, root="memory")


def amazon_files(directory, users=AMAZON["users"], items=AMAZON["items"],
                 categories=AMAZON["categories"], reviews=AMAZON["reviews"], seed=0):
    """Write real-size ``reviews_Electronics_5.json.gz`` and ``meta_Electronics.json``.

    Args:
      directory: where to write.
      users, items, categories, reviews: sizes.
      seed: the data's seed.

    Returns:
      The directory.
    """
    rng = np.random.RandomState(seed)
    os.makedirs(directory, exist_ok=True)
    user = np.sort(rng.randint(users, size=reviews))
    item = rng.randint(items, size=reviews)
    time = 1200000000 + rng.randint(0, 3 * 10 ** 8, size=reviews)
    path = os.path.join(directory, "reviews_Electronics_5.json.gz")
    with gzip.open(path, "wt", compresslevel=1) as handle:
        for u, i, t in zip(user.tolist(), item.tolist(), time.tolist()):
            handle.write(json.dumps({"reviewerID": "A%013d" % u, "asin": "B%09d" % i,
                                     "helpful": [0, 0], "overall": 5.0,
                                     "unixReviewTime": t}) + "\n")
    item_cat = rng.randint(categories, size=items)
    with open(os.path.join(directory, "meta_Electronics.json"), "w") as handle:
        for i in range(items):
            handle.write(repr({"asin": "B%09d" % i, "price": 1.0,
                               "categories": [["Electronics", "Cat %d" % item_cat[i]]]}) + "\n")
    return directory


def remap_layout(folder, n_users=20000, n_items=20000, n_categories=200, seed=0):
    """The multi-interest generator's events in the Ascend port's ``remap.pkl`` layout, ids
    remapped as the reference ``build_dataset`` does (items, categories and users numbered in
    sorted key order): the layout issue 26's speed and quality comparisons used.

    Args:
      folder: where ``remap.pkl`` goes (created).
      n_users, n_items, n_categories: the generator's sizes.
      seed: its seed.

    Returns:
      ``folder``.
    """
    import pickle  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel

    import pandas as pd  # pylint: disable=import-outside-toplevel

    from datasets import amazon  # pylint: disable=import-outside-toplevel
    from datasets.generators import amazon_interests  # pylint: disable=import-outside-toplevel

    raw = amazon_interests.generate(n_users=n_users, n_items=n_items, n_categories=n_categories,
                                    seed=seed, directory=os.path.join(
                                        tempfile.mkdtemp(prefix="npurec-raw-"), "raw"))
    try:
        reviews = amazon.read_reviews(os.path.join(raw, amazon.REVIEWS + ".gz"))
        meta = amazon.read_meta(os.path.join(raw, amazon.META))
    finally:
        shutil.rmtree(os.path.dirname(raw), ignore_errors=True)
    items = sorted(set(reviews["item"]) | set(meta))
    categories = sorted(set(meta.values()))
    cate_list = np.asarray([categories.index(meta[i]) if i in meta else 0 for i in items])
    users = sorted(set(reviews["user"]))
    frame = pd.DataFrame({
        "reviewerID": np.searchsorted(users, reviews["user"].to_numpy()).astype(np.int64),
        "asin": np.searchsorted(items, reviews["item"].to_numpy()).astype(np.int64),
        "unixReviewTime": reviews["time"].to_numpy().astype(np.int64)})
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, amazon.REMAP_PICKLE), "wb") as handle:
        for value in (frame, cate_list, (len(users), len(items), len(categories)),
                      (items, categories, users)):
            pickle.dump(value, handle, pickle.HIGHEST_PROTOCOL)
    return folder
