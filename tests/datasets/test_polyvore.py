"""Polyvore loading: real files from ../shared, directories and zips, the feature store, and
bad input (each error names the file and item)."""
import json
import os
import shutil

import numpy as np
import pytest

from core.errors import DataError
from datasets import features, item_text, outfit_data, polyvore
from datasets.generators import polyvore_style
from tests.conftest import SHARED, SHARED_REASON

POLYVORE = os.path.join(SHARED, "data", "polyvore")
needs_shared = pytest.mark.skipif(not os.path.isdir(POLYVORE), reason=SHARED_REASON)

SMALL = dict(n_train=30, n_valid=6, n_test=6, num_categories=6, num_styles=3, visual_dim=16,
             vocab_size=20)


@pytest.fixture
def small_root(tmp_path):
    def make(layout="zip"):
        return polyvore_style.generate(layout=layout, directory=str(tmp_path / ("data-" + layout)),
                                  **SMALL)
    return make


def _load(root, tmp_path, **kwargs):
    return polyvore.load(root, str(tmp_path / "stores"), visual_dim=16, vocab_size=20, **kwargs)


@pytest.mark.parametrize("layout", ["zip", "dir"])
def test_loader_reads_directories_and_zips(small_root, tmp_path, layout):
    data = _load(small_root(layout), tmp_path)
    assert data.num_categories == 6
    assert data.splits["train"]["items"].shape == (30, 8)
    assert data.fitb["test"]["items"].shape == (6 * 4, 8)
    assert data.compat["test"]["label"].tolist() == [1] * 6 + [0] * 6
    # every FITB question keeps the outfit except the blank slot
    fitb = data.fitb["test"]
    diff = (fitb["items"].reshape(6, 4, 8) != fitb["items"].reshape(6, 4, 8)[:, :1]).sum(-1)
    assert np.all(diff[:, 0] == 0) and np.all(diff[:, 1:] <= 1)


def test_zip_and_dir_give_the_same_store(small_root, tmp_path):
    a = _load(small_root("zip"), tmp_path)
    b = _load(small_root("dir"), tmp_path)
    assert a.store.keys == b.store.keys
    np.testing.assert_array_equal(np.asarray(a.store.visual), np.asarray(b.store.visual))
    np.testing.assert_array_equal(a.store.text_ids, b.store.text_ids)


def test_feature_store_round_trip_and_reuse(small_root, tmp_path):
    root = small_root("dir")
    data = _load(root, tmp_path)
    store = data.store
    key = store.keys[5]
    raw_visual = json.load(open(os.path.join(root, features.VISUAL_DIR, key + ".json")))
    raw_text = json.load(open(os.path.join(root, features.TEXT_DIR, key + ".json")))
    row = store.rows([key])[0]
    np.testing.assert_allclose(store.visual[row], raw_visual, rtol=1e-6)
    words = store.text_ids[row][:store.text_len[row]]
    assert sorted(words.tolist()) == [i for i, v in enumerate(raw_text) if v]
    again = _load(root, tmp_path)
    assert again.store.path == store.path  # reused, keyed by content
    # changing one feature file changes the key: a new store, never a stale one
    raw_visual[0] += 1.0
    with open(os.path.join(root, features.VISUAL_DIR, key + ".json"), "w") as handle:
        json.dump(raw_visual, handle)
    os.utime(os.path.join(root, features.VISUAL_DIR, key + ".json"), ns=(1, 1))
    changed = _load(root, tmp_path)
    assert changed.store.path != store.path


def _rewrite(root, name, mutate):
    path = os.path.join(root, name)
    payload = json.load(open(path))
    mutate(payload)
    with open(path, "w") as handle:
        json.dump(payload, handle)


def test_missing_feature_file_named_or_skipped(small_root, tmp_path):
    root = small_root("dir")
    outfit = json.load(open(os.path.join(root, polyvore.TEST_FILE)))[0]
    key = "{}_{}".format(outfit["set_id"], outfit["items_index"][0])
    os.remove(os.path.join(root, features.VISUAL_DIR, key + ".json"))
    with pytest.raises(DataError, match=key):
        _load(root, tmp_path)
    data = _load(root, tmp_path, on_missing="skip-outfit")
    assert data.report["skipped_missing_features:test"] == 1
    assert len(data.splits["test"]["items"]) == 5


@pytest.mark.parametrize("folder, mutate, needle", [
    (features.VISUAL_DIR, lambda v: v.__setitem__(slice(None), v[:-1]),
     "has 15 values, expected 16"),
    (features.VISUAL_DIR, lambda v: v.__setitem__(3, float("nan")), "not finite"),
    (features.VISUAL_DIR, lambda v: v.__setitem__(3, [1.0, 2.0]),
     "expected numbers, got list [1.0, 2.0] at position 3"),
    (features.VISUAL_DIR, lambda v: v.__setitem__(slice(None), [[x] for x in v]),
     "expected numbers, got list"),
    (features.VISUAL_DIR, lambda v: v.__setitem__(0, "0.5"), "got str '0.5' at position 0"),
    (features.TEXT_DIR, lambda v: v.__setitem__(2, True), "got bool True at position 2"),
    (features.TEXT_DIR, lambda v: v.__setitem__(4, 0.5),
     "holds 0 and 1 only, got 0.5 at position 4"),
    (features.TEXT_DIR, lambda v: v.__setitem__(4, 2), "holds 0 and 1 only, got 2"),
])
def test_bad_vectors_are_named(small_root, tmp_path, folder, mutate, needle):
    root = small_root("dir")
    key = sorted(os.listdir(os.path.join(root, folder)))[0][:-5]
    path = os.path.join(root, folder, key + ".json")
    vector = json.load(open(path))
    mutate(vector)
    with open(path, "w") as handle:
        handle.write(json.dumps(vector))  # Python's json writes NaN, as a careless tool would
    with pytest.raises(DataError) as info:
        _load(root, tmp_path)
    assert key in str(info.value) and needle in str(info.value)


def test_bad_outfits(small_root, tmp_path):
    root = small_root("dir")
    _rewrite(root, polyvore.TRAIN_FILE, lambda o: o[0].update(items_category=[999999] +
                                                               o[0]["items_category"][1:]))
    with pytest.raises(DataError, match="category id 999999 is not in the category map"):
        _load(root, tmp_path)
    data = _load(root, tmp_path, on_bad="skip-outfit")
    assert data.report["skipped_outfits:" + polyvore.TRAIN_FILE] == 1
    root = small_root("zip")
    _rewrite(root, polyvore.TEST_FILE, lambda o: o[0].update(
        items_index=[1], items_category=[o[0]["items_category"][0]]))
    with pytest.raises(DataError, match="has 1 items; expected 2 to 8"):
        _load(root, tmp_path, on_bad="error")


@pytest.mark.parametrize("mutate, needle", [
    (lambda o: o.update(items_index="123"), "items_index must be a list of integers, got '123'"),
    (lambda o: o.update(items_index=[1, True] + o["items_index"][2:]),
     "items_index must be a list of integers"),
    (lambda o: o.update(items_category=[str(c) for c in o["items_category"]]),
     "items_category must be a list of integers"),
    (lambda o: o.update(set_id={"id": 1}), "set_id must be a string or an integer"),
    (lambda o: o.update(items_index=[o["items_index"][0]] * 2 + o["items_index"][2:]),
     "lists item index .* twice"),
])
def test_outfit_fields_of_the_wrong_form_are_named(small_root, tmp_path, mutate, needle):
    root = small_root("dir")
    _rewrite(root, polyvore.TEST_FILE, lambda outfits: mutate(outfits[1]))
    with pytest.raises(DataError, match=polyvore.TEST_FILE + r": outfit .*#1\)?:? .*" + needle):
        _load(root, tmp_path)


def test_pool_and_category_map_of_the_wrong_form(small_root, tmp_path):
    root = small_root("dir")
    _rewrite(root, polyvore.CATEGORY_POOL_FILE, lambda p: p[0].update(items="abc"))
    with pytest.raises(DataError, match="list of item keys"):
        _load(root, tmp_path)
    root = small_root("zip")
    _rewrite(root, polyvore.CATEGORY_MAP_FILE,
             lambda m: m.update({k: bool(v) if v < 2 else v for k, v in m.items()}))
    with pytest.raises(DataError, match="keys and values must be whole numbers"):
        _load(root, tmp_path)


@pytest.mark.parametrize("key", ["\u0663", "\u00b2", "1.5"])
def test_a_category_map_key_in_other_digits_is_refused(small_root, tmp_path, key):
    """Issue 35's family: ids are ASCII digits everywhere ("٣" is 3 to int(), "²" is an
    error to it)."""
    root = small_root("dir")

    def rekey(mapping):
        first = sorted(mapping)[0]
        mapping[key] = mapping.pop(first)

    _rewrite(root, polyvore.CATEGORY_MAP_FILE, rekey)
    with pytest.raises(DataError, match="keys in ASCII digits"):
        _load(root, tmp_path)


def test_empty_pools_and_corrupt_zip(small_root, tmp_path):
    root = small_root("zip")
    _rewrite(root, polyvore.CATEGORY_POOL_FILE, lambda p: p[0].update(items=[]))
    assert _load(root, tmp_path).report["categories_with_empty_pool"] == 1
    _rewrite(root, polyvore.CATEGORY_POOL_FILE, lambda p: [e.update(items=[]) for e in p])
    with pytest.raises(DataError, match="every category pool is empty"):
        _load(root, tmp_path)
    root2 = small_root("dir")
    shutil.rmtree(os.path.join(root2, features.TEXT_DIR))
    with open(os.path.join(root2, features.TEXT_DIR + ".zip"), "wb") as handle:
        handle.write(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        _load(root2, tmp_path)


def test_pools_never_draw_from_empty_categories():
    pools = outfit_data.Pools({0: [10, 11], 2: [20]}, 4, "test")
    rows, cats = pools.draw(np.random.RandomState(0), 500)
    assert set(cats.tolist()) == {0, 2}
    assert set(rows[cats == 0].tolist()) == {10, 11} and set(rows[cats == 2].tolist()) == {20}


@needs_shared
def test_real_outfit_files_parse():
    cmap = polyvore.load_category_map(os.path.join(POLYVORE, polyvore.CATEGORY_MAP_FILE))
    assert len(cmap) == 120 and sorted(cmap.values()) == list(range(120))
    train = polyvore.load_outfits(os.path.join(POLYVORE, polyvore.TRAIN_FILE), cmap)
    test = polyvore.load_outfits(os.path.join(POLYVORE, polyvore.TEST_FILE), cmap)
    assert len(train) == 16983 and len(test) == 2697
    assert all(2 <= len(keys) <= 8 for _, keys, _ in train)
    pools = polyvore.load_pools(os.path.join(POLYVORE, polyvore.CATEGORY_POOL_FILE), cmap)
    assert sum(len(v) for v in pools.values()) == 104752
    packed = outfit_data.pack(train, lambda keys: np.arange(len(keys)))
    cooc = outfit_data.cooccurrence(packed, 120)
    assert cooc.shape == (120, 120) and np.allclose(cooc, cooc.T) and cooc.trace() == 0
    # the real files name features that are not here: a clear error, not a crash
    with pytest.raises(DataError, match="missing item features"):
        features.missing_items(POLYVORE, ["x_1"])


@needs_shared
def test_vocabulary_from_the_maryland_sample():
    sample = os.path.join(POLYVORE, "maryland-sample")
    paths = [os.path.join(sample, n) for n in ("train_no_dup.json", "valid_no_dup.json",
                                               "test_no_dup.json")]
    vocab = item_text.build_vocabulary(paths, min_count=2)
    words = [w for w, _ in vocab]
    assert vocab and all(len(w) >= 3 and c >= 2 for w, c in vocab)
    assert [c for _, c in vocab] == sorted((c for _, c in vocab), reverse=True)
    name = json.load(open(paths[0]))[0]["items"][0]["name"]
    hot = item_text.text_multi_hot(name, vocab)
    assert hot.shape == (len(vocab),)
    assert hot.sum() == len({w for w in item_text.tokenize(name) if w in set(words)})
    # the published vocabulary tokenises to itself (our tokenizer keeps its words whole)
    published = [line.split()[0] for line in open(os.path.join(POLYVORE, "final_word_dict.txt"))]
    assert len(published) >= 2755
    assert all(item_text.tokenize(w) == [w.lower()] for w in published if w.isalnum())


def test_distinct_categories_option(small_root, tmp_path):
    data = _load(small_root("zip"), tmp_path, distinct_categories=True)
    fitb = data.fitb["test"]
    cats = fitb["cats"].reshape(-1, 4, 8)
    mask = fitb["mask"].reshape(-1, 4, 8) > 0
    for q in range(len(cats)):
        for c in range(4):
            present = cats[q, c][mask[q, c]]
            if len(present) < data.num_categories:  # else no free category exists
                assert len(set(present.tolist())) == len(present)  # no duplicated category
    compat = data.compat["test"]
    n = len(compat["label"]) // 2
    for row in range(n, 2 * n):
        present = compat["cats"][row][compat["mask"][row] > 0]
        assert len(set(present.tolist())) == len(present)
