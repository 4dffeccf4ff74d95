"""Amazon loading: raw JSON lines (plain and gz), Python-literal meta, the reference pickle
layout through a restricted unpickler, vectorised sampling against a slow reference, bad input."""
import gzip
import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from core.errors import DataError
from datasets import amazon, behaviour_data, samples
from training.tasks import din_baselines
from datasets.generators import amazon_interests


def _write_reviews(path, rows, gz=False):
    text = "".join(json.dumps({"reviewerID": u, "asin": a, "unixReviewTime": t,
                               "overall": 5.0}) + "\n" for u, a, t in rows)
    if gz:
        with gzip.open(path + ".gz", "wt") as handle:
            handle.write(text)
    else:
        with open(path, "w") as handle:
            handle.write(text)


def _write_meta(path, categories):
    with open(path, "w") as handle:
        for asin, cat in categories.items():
            handle.write(repr({"asin": asin, "title": "it's a 'quoted' title",
                               "categories": [["Electronics", cat]]}) + "\n")


ROWS = [("u1", "a", 10), ("u1", "b", 20), ("u1", "c", 30), ("u1", "d", 40),
        ("u2", "b", 5), ("u2", "a", 6), ("u2", "e", 7),
        ("u3", "a", 1), ("u3", "c", 2)]  # u3 has only 2 events: dropped and counted
META = {"a": "Cameras", "b": "Cables", "c": "Cameras", "d": "Headphones"}  # "e" is missing


@pytest.fixture
def raw_dir(tmp_path):
    def make(gz=False):
        d = tmp_path / ("raw-gz" if gz else "raw")
        d.mkdir()
        _write_reviews(str(d / amazon.REVIEWS), ROWS, gz=gz)
        _write_meta(str(d / amazon.META), META)
        return str(d)
    return make


@pytest.mark.parametrize("gz", [False, True])
def test_raw_files_plain_and_gzip(raw_dir, tmp_path, gz):
    splits, sizes, report, vocab = _parts(amazon.load(raw_dir(gz), str(tmp_path / "cache"), maxlen=2))
    assert report["users_dropped_fewer_than_3_events"] == 1
    assert report["reviews_with_item_missing_from_meta"] == 1
    assert sizes["items"] == 6  # a..e plus padding 0
    # u1 (4 events): prefix positions 1..3 -> 3 test, 2 validation, 1 train;
    # u2 (3 events): 2 test, 1 validation
    assert len(splits["test"]["label"]) == 2 * 2 and len(splits["train"]["label"]) == 2 * 1
    test = splits["test"]
    positives = test["label"] > 0
    # u1's test row: history = the 2 most recent before "d": [b, c], left-aligned
    item_id = {k: i + 1 for i, k in enumerate(sorted("abcde"))}
    assert vocab["items"].tolist() == [""] + sorted("abcde")
    assert vocab["categories"][vocab["item_category"][item_id["a"]]] == "Cameras"
    assert vocab["categories"][vocab["item_category"][item_id["e"]]] == "unknown"
    row = np.flatnonzero(positives & (test["target_item"] == item_id["d"]))[0]
    assert test["hist_items"][row].tolist() == [item_id["b"], item_id["c"]]
    assert test["hist_len"][row] == 2
    # negatives were never touched by their user
    touched = {("u1", x) for x in "abcd"} | {("u2", x) for x in "bae"}
    users = sorted({"u1", "u2"})
    inv = {v: k for k, v in item_id.items()}
    for split in splits.values():
        for u, item, label in zip(split["user"], split["target_item"], split["label"]):
            if label == 0:
                assert (users[u], inv[item]) not in touched


def _parts(sample_set):
    """A loaded sample set as the tuple these tests read."""
    return sample_set.splits, sample_set.sizes, sample_set.report, sample_set.vocab


def _columns(sequence, rows, vocab, maxlen):
    """Stored records as columns, histories made as a batch read makes them."""
    out = {name: rows[:, i] for i, name in enumerate(samples.RECORD)}
    out["hist_items"], out["hist_cats"] = samples.histories(
        sequence, vocab["item_category"], out["event"], out["hist_len"], maxlen)
    return out


def test_sampling_matches_a_slow_reference():
    rng = np.random.RandomState(0)
    rows = [("u%d" % rng.randint(40), "i%d" % rng.randint(60), int(t)) for t in range(600)]
    reviews = pd.DataFrame(rows, columns=["user", "item", "time"])
    meta = {"i%d" % i: "c%d" % (i % 7) for i in range(60)}
    sequence, rows, sizes, vocab, _ = amazon.build_samples(reviews, meta, maxlen=5, seed=1)
    splits = {name: _columns(sequence, r, vocab, 5) for name, r in rows.items()}
    # reference: loop over users, after dropping repeated (user, item) reviews (first kept)
    frame = reviews.sort_values("time", kind="mergesort").drop_duplicates(["user", "item"])
    frame = frame[frame.groupby("user")["item"].transform("size") >= 3]
    items = sorted(frame["item"].unique())
    iid = {k: i + 1 for i, k in enumerate(items)}
    expected = {"train": [], "validation": [], "test": []}
    for u, (name, events) in enumerate(sorted(frame.groupby("user"))):
        seq = [iid[i] for i in events.sort_values(["time"], kind="mergesort")["item"]]
        for k in range(1, len(seq)):
            split = "test" if k == len(seq) - 1 else "validation" if k == len(seq) - 2 else "train"
            hist = seq[max(0, k - 5):k]
            expected[split].append((u, tuple(hist + [0] * (5 - len(hist))), seq[k]))
    for split in expected:
        got = splits[split]
        pos = got["label"] > 0
        actual = sorted(zip(got["user"][pos].tolist(), map(tuple, got["hist_items"][pos].tolist()),
                            got["target_item"][pos].tolist()))
        assert actual == sorted(expected[split])


def test_malformed_lines_error_or_skip(raw_dir, tmp_path):
    d = raw_dir()
    with open(os.path.join(d, amazon.REVIEWS), "a") as handle:
        handle.write("{not json\n")
    with pytest.raises(DataError, match=r"reviews_Electronics_5.json:10: expected a JSON object"):
        amazon.load(d, str(tmp_path / "c1"))
    _, _, report, _ = _parts(amazon.load(d, str(tmp_path / "c2"), on_bad_line="skip"))
    assert report["skipped_lines:" + amazon.REVIEWS] == 1
    _write_reviews(os.path.join(d, amazon.REVIEWS), ROWS)  # valid again
    with open(os.path.join(d, amazon.META), "a") as handle:
        handle.write("{'asin': 'z', 'categories': [[\n")
    with pytest.raises(DataError, match=r"meta_Electronics.json:5: expected a dict with asin and categories"):
        amazon.load(d, str(tmp_path / "c3"))


def test_meta_is_never_evaluated(tmp_path):
    path = str(tmp_path / "meta.json")
    with open(path, "w") as handle:
        handle.write("__import__('os').system('touch %s')\n" % (tmp_path / "pwned"))
    with pytest.raises(DataError):
        amazon.read_meta(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_and_truncated_files(raw_dir, tmp_path):
    with pytest.raises(DataError, match="expected reviews_Electronics_5.json"):
        amazon.load(str(tmp_path), str(tmp_path / "c"))
    d = raw_dir(gz=True)
    path = os.path.join(d, amazon.REVIEWS + ".gz")
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable or truncated"):
        amazon.load(d, str(tmp_path / "c"))


class _Evil(object):
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    d = tmp_path / "pkl"
    d.mkdir()
    with open(str(d / amazon.REMAP_PICKLE), "wb") as handle:
        pickle.dump(_Evil(), handle)
    with pytest.raises(DataError, match=r"refusing to load posix.system|refusing to load os.system"):
        amazon.load(str(d), str(tmp_path / "c"))


def _reference_pickle(path, frame, cate_list):
    with open(path, "wb") as handle:
        pickle.dump(frame, handle, pickle.HIGHEST_PROTOCOL)
        pickle.dump(cate_list, handle, pickle.HIGHEST_PROTOCOL)
        pickle.dump((3, 5, 4), handle, pickle.HIGHEST_PROTOCOL)
        pickle.dump((["a", "b"], ["x"], ["u"]), handle, pickle.HIGHEST_PROTOCOL)


def test_reference_pickle_layout_loads_safely(tmp_path):
    d = tmp_path / "pkl"
    d.mkdir()
    frame = pd.DataFrame({"reviewerID": [0, 0, 0, 1, 1, 1], "asin": [0, 1, 2, 2, 3, 4],
                          "unixReviewTime": [1, 2, 3, 1, 2, 3], "overall": [5.0] * 6})
    _reference_pickle(str(d / amazon.REMAP_PICKLE), frame, np.array([0, 1, 0, 2, 1]))
    splits, sizes, _, _ = _parts(amazon.load(str(d), str(tmp_path / "c")))
    assert sizes["items"] == 6 and sizes["categories"] == 4
    assert len(splits["test"]["label"]) == 4


def test_pickle_of_the_wrong_shape(tmp_path):
    d = tmp_path / "pkl"
    d.mkdir()
    with open(str(d / amazon.REMAP_PICKLE), "wb") as handle:
        pickle.dump([1, 2, 3], handle)
    with pytest.raises(DataError, match="expected a reviews DataFrame"):
        amazon.load(str(d), str(tmp_path / "c"))
    frame = pd.DataFrame({"reviewerID": [0], "asin": [9], "unixReviewTime": [1]})
    _reference_pickle(str(d / amazon.REMAP_PICKLE), frame, np.array([0, 1]))
    with pytest.raises(DataError, match="category list has 2 entries but item ids go up to 9"):
        amazon.load(str(d), str(tmp_path / "c2"))


def test_cache_hit_returns_the_same_arrays(raw_dir, tmp_path):
    d = raw_dir()
    first = _parts(amazon.load(d, str(tmp_path / "cache")))
    assert len(os.listdir(str(tmp_path / "cache"))) == 1
    second = _parts(amazon.load(d, str(tmp_path / "cache")))
    for split in first[0]:
        for key in first[0][split]:
            np.testing.assert_array_equal(first[0][split][key], second[0][split][key])
    assert first[1] == second[1]
    for key in first[3]:
        np.testing.assert_array_equal(first[3][key], second[3][key])
    amazon.load(d, str(tmp_path / "cache"), maxlen=3)  # other parameters: another entry
    assert len(os.listdir(str(tmp_path / "cache"))) == 2


def test_synthetic_amazon_is_in_the_real_format(tmp_path):
    d = amazon_interests.generate(n_users=50, n_items=40, n_categories=5,
                                  directory=str(tmp_path / "s"))
    assert os.path.isfile(os.path.join(d, amazon.REVIEWS + ".gz"))
    first = open(os.path.join(d, amazon.META)).readline()
    assert first.startswith("{'asin'")  # a Python literal, not JSON
    splits, sizes, _, _ = _parts(amazon.load(d, str(tmp_path / "c")))
    assert sizes["categories"] == 6 and len(splits["train"]["label"]) > 0


@pytest.mark.parametrize("line, what", [
    ({"reviewerID": {"id": 1}, "asin": "a", "unixReviewTime": 1}, "reviewerID must be a string"),
    ({"reviewerID": "u9", "asin": ["a"], "unixReviewTime": 1}, "asin must be a string"),
    ({"reviewerID": "u9", "asin": True, "unixReviewTime": 1}, "asin must be a string"),
    ({"reviewerID": "u9", "asin": "a", "unixReviewTime": "soon"}, "could not convert"),
    ({"reviewerID": "u9", "asin": "a", "unixReviewTime": 1.5}, "whole number"),
    ({"reviewerID": "u9", "asin": "", "unixReviewTime": 1}, "asin is empty"),
    (["u9", "a", 1], "got a JSON list"),
    ({"reviewerID": "u9", "asin": "a", "unixReviewTime": "1e300"}, "out of range"),
    ({"reviewerID": "u9", "asin": "a", "unixReviewTime": 1e19}, "out of range"),
    ({"reviewerID": "u9", "asin": "a", "unixReviewTime": -5}, "out of range"),
])
def test_review_fields_of_the_wrong_type_are_bad_lines(raw_dir, tmp_path, line, what):
    d = raw_dir()
    with open(os.path.join(d, amazon.REVIEWS), "a") as handle:
        handle.write(json.dumps(line) + "\n")
    with pytest.raises(DataError, match=r"reviews_Electronics_5.json:10: .*" + what):
        amazon.load(d, str(tmp_path / "c1"))
    _, _, report, _ = _parts(amazon.load(d, str(tmp_path / "c2"), on_bad_line="skip"))
    assert report["skipped_lines:" + amazon.REVIEWS] == 1


def test_bytes_that_are_not_utf8_are_a_bad_line_not_a_new_item(raw_dir, tmp_path):
    d = raw_dir()
    with open(os.path.join(d, amazon.REVIEWS), "ab") as handle:
        handle.write(b'{"reviewerID": "u1", "asin": "\xff\xfe", "unixReviewTime": 99}\n')
    with pytest.raises(DataError, match=r":10: bytes that are not UTF-8 at column 31"):
        amazon.load(d, str(tmp_path / "c1"))
    _, sizes, report, vocab = _parts(amazon.load(d, str(tmp_path / "c2"), on_bad_line="skip"))
    assert report["skipped_lines:" + amazon.REVIEWS] == 1
    assert not any(u"\ufffd" in k for k in vocab["items"].tolist()) and sizes["items"] == 6


@pytest.mark.parametrize("categories", ["'Cameras'", "[['Electronics', 3]]", "['Cameras']",
                                        "{'a': 1}"])
def test_meta_categories_must_be_lists_of_lists_of_strings(raw_dir, tmp_path, categories):
    d = raw_dir()
    with open(os.path.join(d, amazon.META), "a") as handle:
        handle.write("{'asin': 'e', 'categories': %s}\n" % categories)
    with pytest.raises(DataError, match=r"meta_Electronics.json:5: .*categories a list of lists"):
        amazon.load(d, str(tmp_path / "c"))


def test_duplicate_reviews_are_dropped_and_counted(raw_dir, tmp_path, caplog):
    """Every review twice: without the drop the target leaks into its own history."""
    d = raw_dir()
    _write_reviews(os.path.join(d, amazon.REVIEWS), ROWS + [(u, a, t + 1) for u, a, t in ROWS])
    with caplog.at_level("WARNING"):
        splits, _, report, _ = _parts(amazon.load(d, str(tmp_path / "c"), log=__import__(
            "logging").getLogger("t")))
    assert report["duplicate_user_item_reviews_dropped"] == len(ROWS)
    assert "duplicate user item reviews dropped" in caplog.text
    clean, _, _, _ = _parts(amazon.load(raw_dir.__call__(gz=True), str(tmp_path / "c2")))
    for split in splits:
        np.testing.assert_array_equal(splits[split]["hist_items"], clean[split]["hist_items"])
    for split in splits.values():  # no positive target is in its own history
        pos = split["label"] > 0
        assert not (split["hist_items"][pos] == split["target_item"][pos][:, None]).any()


def test_plain_and_gzip_copies_must_agree(raw_dir, tmp_path):
    d = raw_dir()
    _write_reviews(os.path.join(d, amazon.REVIEWS), ROWS, gz=True)  # same text: fine
    amazon.load(d, str(tmp_path / "c1"))
    _write_reviews(os.path.join(d, amazon.REVIEWS), ROWS[:-1], gz=True)
    with pytest.raises(DataError, match=r"json and .*json.gz are both present with different"):
        amazon.load(d, str(tmp_path / "c2"))


def test_plain_and_gzip_copies_are_compared_once_per_load(raw_dir, tmp_path, monkeypatch):
    """The provider's detection and the loader both ask whether the two copies agree; the
    files are read for it once (issue 34: each answer read a release of GBs whole)."""
    from datasets import behaviour  # pylint: disable=import-outside-toplevel

    d = raw_dir()
    _write_reviews(os.path.join(d, amazon.REVIEWS), ROWS, gz=True)
    calls = []
    real = amazon._compare_text  # pylint: disable=protected-access

    def counted(*args):
        calls.append(args[:2])
        return real(*args)

    monkeypatch.setattr(amazon, "_compare_text", counted)
    assert behaviour.PROVIDER.detect(d).name == "amazon"
    amazon.load(d, str(tmp_path / "c"))
    assert len(calls) == 1


def test_cache_is_keyed_by_content_not_size_and_mtime(raw_dir, tmp_path):
    d = raw_dir()
    path = os.path.join(d, amazon.REVIEWS)
    first = _parts(amazon.load(d, str(tmp_path / "c")))
    stat = os.stat(path)
    text = open(path).read().replace('"asin": "d"', '"asin": "b"')  # same length
    with open(path, "w") as handle:
        handle.write(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size
    second = _parts(amazon.load(d, str(tmp_path / "c")))
    assert len(os.listdir(str(tmp_path / "c"))) == 2
    assert second[1]["items"] != first[1]["items"]


def test_remapped_pickle_columns_must_be_integer_ids(tmp_path):
    d = tmp_path / "pkl"
    d.mkdir()
    frame = pd.DataFrame({"reviewerID": ["x", "x", "x"], "asin": [0, 1, 2],
                          "unixReviewTime": [1, 2, 3]})
    _reference_pickle(str(d / amazon.REMAP_PICKLE), frame, np.array([0, 1, 0]))
    with pytest.raises(DataError, match="column reviewerID must hold non-negative integer ids"):
        amazon.load(str(d), str(tmp_path / "c"))


def test_the_candidates_statistics_leave_a_training_rows_fold_out(tmp_path):
    """target_count / target_rate / target_events of a TRAINING row come from the other folds'
    users (scaled to the whole set): nothing of the row's own label reaches its features (a
    leave-one-out rate is lower on an item's positive rows than on its negative ones, which
    trees read as the label). Validation and test rows see the whole training set."""
    def rows(users, items, labels, events):
        n = len(items)
        return samples.records(users, events, np.ones(n), items, np.ones(n), labels)

    # users 0..4 are folds 0..4; sequence[event] is the item each event is of
    sequence = np.array([1, 1, 2, 3, 9])
    splits = {"train": rows([0, 1, 2, 3], [1, 1, 2, 1], [1, 1, 1, 0], [0, 1, 2, 4]),
              "validation": rows([0], [2], [1], [4]), "test": rows([0, 1, 2], [1, 3, 4],
                                                                   [1, 0, 0], [4, 4, 4])}
    path = str(tmp_path / "set")
    samples.write(path, sequence, splits, {"items": 5, "categories": 2}, {},
                  {"items": np.array(["", "a", "b", "c", "d"]), "categories": np.array(["", "x"]),
                   "item_category": np.array([0, 1, 1, 1, 1])}, 3)
    data = behaviour_data.BehaviourData(samples.open_set(path), synthetic=True, root="memory")
    np.testing.assert_array_equal(data.item_counts, [0, 2, 1, 0, 0])
    scale = samples.FOLDS / (samples.FOLDS - 1.0)
    train = data.splits["train"]
    # item 1: positives of users 0 and 1, a negative of user 3; each row sees the others
    np.testing.assert_allclose(train["target_count"], [scale, scale, 0, 2 * scale])
    np.testing.assert_allclose(train["target_events"], [scale, scale, 0, 2 * scale])
    base = data.base_rate
    assert base == pytest.approx(3 / 4)
    prior = behaviour_data.RATE_PRIOR_ROWS
    rate_user0 = (scale + prior * base) / (2 * scale + prior)  # user 1's positive, user 3's
    np.testing.assert_allclose(train["target_rate"][0], rate_user0, rtol=1e-6)
    rate_user3 = (2 * scale + prior * base) / (2 * scale + prior)  # users 0 and 1's positives
    np.testing.assert_allclose(train["target_rate"][3], rate_user3, rtol=1e-6)
    test = data.splits["test"]
    np.testing.assert_array_equal(test["target_count"], [2, 0, 0])
    np.testing.assert_array_equal(test["target_events"], [2, 0, 0])
    np.testing.assert_allclose(test["target_rate"][0], (2 + prior * base) / (3 + prior),
                               rtol=1e-6)
    # no stars in these rows: the mean-feedback feature is 0 everywhere
    assert not np.any(test["target_feedback"]) and not np.any(train["target_feedback"])


def _write_release(folder, release, rows, categories, gz=True):
    """The same events in the 2018 or 2023 release's files and fields (JSON lines named by
    category; 2023: user_id / parent_asin / timestamp in milliseconds, flat categories)."""
    os.makedirs(folder)
    suffix = ".json" if release == 2018 else ".jsonl"
    reviews = os.path.join(folder, ("Electronics_5" if release == 2018 else "Electronics")
                           + suffix + (".gz" if gz else ""))
    opener = gzip.open if gz else open
    with opener(reviews, "wt") as handle:
        for user, asin, time in rows:
            if release == 2018:
                record = {"overall": 5.0, "verified": True, "reviewerID": user, "asin": asin,
                          "unixReviewTime": time, "reviewText": "fine"}
            else:
                record = {"rating": 5.0, "title": "ok", "text": "fine", "images": [],
                          "asin": asin + "-variant", "parent_asin": asin, "user_id": user,
                          "timestamp": time * 1000, "helpful_vote": 0,
                          "verified_purchase": True}
            handle.write(json.dumps(record) + "\n")
    with open(os.path.join(folder, "meta_Electronics" + suffix), "w") as handle:
        for asin, category in categories.items():
            if release == 2018:
                record = {"asin": asin, "title": "a \"quoted\" title", "main_cat": "All",
                          "category": ["Electronics", category], "rank": "1"}
            else:
                record = {"main_category": "All Electronics", "title": "x",
                          "parent_asin": asin, "categories": ["Electronics", category],
                          "details": {"Brand": "n/a"}}
            handle.write(json.dumps(record) + "\n")
    return folder


@pytest.mark.parametrize("release", [2018, 2023])
def test_the_2018_and_2023_releases_give_the_samples_of_2014(raw_dir, tmp_path, release):
    """Detected by their files and fields, read by the same processing path: the same events
    and categories in the 2018 or 2023 release give exactly the 2014 reader's samples."""
    want = _parts(amazon.load(raw_dir(), str(tmp_path / "cache14"), maxlen=2))
    folder = _write_release(str(tmp_path / str(release)), release, ROWS, META)
    got = _parts(amazon.load(folder, str(tmp_path / "cache"), maxlen=2))
    assert got[1] == want[1] and got[2] == want[2]
    assert got[3]["categories"].tolist() == want[3]["categories"].tolist()
    for split in want[0]:
        for key in want[0][split]:
            np.testing.assert_array_equal(got[0][split][key], want[0][split][key])


def test_an_empty_category_list_falls_back_to_the_main_category():
    assert amazon._meta_fields({"parent_asin": "p", "categories": [],  # pylint: disable=W0212
                                "main_category": "Cell Phones"}) == ("p", "Cell Phones")
    assert amazon._meta_fields({"asin": "a", "category": [],  # pylint: disable=W0212
                                "main_cat": ""}) == ("a", "unknown")


def test_several_review_files_in_one_folder_are_named(tmp_path):
    folder = _write_release(str(tmp_path / "r"), 2023, ROWS, META)
    with open(os.path.join(folder, "Books.jsonl"), "w") as handle:
        handle.write("{}\n")
    with pytest.raises(DataError, match="several reviews files .*Books.jsonl"):
        amazon.load(folder, str(tmp_path / "cache"))


@pytest.mark.parametrize("release", [2018, 2023])
def test_din_trains_one_epoch_on_a_2018_or_2023_folder(tmp_path, monkeypatch, release):
    """Through the command line: the release is read, trained on for an epoch and scored,
    with the rules on the same rows."""
    from training import fit  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    rng = np.random.RandomState(release)
    rows = [("u{}".format(u), "p{}".format(rng.randint(40)), 100 * u + k)
            for u in range(300) for k in range(8)]
    folder = _write_release(str(tmp_path / str(release)), release, rows,
                            {"p{}".format(i): "c{}".format(i % 5) for i in range(40)})
    out = str(tmp_path / "run")
    assert fit.main(["--model", "din", "--data-dir", folder, "--output-dir", out,
                     "--batch-size", "64", "--epochs", "1",
                     "--set", "model.embedding_dim=8"]) == 0
    with open(os.path.join(out, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["data"]["sizes"]["users"] == 300 and metrics["data"]["sizes"]["items"] == 41
    assert metrics["rows"]["test"]["rows"] == 2 * 300  # each user's last event and a negative
    assert set(metrics["baselines"]["test"]) == set(din_baselines.RULES + din_baselines.LEARNED) \
        | {"base_rate"}
    assert 0.0 <= metrics["test"]["auc"] <= 1.0


def test_raw_files_beside_remap_pickle_are_refused_as_ambiguous(tmp_path):
    """Issue 35: the raw files used to win without a word."""
    for name in (amazon.REVIEWS, amazon.META, amazon.REMAP_PICKLE):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError, match="both raw Amazon files .* and remap.pkl"):
        amazon.load(str(tmp_path), str(tmp_path / "cache"))
    (tmp_path / amazon.REMAP_PICKLE).unlink()
    assert amazon.detect(str(tmp_path)) == [str(tmp_path / amazon.REVIEWS),
                                            str(tmp_path / amazon.META)]


def test_users_of_three_events_give_no_training_rows_and_that_is_said(tmp_path, capsys,
                                                                     monkeypatch):
    """Issue 35: every user with exactly 3 events was refused as "batch_size (32) is larger
    than the training set (0 examples)", which says nothing of why."""
    from training import fit  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    rows = [("u%d" % u, a, t) for u in range(20) for t, a in enumerate("abc")]
    _write_reviews(str(tmp_path / amazon.REVIEWS), rows)
    _write_meta(str(tmp_path / amazon.META), META)
    assert fit.main(["--model", "din", "--data-dir", str(tmp_path), "--output-dir",
                     str(tmp_path / "run"), "--device", "cpu", "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert "no train rows from 20 users and 60 events" in err
    assert "users with 4 or more events, and here every user has 3 or fewer" in err
    assert not (tmp_path / "run").exists()
