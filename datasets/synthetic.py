"""The embedded default data: files in exactly the real formats, with a planted signal.

No feature vectors or Amazon dumps can be shipped, so ``--data-dir`` omitted means: generate
(deterministically, once, into the cache) small data sets in the REAL file formats and train on
them through the real loaders. Runs on them say that they are synthetic.

* Polyvore (:func:`polyvore`): outfits of 3-8 items of distinct categories; all items of
  one outfit share a latent style, which shows in their 2048-d visual vectors and in the words
  of their 2757-d multi-hot text vectors. A random replacement item usually has another style,
  so a model that compares items within an outfit can tell true outfits from corrupted ones.
* Amazon (:func:`amazon`): users with a few favourite categories and a popularity skew inside
  each category; :func:`amazon_transitions`: item-to-item chains instead (a different kind of
  signal: the last history item predicts the next by id; categories are random).

Each generator also writes ``ORACLE.npz``, the latent variables it planted (item styles; user
interests and item weights), and :func:`polyvore_oracle` / :func:`amazon_oracle` score rows the
way the generator would: the ceiling that ``metrics.json`` reports as ``baselines.oracle``
next to the trivial rules. The oracle knows the latent variables exactly, so it bounds what any
model can reach on the observed features from above.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import zipfile

import numpy as np

from datasets import features as feature_store
from models import files
from datasets import polyvore as pv

GENERATOR_VERSION = 4  # 4: ORACLE.npz beside the data (same data as 3)
ORACLE_FILE = "ORACLE.npz"


def cache_root():
    """Where generated data and feature stores live: $NPUREC_CACHE or ~/.cache/npurec."""
    return os.environ.get("NPUREC_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "npurec")


def atomic_build(target, build):
    """Run ``build(tmp_dir)`` and rename the result to ``target`` (nothing half-written)."""
    if os.path.isdir(target):
        return target
    with files.atomic_directory(target, exists=files.KEEP) as tmp:  # KEEP: a concurrent build
        build(tmp)
    return target


def params_key(params):
    """A short content key of a generator's parameters (its cache folder's name)."""
    text = json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def polyvore(n_train=1000, n_valid=500, n_test=500, num_categories=12, num_styles=4,
             visual_dim=2048, vocab_size=2757, layout="zip", seed=0, directory=None):
    """Generate (once) a Polyvore-format data directory; return its path.

    Args:
      n_valid / n_test: 500 each, so that a test metric's sampling error (pairwise accuracy:
        ~0.016) is below the differences the README reports (150 gave ~0.03).
      layout: ``zip`` (feature archives) or ``dir`` (one JSON file per item in folders).
      directory: where to write; default a content-keyed folder under :func:`cache_root`.
    """
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test,
                  num_categories=num_categories, num_styles=num_styles, visual_dim=visual_dim,
                  vocab_size=vocab_size, layout=layout, seed=seed, version=GENERATOR_VERSION)
    target = directory or os.path.join(cache_root(), "synthetic",
                                       "polyvore-" + params_key(params))
    return atomic_build(target, lambda tmp: _write_polyvore(tmp, **params))


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

    write_polyvore_files(out, splits, pools, category_ids, visual, text, layout, version)
    keys = sorted(styles)
    np.savez(os.path.join(out, ORACLE_FILE), kind=np.asarray("polyvore-style"),
             keys=np.asarray(keys), style=np.asarray([styles[k] for k in keys], np.int64),
             num_styles=np.asarray(num_styles))


def write_split_files(out, splits, pools, category_ids):
    """The NGNN split files of ``splits`` (any of ``train``, ``valid``, ``test``: outfit lists
    in the original schema), the category map and the category pools (``pools[c]``: item keys
    of dense category c), as the real release names them. Shared by the generators here and
    by ``benchmarks.process_memory`` (which writes no validation file, like the paper's
    release)."""
    names = {"train": pv.TRAIN_FILE, "valid": pv.VALID_FILE, "test": pv.TEST_FILE}

    def dump(path, payload):
        with open(os.path.join(out, path), "w") as handle:
            json.dump(payload, handle)

    for split, outfits in sorted(splits.items()):
        dump(names[split], outfits)
    dump(pv.CATEGORY_MAP_FILE, {str(int(c)): i for i, c in enumerate(category_ids)})
    dump(pv.CATEGORY_POOL_FILE, [
        {"id": int(category_ids[c]), "name": "category {}".format(c),
         "frequency": len(pools[c]), "items": pools[c]} for c in range(len(category_ids))])


def write_polyvore_files(out, splits, pools, category_ids, visual, text, layout, version):
    """The NGNN split files, per-item vectors (zip or folders) and the SYNTHETIC.txt marker."""
    write_split_files(out, splits, pools, category_ids)
    write_item_vectors(out, feature_store.VISUAL_DIR, visual, layout, decimals=3)
    write_item_vectors(out, feature_store.TEXT_DIR, text, layout, decimals=None)
    with open(os.path.join(out, "SYNTHETIC.txt"), "w") as handle:
        handle.write("Generated by npurec.datasets.synthetic (version {}); not real data.\n"
                     .format(version))


def polyvore_compatibility(n_train=4000, n_valid=300, n_test=600, groups=8, per_group=5,
                           num_styles=6, concentration=0.3, style_strength=1.0, noise=1.0,
                           visual_dim=2048, vocab_size=2757, layout="zip", seed=0,
                           directory=None):
    """Generate (once) Polyvore-format data whose signal is pairwise category compatibility.

    A different kind of signal from :func:`polyvore`, closer to real outfits: the categories
    (``groups`` x ``per_group``, e.g. tops, bottoms, shoes...) of an outfit are one per group
    and chosen by the outfit's style (each style prefers a few categories of each group, a
    Dirichlet(``concentration``)), so WHICH categories go together is informative (the
    co-occurrence rule is strong, as on real data), and the style also shows in every item's
    image vector (``style_strength`` against ``noise``) and words. Defaults: 4,000 training
    outfits, the issue's realistic size; ``n_train`` makes the learning curve.
    """
    params = dict(n_train=n_train, n_valid=n_valid, n_test=n_test, groups=groups,
                  per_group=per_group, num_styles=num_styles, concentration=concentration,
                  style_strength=style_strength, noise=noise, visual_dim=visual_dim,
                  vocab_size=vocab_size, layout=layout, seed=seed, version=GENERATOR_VERSION)
    target = directory or os.path.join(cache_root(), "synthetic",
                                       "polyvore-compat-" + params_key(params))
    return atomic_build(target, lambda tmp: _write_polyvore_compatibility(tmp, **params))


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
            size = rng.randint(3, min(groups, pv.MAX_ITEMS) + 1)
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
    write_polyvore_files(out, splits, pools, category_ids, visual, text, layout, version)
    keys = sorted(styles)
    np.savez(os.path.join(out, ORACLE_FILE), kind=np.asarray("polyvore-compatibility"),
             keys=np.asarray(keys), style=np.asarray([styles[k] for k in keys], np.int64),
             num_styles=np.asarray(num_styles), groups=np.asarray(groups),
             group_of=group_of, pref=pref)


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
    target = directory or os.path.join(cache_root(), "synthetic", "amazon-" + params_key(params))
    return atomic_build(target, lambda tmp: _write_amazon(tmp, **params))


def _write_amazon(out, n_users, n_items, n_categories, interests, gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    item_cat = rng.randint(n_categories, size=n_items)
    asins = _asins(rng, n_items)
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
            lines.append(_review(u, asins[item], time))
    _write_amazon_files(out, lines, asins, item_cat, gzip_reviews, version)
    within = np.zeros(n_items, np.float64)  # an item's probability inside its category
    for c in range(n_categories):
        within[by_cat[c]] = weights[c]
    np.savez(os.path.join(out, ORACLE_FILE), kind=np.asarray("amazon-interests"),
             interests=np.asarray(interests), n_categories=np.asarray(n_categories),
             asins=np.asarray(asins), within=within)


def _review(user, asin, time):
    return json.dumps({"reviewerID": "A{:012d}".format(user), "asin": asin,
                       "reviewerName": "user {}".format(user), "helpful": [0, 0],
                       "reviewText": "synthetic", "overall": 5.0, "summary": "synthetic",
                       "unixReviewTime": time, "reviewTime": "01 1, 2013"})


def _write_amazon_files(out, lines, asins, item_cat, gzip_reviews, version):
    """The real dumps' formats: reviews as JSON lines (gzipped or not), meta as Python-literal
    dicts (single-quoted), and the SYNTHETIC.txt marker."""
    import gzip  # pylint: disable=import-outside-toplevel

    payload = ("\n".join(lines) + "\n").encode("utf-8")
    if gzip_reviews:
        with gzip.open(os.path.join(out, "reviews_Electronics_5.json.gz"), "wb") as handle:
            handle.write(payload)
    else:
        with open(os.path.join(out, "reviews_Electronics_5.json"), "wb") as handle:
            handle.write(payload)
    with open(os.path.join(out, "meta_Electronics.json"), "w") as handle:
        for i, asin in enumerate(asins):
            record = {"asin": asin, "title": "item {}".format(i), "price": 9.99,
                      "categories": [["Electronics", "Category {}".format(item_cat[i])]]}
            handle.write(repr(record) + "\n")  # Python literal, like the real meta dump
    with open(os.path.join(out, "SYNTHETIC.txt"), "w") as handle:
        handle.write("Generated by npurec.datasets.synthetic (version {}); not real data.\n"
                     .format(version))


def _asins(rng, n_items):
    codes = np.unique(rng.randint(10 ** 8, 10 ** 9, size=2 * n_items))[:n_items]
    codes = codes[rng.permutation(len(codes))]
    return ["B{:09d}".format(int(i)) for i in codes]


def amazon_transitions(n_users=6000, n_items=1000, n_categories=40, successors=3, jump=0.15,
                       gzip_reviews=True, seed=0, directory=None):
    """Generate (once) Amazon-format files whose signal is item-to-item transitions.

    A different kind of signal from :func:`amazon`: categories are assigned to items at random
    and users have no favourite categories; instead every item has ``successors`` likely next
    items (weights from a Dirichlet), and a user's next event follows the chain from their last
    item (with probability ``jump`` a popularity-weighted random item instead). What predicts
    the target is the LAST item of the history, by id: a model must learn item-level relations
    (the category rules see little). Oracle: ``P(target | last item)``. The defaults give each
    (item, successor) pair ~15 observations in 6,000 users' histories: learnable from the data.
    """
    params = dict(n_users=n_users, n_items=n_items, n_categories=n_categories,
                  successors=successors, jump=jump, gzip_reviews=gzip_reviews, seed=seed,
                  version=GENERATOR_VERSION)
    target = directory or os.path.join(cache_root(), "synthetic",
                                       "amazon-transitions-" + params_key(params))
    return atomic_build(target, lambda tmp: _write_amazon_transitions(tmp, **params))


def _write_amazon_transitions(out, n_users, n_items, n_categories, successors, jump,
                              gzip_reviews, seed, version):
    rng = np.random.RandomState(seed)
    item_cat = rng.randint(n_categories, size=n_items)
    asins = _asins(rng, n_items)
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
                lines.append(_review(u, asins[item], time))
            if rng.random_sample() < jump:
                item = int(rng.choice(n_items, p=popularity))
            else:
                item = int(succ[item, rng.choice(successors, p=succ_p[item])])
    _write_amazon_files(out, lines, asins, item_cat, gzip_reviews, version)
    np.savez(os.path.join(out, ORACLE_FILE), kind=np.asarray("amazon-transitions"),
             asins=np.asarray(asins), successors=succ, successor_p=succ_p,
             popularity=popularity, jump=np.asarray(jump))


def _oracle(root, kind):
    path = os.path.join(root, ORACLE_FILE)
    if not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=False) as saved:
        if str(saved["kind"]) != kind:
            return None
        return {k: saved[k] for k in saved.files}


def polyvore_oracle(root, store_keys, num_categories, distinct_categories=False):
    """The generator's own outfit scorer, or None when ``root`` holds no Polyvore oracle.

    Returns ``scorer(items, cats, mask) -> scores``: the log-likelihood ratio of "a true
    outfit" over "a random outfit" (the negatives and wrong FITB candidates: each item's
    category drawn uniformly, then an item of it) given each item's TRUE style, which both
    generators make recoverable from the item's image vector. A true outfit has one style, so
    the ratio is 0 (-1e9 here) for an outfit that mixes styles; otherwise:

    * :func:`polyvore` (distinct categories, uniformly): ``(n-1) log S`` plus, in the original
      protocol, ``n log C - log C!/(C-n)!`` (0 for a repeated category);
    * :func:`polyvore_compatibility` (one category per group, chosen by the style):
      ``-log S - log G!/(G-n)! + n log C + sum_i log sum_s pref[s, c_i]`` (0 for a repeated
      group); the style's own preferences cancel against the random item's style odds.

    * :mod:`datasets.real_outfits` (the real outfit structure): see
      :func:`datasets.real_outfits.oracle` (near-Bayes on the categories).

    Ties are by design: score the metrics with ``ties="share"``. With
    ``distinct_categories`` negatives the random-outfit side is approximate (near-Bayes).
    """
    from datasets import real_outfits  # pylint: disable=import-outside-toplevel

    outfits = _oracle(root, real_outfits.KIND)
    if outfits is not None:
        return real_outfits.oracle(outfits, store_keys, num_categories)
    saved = _oracle(root, "polyvore-style") or _oracle(root, "polyvore-compatibility")
    if saved is None:
        return None
    lookup = dict(zip(saved["keys"].tolist(), saved["style"].tolist()))
    style_of_row = np.asarray([lookup.get(k, -1) for k in store_keys], np.int64)
    log_s = np.log(float(saved["num_styles"]))
    log_c = np.log(float(num_categories))
    compat = "pref" in saved

    def falling(total, width):  # log total!/(total-k)! for k = 0..width
        return np.array([np.sum(np.log(total - np.arange(k))) for k in range(width + 1)])

    def repeated(values, mask):
        c = np.where(mask, values, -1 - np.arange(mask.shape[1]))
        ordered = np.sort(c, axis=1)
        return (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)

    def scorer(items, cats, mask):
        mask = np.asarray(mask) > 0
        cats = np.asarray(cats)
        n = mask.sum(axis=1)
        styles = style_of_row[np.asarray(items)]
        first = styles[np.arange(len(styles)), np.argmax(mask, axis=1)]
        valid = ((styles == first[:, None]) | ~mask).all(axis=1) & (first >= 0)
        if compat:
            groups = int(saved["groups"])
            mass = np.log(saved["pref"].sum(axis=0))[cats]
            score = (-log_s - falling(groups, mask.shape[1])[np.minimum(n, groups)]
                     + n * log_c + (mass * mask).sum(axis=1))
            valid &= ~repeated(saved["group_of"][cats], mask) & (n <= groups)
        else:
            score = (n - 1) * log_s
            if not distinct_categories:
                score = score + n * log_c - falling(num_categories, mask.shape[1])[n]
                valid &= ~repeated(cats, mask)
        return np.where(valid, score, -1e9)

    return scorer


def amazon_oracle(root, vocab):
    """The click scorer of whichever Amazon generator made ``root`` (None: not generated)."""
    return _interests_oracle(root, vocab) or _transitions_oracle(root, vocab)


def _item_rows(saved, vocab):
    position = {a: i for i, a in enumerate(saved["asins"].tolist())}
    return np.asarray([position.get(str(a), -1) for a in vocab["items"]], np.int64)


def _transitions_oracle(root, vocab):
    """``P(target | the history's last item)`` of :func:`amazon_transitions` (negatives are
    uniform, so this ranks rows as the Bayes rule does)."""
    saved = _oracle(root, "amazon-transitions")
    if saved is None:
        return None
    item_row = _item_rows(saved, vocab)
    succ, succ_p = saved["successors"], saved["successor_p"]
    popularity, jump = saved["popularity"], float(saved["jump"])

    def scorer(rows):
        hist, length = np.asarray(rows["hist_items"]), np.asarray(rows["hist_len"])
        last = item_row[hist[np.arange(len(hist)), np.maximum(length - 1, 0)]]
        target = item_row[np.asarray(rows["target_item"])]
        known = (last >= 0) & (target >= 0) & (length > 0)
        last, target = np.where(known, last, 0), np.where(known, target, 0)
        chained = (succ_p[last] * (succ[last] == target[:, None])).sum(axis=1)
        score = jump * popularity[target] + (1.0 - jump) * chained
        return np.where(known, score, 0.0)

    return scorer


def _interests_oracle(root, vocab):
    """The Bayes click scorer of :func:`amazon` given what a model sees: the history.

    The generator gives each user ``I`` favourite categories (uniform among ``C``) with
    Dirichlet(1) shares, and every event is an item of a favourite category, drawn by the
    item's weight inside its category. Given a history of ``k`` events over ``d`` distinct
    categories, the next event's category is ``c`` with probability ``(1 + n_c) / (I + k)``
    for a category seen ``n_c`` times, and ``(I - d) / (C - d) / (I + k)`` for an unseen one
    (one of the ``I - d`` favourites not yet seen, each any unseen category). The score is that
    times the item's weight in its category; negatives are uniform over items, so this ranks
    rows as the Bayes rule does (up to the generator's skipping of repeated items).
    """
    saved = _oracle(root, "amazon-interests")
    if saved is None:
        return None
    item_row = _item_rows(saved, vocab)
    interests, n_categories = int(saved["interests"]), int(saved["n_categories"])
    within = saved["within"]

    def scorer(rows):
        hist_cats, length = np.asarray(rows["hist_cats"]), np.asarray(rows["hist_len"])
        target_cat = np.asarray(rows["target_cat"])
        valid = np.arange(hist_cats.shape[1])[None, :] < length[:, None]
        seen = ((hist_cats == target_cat[:, None]) & valid).sum(axis=1)
        ordered = np.sort(np.where(valid, hist_cats, -1), axis=1)
        distinct = ((ordered[:, 1:] != ordered[:, :-1]) & (ordered[:, 1:] >= 0)).sum(axis=1) \
            + (ordered[:, 0] >= 0)
        unseen = np.maximum(interests - distinct, 0) / np.maximum(n_categories - distinct, 1)
        p_cat = np.where(seen > 0, 1.0 + seen, unseen) / (interests + length)
        target = item_row[np.asarray(rows["target_item"])]
        return np.where(target >= 0, p_cat * within[np.maximum(target, 0)], 0.0)

    return scorer
