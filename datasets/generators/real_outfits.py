"""Generated item features on the REAL Polyvore outfit structure (``synthetic_kind=outfits``).

The other NGNN generators invent their category structure; on real outfit lists WHICH
categories go together is a strong signal, and a count table of co-occurrences (the rule)
captures it well (compat AUC ~0.94 on real Polyvore). Defaults chosen on invented structure
lost to the rule there, so this generator keeps everything about an outfit that is real and
generates only what cannot be shipped: the item vectors.

* Outfits: drawn (seeded) from the NGNN authors' filtered split, the paper's own lists
  (``train_no_dup_new_100.json`` for training and validation, ``test_no_dup_new_100.json``
  for test), with their real set ids, item indices and categories (``cid2rcid_100.json``).
* Item features, a different kind of signal from the ``style`` and ``compatibility``
  generators: each outfit has a CONTINUOUS latent "palette" ``m`` (``latent_dim`` numbers,
  N(0, I)); each item gets ``z = m + spread * e`` (its own variation), and shows it through a
  PER-CATEGORY random map (a shoe shows a palette differently from a bag) in its 2048-d image
  vector, and in its words: for ``palette_words`` random latent dimensions, the word of that
  dimension's sign. Category words and a random word complete the text.

``ORACLE.npz`` keeps every item's ``z``, so :func:`oracle` can score outfits with the exact
Gaussian log-likelihood ratio of "one palette" against "independent items", plus a category
term from the co-occurrences of ALL 16,983 real training outfits (a pairwise approximation of
the real category distribution: near-Bayes, not exact). Files are written in the real
per-item formats (zip or folders), through the same writers as the other generators.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import os

import numpy as np

from core.errors import DataError
from datasets import outfit_data
from datasets import polyvore as pv
from datasets.generators import common
from datasets.generators import outfit_files

KIND = "polyvore-outfits"
SHARED_DIR = os.path.join(  # datasets/generators/ -> the repository -> ../shared
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), os.pardir,
    "shared", "data", "polyvore")


def structure_dir(path=""):
    """The folder of the real outfit lists: ``path``, else ``$NPUREC_POLYVORE_STRUCTURE``,
    else ``../shared/data/polyvore`` beside the repository. Raises DataError naming the files
    when they are not there (they come from the NGNN authors' repository, ``data/``).

    Args:
      path: the folder, or ''.

    Returns:
      The folder.

    Raises:
      DataError: a list is missing (named).
    """
    folder = path or os.environ.get("NPUREC_POLYVORE_STRUCTURE") or os.path.normpath(SHARED_DIR)
    for name in (pv.TRAIN_FILE, pv.TEST_FILE, pv.CATEGORY_MAP_FILE):
        if not os.path.isfile(os.path.join(folder, name)):
            raise DataError("the real-structure generator needs {} in {} (the NGNN authors' "
                            "data/ folder; set data.structure_dir or "
                            "NPUREC_POLYVORE_STRUCTURE)".format(name, folder))
    return folder


def read_lists(folder):
    """The paper's outfit lists in ``folder`` (see :func:`structure_dir`): ``(category map,
    {"train": outfits, "test": outfits})``, each outfit ``(set_id, item keys, dense
    categories)``; outfits the loader calls bad are skipped.

    Args:
      folder: the folder of the lists.

    Returns:
      ``(category_map, lists)``.
    """
    category_map = pv.load_category_map(os.path.join(folder, pv.CATEGORY_MAP_FILE))
    lists = {}
    for split, name in (("train", pv.TRAIN_FILE), ("test", pv.TEST_FILE)):
        lists[split] = pv.load_outfits(os.path.join(folder, name), category_map,
                                       on_bad="skip-outfit")
    return category_map, lists


def generate(structure="", n_train=4000, n_valid=400, n_test=600, latent_dim=8, spread=0.6,
             strength=1.0, noise=1.0, palette_words=3, visual_dim=2048, vocab_size=2757,
             layout="zip", seed=0, directory=None):
    """Generate (once) a Polyvore-format directory on the real outfit structure; its path.

    Args:
      structure: the folder of the real lists (see :func:`structure_dir`).
      n_train / n_valid / n_test: outfits drawn without replacement (training and validation
        from the real training list, test from the real test list).
      latent_dim: size of an outfit's palette. spread: an item's own variation around it (the
        larger, the weaker the feature signal). strength / noise: the palette's weight in the
        image vector against per-coordinate noise. palette_words: palette words per item.

    Returns:
      The data directory.
    """
    folder = structure_dir(structure)
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test, latent_dim=latent_dim,
                  spread=spread, strength=strength, noise=noise, palette_words=palette_words,
                  visual_dim=visual_dim, vocab_size=vocab_size, layout=layout, seed=seed,
                  version=common.GENERATOR_VERSION)
    with open(os.path.join(folder, pv.TRAIN_FILE), "rb") as handle:  # content, not the path
        params["lists"] = hashlib.sha256(handle.read()).hexdigest()[:16]
    target = directory or os.path.join(common.cache_root(), "synthetic",
                                       "polyvore-outfits-" + common.params_key(params))
    params.pop("lists")
    return common.atomic_build(target, lambda tmp: _write(tmp, folder, **params))


def _write(out, folder, n_train, n_valid, n_test, latent_dim, spread, strength, noise,
           palette_words, visual_dim, vocab_size, layout, seed, version):
    rng = np.random.RandomState(seed)
    category_map, lists = read_lists(folder)
    if n_train + n_valid > len(lists["train"]) or n_test > len(lists["test"]):
        raise DataError("{}: asked for {} training + {} validation / {} test outfits; the "
                        "lists hold {} / {}".format(folder, n_train, n_valid, n_test,
                                                    len(lists["train"]), len(lists["test"])))
    num_categories = len(category_map)
    category_ids = sorted(category_map, key=category_map.get)  # dense index -> id
    pick = rng.permutation(len(lists["train"]))
    chosen = {"train": [lists["train"][i] for i in sorted(pick[:n_train])],
              "valid": [lists["train"][i] for i in sorted(pick[n_train:n_train + n_valid])],
              "test": [lists["test"][i] for i in sorted(rng.permutation(
                  len(lists["test"]))[:n_test])]}
    maps = rng.normal(0.0, 1.0 / np.sqrt(latent_dim),
                      size=(num_categories, latent_dim, visual_dim)).astype(np.float32)
    category_visual = rng.normal(0.0, 1.0, size=(num_categories, visual_dim)).astype(np.float32)
    words = rng.choice(vocab_size, size=2 * latent_dim + 6 * num_categories, replace=False)
    sign_words = words[:2 * latent_dim].reshape(latent_dim, 2)  # [d, negative / positive]
    category_words = words[2 * latent_dim:].reshape(num_categories, 6)

    visual, text, latent, splits = {}, {}, {}, {}
    pools = {c: [] for c in range(num_categories)}
    for name in ("train", "valid", "test"):
        splits[name] = []
        for set_id, keys, cats in chosen[name]:
            palette = rng.normal(0.0, 1.0, size=latent_dim)
            for key, c in zip(keys, cats):
                z = palette + spread * rng.normal(0.0, 1.0, size=latent_dim)
                vector = (0.5 * category_visual[c] + strength * z.dot(maps[c])
                          + rng.normal(0.0, noise, size=visual_dim))
                visual[key] = (0.3 * np.maximum(vector, 0.0)).astype(np.float32)
                hot = np.zeros(vocab_size, dtype=np.int8)
                dims = rng.choice(latent_dim, size=palette_words, replace=False)
                hot[sign_words[dims, (z[dims] > 0).astype(int)]] = 1
                hot[rng.choice(category_words[c], size=2, replace=False)] = 1
                hot[rng.randint(vocab_size)] = 1
                text[key] = hot
                latent[key] = z
                if name == "train":
                    pools[c].append(key)
            splits[name].append({"set_id": set_id,
                                 "items_index": [int(k.rsplit("_", 1)[1]) for k in keys],
                                 "items_category": [int(category_ids[c]) for c in cats]})
    outfit_files.write_polyvore_files(out, splits, pools, category_ids, visual, text, layout,
                                version)
    every = outfit_data.pack(lists["train"], lambda ks: np.zeros(len(ks), np.int32))
    keys = sorted(latent)
    np.savez(os.path.join(out, common.ORACLE_FILE), kind=np.asarray(KIND),
             keys=np.asarray(keys), latent=np.asarray([latent[k] for k in keys], np.float32),
             spread=np.asarray(spread), cooc=outfit_data.cooccurrence(every, num_categories),
             frequency=outfit_data.category_frequency(every, num_categories),
             outfits=np.asarray(len(lists["train"])))


def oracle(root, store_keys, num_categories, distinct_categories=False):
    """The generator's own outfit scorer, or None when ``root`` was not made by :func:`generate`.

    Args:
      root: the data directory.
      store_keys: the item key of each feature-store row.
      num_categories: categories of the data.
      distinct_categories: unused (real outfits repeat no category).

    Returns:
      ``scorer(items, cats, mask) -> scores`` (see the module docstring).

    Features: per latent dimension, the log-likelihood ratio of the items' ``z`` under "one
    palette" (covariance ``spread^2 I + 1 1^T``) against "independent items" (each
    ``N(0, 1 + spread^2)``), summed over dimensions: exact. Categories: ``sum_i log(C p(c_i))
    + (2 / n) sum_{i<j} PMI(c_i, c_j)`` over all real training outfits (smoothed), against
    the uniform categories of random items; a repeated category (never seen in a real outfit)
    scores -1e9.
    """
    del distinct_categories
    saved = common.read_oracle(root, KIND)
    if saved is None:
        return None
    lookup = dict(zip(saved["keys"].tolist(), range(len(saved["keys"]))))
    rows = np.asarray([lookup.get(k, -1) for k in store_keys], np.int64)
    latent = np.concatenate([saved["latent"], np.full((1, saved["latent"].shape[1]), np.nan,
                                                      np.float32)])
    s2 = float(saved["spread"]) ** 2
    outfits = float(saved["outfits"])
    p = (saved["frequency"] + 1.0) / (outfits + num_categories)
    pair = (saved["cooc"] + p[:, None] * p[None, :]) / outfits
    pmi = np.log(pair / (p[:, None] * p[None, :]))
    unigram = np.log(num_categories * p / p.sum())

    def scorer(items, cats, mask):
        mask = np.asarray(mask) > 0
        cats = np.asarray(cats)
        n = mask.sum(axis=1).astype(np.float64)
        z = latent[rows[np.asarray(items)]].astype(np.float64) * mask[..., None]
        total, squares = z.sum(axis=1), (z ** 2).sum(axis=1)  # [B, d]
        joint = (squares - total ** 2 / (s2 + n[:, None])) / s2
        log_det = (n - 1) * np.log(s2) + np.log(s2 + n)
        alone = squares / (1.0 + s2)
        d = z.shape[-1]
        features = -0.5 * (joint.sum(axis=1) + d * log_det) + 0.5 * (
            alone.sum(axis=1) + d * n * np.log(1.0 + s2))
        valid_pair = mask[:, :, None] & mask[:, None, :] & ~np.eye(cats.shape[1], dtype=bool)
        pairs = (pmi[cats[:, :, None], cats[:, None, :]] * valid_pair).sum(axis=(1, 2)) / 2
        categories = (unigram[cats] * mask).sum(axis=1) + 2.0 * pairs / np.maximum(n, 1.0)
        ordered = np.sort(np.where(mask, cats, -1 - np.arange(cats.shape[1])), axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        known = np.isfinite(features)
        return np.where(repeated | ~known, -1e9, np.where(known, features, 0.0) + categories)

    return scorer
