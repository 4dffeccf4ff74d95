"""The embedded default data: files in exactly the real formats, with a planted signal.

No feature vectors or Amazon dumps can be shipped, so ``--data-dir`` omitted means: generate
(deterministically, once, into the cache) small data sets in the REAL file formats and train on
them through the real loaders. Runs on them say that they are synthetic.

* Polyvore (:func:`polyvore`): outfits of 3-8 items of distinct categories; all items of
  one outfit share a latent style, which shows in their 2048-d visual vectors and in the words
  of their 2757-d multi-hot text vectors. A random replacement item usually has another style,
  so a model that compares items within an outfit can tell true outfits from corrupted ones.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np

from datasets import features as feature_store
from datasets import polyvore as pv

GENERATOR_VERSION = 3


def cache_root():
    """Where generated data and feature stores live: $NPUREC_CACHE or ~/.cache/npurec."""
    return os.environ.get("NPUREC_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "npurec")


def _atomic_build(target, build):
    """Run ``build(tmp_dir)`` and rename the result to ``target`` (nothing half-written)."""
    if os.path.isdir(target):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".generating-", dir=parent)
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # built concurrently by another process
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _key(params):
    text = json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def polyvore(n_train=1000, n_valid=150, n_test=150, num_categories=12, num_styles=4,
             visual_dim=2048, vocab_size=2757, layout="zip", seed=0, directory=None):
    """Generate (once) a Polyvore-format data directory; return its path.

    Args:
      layout: ``zip`` (feature archives) or ``dir`` (one JSON file per item in folders).
      directory: where to write; default a content-keyed folder under :func:`cache_root`.
    """
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test,
                  num_categories=num_categories, num_styles=num_styles, visual_dim=visual_dim,
                  vocab_size=vocab_size, layout=layout, seed=seed, version=GENERATOR_VERSION)
    target = directory or os.path.join(cache_root(), "synthetic",
                                       "polyvore-" + _key(params))
    return _atomic_build(target, lambda tmp: _write_polyvore(tmp, **params))


def _write_polyvore(out, n_train, n_valid, n_test, num_categories, num_styles, visual_dim,
                    vocab_size, layout, seed, version):
    rng = np.random.RandomState(seed)
    # Real-looking sparse category ids, mapped to dense indices like cid2rcid_100.json.
    category_ids = sorted(rng.choice(np.arange(2, 5000), size=num_categories, replace=False))
    cid2rcid = {str(int(c)): i for i, c in enumerate(category_ids)}
    style_visual = rng.normal(0.0, 1.0, size=(num_styles, visual_dim)).astype(np.float32)
    category_visual = rng.normal(0.0, 1.0, size=(num_categories, visual_dim)).astype(np.float32)
    style_words = [rng.choice(vocab_size, size=12, replace=False) for _ in range(num_styles)]
    category_words = [rng.choice(vocab_size, size=6, replace=False)
                      for _ in range(num_categories)]

    visual, text, splits, pools = {}, {}, {}, {c: [] for c in range(num_categories)}
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
                if name == "train":
                    pools[c].append(key)
            outfits.append(entry)
        splits[name] = outfits

    def dump(path, payload):
        with open(os.path.join(out, path), "w") as handle:
            json.dump(payload, handle)

    dump(pv.TRAIN_FILE, splits["train"])
    dump(pv.VALID_FILE, splits["valid"])
    dump(pv.TEST_FILE, splits["test"])
    dump(pv.CATEGORY_MAP_FILE, cid2rcid)
    dump(pv.CATEGORY_POOL_FILE, [
        {"id": int(category_ids[c]), "name": "category {}".format(c),
         "frequency": len(pools[c]), "items": pools[c]} for c in range(num_categories)])
    write_item_vectors(out, feature_store.VISUAL_DIR, visual, layout, decimals=3)
    write_item_vectors(out, feature_store.TEXT_DIR, text, layout, decimals=None)
    with open(os.path.join(out, "SYNTHETIC.txt"), "w") as handle:
        handle.write("Generated by npurec.datasets.synthetic (version {}); not real data.\n"
                     .format(version))


def _vector_json(vector, decimals):
    if decimals is None:
        return json.dumps(vector.astype(int).tolist())
    return json.dumps(np.round(vector.astype(np.float64), decimals).tolist())


def write_item_vectors(root, name, vectors, layout, decimals=3):
    """Write ``{key: vector}`` as ``root/name/<key>.json`` files or ``root/name.zip``."""
    if layout == "dir":
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for key, vector in vectors.items():
            with open(os.path.join(folder, key + ".json"), "w") as handle:
                handle.write(_vector_json(vector, decimals))
    elif layout == "zip":
        with zipfile.ZipFile(os.path.join(root, name + ".zip"), "w",
                             zipfile.ZIP_DEFLATED) as archive:
            for key, vector in vectors.items():
                archive.writestr("{}/{}.json".format(name, key), _vector_json(vector, decimals))
    else:
        raise ValueError("layout ({!r}) must be 'zip' or 'dir'".format(layout))


def amazon(n_users=6000, n_items=2000, n_categories=40, interests=3, gzip_reviews=True, seed=0,
           directory=None):
    """Generate (once) Amazon-format files with a planted multi-interest signal; return the dir.

    Each user has ``interests`` favourite categories; every event is an item of one of them, so
    the part of the history in the target's category predicts the target (attention should beat
    sum pooling). Items have a popularity skew inside their category. Files:
    ``reviews_Electronics_5.json.gz`` (JSON lines) and ``meta_Electronics.json`` (Python-literal
    dicts, single-quoted, as the real dump).
    """
    params = dict(n_users=n_users, n_items=n_items, n_categories=n_categories,
                  interests=interests, gzip_reviews=gzip_reviews, seed=seed,
                  version=GENERATOR_VERSION)
    target = directory or os.path.join(cache_root(), "synthetic", "amazon-" + _key(params))
    return _atomic_build(target, lambda tmp: _write_amazon(tmp, **params))


def _write_amazon(out, n_users, n_items, n_categories, interests, gzip_reviews, seed, version):
    import gzip  # pylint: disable=import-outside-toplevel

    rng = np.random.RandomState(seed)
    item_cat = rng.randint(n_categories, size=n_items)
    codes = np.unique(rng.randint(10 ** 8, 10 ** 9, size=2 * n_items))[:n_items]
    codes = codes[rng.permutation(len(codes))]
    asins = ["B{:09d}".format(int(i)) for i in codes]
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
            lines.append(json.dumps({"reviewerID": "A{:012d}".format(u), "asin": asins[item],
                                     "reviewerName": "user {}".format(u), "helpful": [0, 0],
                                     "reviewText": "synthetic", "overall": 5.0,
                                     "summary": "synthetic", "unixReviewTime": time,
                                     "reviewTime": "01 1, 2013"}))
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    if gzip_reviews:
        with gzip.open(os.path.join(out, "reviews_Electronics_5.json.gz"), "wb") as handle:
            handle.write(payload)
    else:
        with open(os.path.join(out, "reviews_Electronics_5.json"), "wb") as handle:
            handle.write(payload)
    with open(os.path.join(out, "meta_Electronics.json"), "w") as handle:
        for i in range(n_items):
            record = {"asin": asins[i], "title": "item {}".format(i), "price": 9.99,
                      "categories": [["Electronics", "Category {}".format(item_cat[i])]]}
            handle.write(repr(record) + "\n")  # Python literal, like the real meta dump
    with open(os.path.join(out, "SYNTHETIC.txt"), "w") as handle:
        handle.write("Generated by npurec.datasets.synthetic (version {}); not real data.\n"
                     .format(version))
