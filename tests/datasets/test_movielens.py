"""MovieLens read natively (ml-100k, ml-1m / ml-10m, ml-20m / ml-25m / ml-latest layouts):
the same ratings in every layout give the same samples, under the paper's protocol."""
import collections
import json
import os

import numpy as np
import pytest

from datasets import movielens, samples
from training.tasks import din_baselines
from core.errors import DataError
from tests.datasets import movielens_fixture as fx
from training import fit

LAYOUTS = ("csv", "dat", "100k")


@pytest.fixture(scope="module")
def catalogue():
    movies = fx.catalogue()
    return movies, fx.ratings(movies)


def _load(root, tmp_path, **kwargs):
    sample_set, protocol = movielens.load(root, str(tmp_path / "cache"), maxlen=5, **kwargs)
    return (sample_set.splits, sample_set.sizes, sample_set.report, sample_set.vocab,
            protocol)


def test_every_layout_is_detected_and_gives_the_same_samples(catalogue, tmp_path):
    movies, rows = catalogue
    loaded = {}
    for layout in LAYOUTS:
        root = fx.write(str(tmp_path / layout), layout, movies, rows)
        assert movielens.detect(root) == layout
        loaded[layout] = _load(root, tmp_path / layout)
    splits, sizes, _, vocab, protocol = loaded["csv"]
    assert protocol["layout"] == "csv" and "rating >= 4" in protocol["label"]
    for layout in ("dat", "100k"):
        other_splits, other_sizes, _, other_vocab, _ = loaded[layout]
        assert other_sizes == sizes
        assert list(other_vocab["categories"]) == list(vocab["categories"])
        for split in splits:
            for key in splits[split]:
                np.testing.assert_array_equal(other_splits[split][key], splits[split][key],
                                              err_msg="{} {} {}".format(layout, split, key))
    assert movielens.detect(str(tmp_path)) is None


def test_the_protocol_labels_users_and_histories(catalogue, tmp_path):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    splits, sizes, _, vocab, _ = _load(root, tmp_path)
    users = {s: set(splits[s]["user"].tolist()) for s in splits}
    assert not (users["train"] & users["test"]) and not (users["train"] & users["validation"])
    assert not (users["validation"] & users["test"])
    n_users = sum(len(u) for u in users.values())
    assert n_users == sizes["users"] == 120
    assert abs(len(users["test"]) - 0.2 * n_users) <= 1
    assert abs(len(users["validation"]) - 0.1 * n_users) <= 1
    # labels: ratings 4-5; each user's first rating predicts nothing, every later one a row
    rating = {(u, m): r for u, m, r, _ in rows}
    raw_user = sorted({u for u, _, _, _ in rows})
    items = vocab["items"]
    for split in splits:
        s = splits[split]
        for row in range(0, len(s["label"]), 7):
            user, movie = raw_user[s["user"][row]], int(items[s["target_item"][row]])
            assert s["label"][row] == float(rating[(user, movie)] >= 4)
    assert sum(len(s["label"]) for s in splits.values()) == len(rows) - 120
    # histories: the user's previous movies, oldest first, the most recent maxlen
    train = splits["train"]
    row = int(np.flatnonzero(train["hist_len"] == 5)[0])
    user = raw_user[train["user"][row]]
    seen = [m for u, m, _, t in sorted(rows, key=lambda r: (r[0], r[3])) if u == user]
    target = int(items[train["target_item"][row]])
    before = seen[:seen.index(target)][-5:]
    assert [int(items[i]) for i in train["hist_items"][row]] == before


def test_the_category_is_the_rarest_genre(catalogue):
    genres = {"1": ["Drama", "Film-Noir"], "2": ["Drama"], "3": ["Drama", "Film-Noir"],
              "4": ["Comedy", "Western"], "5": ["Comedy", "Western"], "6": []}
    primary = movielens.primary_genres(genres)
    assert primary["1"] == "Film-Noir" and primary["2"] == "Drama"
    assert primary["4"] == "Comedy"  # a tie: by name
    assert primary["6"] == movielens.NO_GENRE


@pytest.mark.parametrize("layout, line, needle", [
    ("csv", "7,abc,4.0,978300000\n", "ratings.csv:"),
    ("csv", "7,3,4.0,soon\n", "ratings.csv:"),
    ("dat", "7::3::4\n", "ratings.dat:"),
    ("100k", "7\t3\t4\t-5\n", "u.data:"),
])
def test_a_bad_rating_line_is_named_or_skipped_and_counted(catalogue, tmp_path, layout, line,
                                                           needle):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), layout, movies, rows)
    name = movielens.LAYOUTS[layout][0]
    with open(os.path.join(root, name), "a", encoding="latin-1") as handle:
        handle.write(line)
    bad_line = len(rows) + (2 if layout == "csv" else 1)
    with pytest.raises(DataError, match="{}{}: expected integer".format(needle, bad_line)):
        _load(root, tmp_path / "a")
    _, _, report, _, _ = _load(root, tmp_path / "b", on_bad_line="skip")
    assert report["skipped_lines:" + name] == 1


def test_no_movielens_files_is_named(tmp_path):
    with pytest.raises(DataError, match="no MovieLens files"):
        movielens.load(str(tmp_path), str(tmp_path / "cache"))


def test_din_trains_on_a_movielens_folder_and_records_the_protocol(catalogue, tmp_path,
                                                                   monkeypatch):
    """``--data-dir`` a MovieLens folder: the protocol is in metrics.json, the rules are on
    the same rows, and the model learns (AUC above chance). On this tiny folder (61 movies,
    130 steps) DIN measured 0.66-0.68 test AUC, level with item popularity and under it on
    validation, which the run records in ``below_rules``: a reader test, not a quality
    claim."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    movies, _ = catalogue
    rows = fx.ratings(movies, n_users=400, per_user=20)
    root = fx.write(str(tmp_path / "ml-latest-small"), "csv", movies, rows)
    out = str(tmp_path / "run")
    assert fit.main(["--model", "din", "--data-dir", root, "--output-dir", out, "--device",
                     "cpu", "--batch-size", "128", "--epochs", "3", "--seed", "0",
                     "--set", "model.embedding_dim=8"]) == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["data"]["protocol"]["dataset"] == "movielens"
    assert set(metrics["baselines"]["test"]) == set(din_baselines.RULES + din_baselines.LEARNED) \
        | {"base_rate"}
    assert metrics["test"]["auc"] > 0.6
    assert collections.Counter(metrics["rows"]["test"]) == collections.Counter(
        {"rows": metrics["data"]["rows"]["test"],
         "gauc_users": metrics["rows"]["test"]["gauc_users"]})


# --- issue 35: ids that str.isdigit() accepts but int() refuses, ambiguity, duplicates --------

@pytest.mark.parametrize("layout, line, what", [
    ("100k", "\u00b2\t3\t4\t978300000\n", "Unicode digit user"),
    ("csv", "7,\u0663,4.0,978300000\n", "Arabic-Indic digit movie"),
    ("dat", "99999999999999999999::3::4::978300000\n", "user id beyond int64"),
    ("csv", "7,123456789012345678901234,4.0,978300000\n", "movie id beyond int64"),
])
def test_ids_that_are_not_ascii_int64_are_named(catalogue, tmp_path, layout, line, what):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), layout, movies, rows)
    name = movielens.LAYOUTS[layout][0]
    encoding = "utf-8" if layout == "csv" else "latin-1"
    with open(os.path.join(root, name), "a", encoding=encoding,
              errors="backslashreplace") as handle:
        handle.write(line)
    bad_line = len(rows) + (2 if layout == "csv" else 1)
    with pytest.raises(DataError, match="{}:{}: expected integer".format(name, bad_line)):
        _load(root, tmp_path / "a")


def test_a_movie_id_in_unicode_digits_is_named(catalogue, tmp_path):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    with open(os.path.join(root, "movies.csv"), "a", encoding="utf-8") as handle:
        handle.write('\u00b3,"Cubed",Drama\n')
    with pytest.raises(DataError, match=r"movies.csv:\d+: expected a movie id"):
        _load(root, tmp_path / "a")


def test_a_movie_listed_twice_keeps_its_first_line_and_is_counted(catalogue, tmp_path):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    first = _load(root, tmp_path / "a")
    movie, _, genres = movies[0]
    other = "Western" if "Western" not in genres else "Drama"
    with open(os.path.join(root, "movies.csv"), "a", encoding="utf-8") as handle:
        handle.write('{},"Again",{}\n'.format(movie, other))
    again = _load(root, tmp_path / "b")
    assert again[2]["duplicate_movie_lines_dropped:movies.csv"] == 1
    assert list(again[3]["categories"]) == list(first[3]["categories"])
    np.testing.assert_array_equal(again[0]["train"]["target_cat"],
                                  first[0]["train"]["target_cat"])


def test_two_layouts_in_one_folder_are_refused(catalogue, tmp_path):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    fx.write(root, "100k", movies, rows)
    with pytest.raises(DataError, match="2 layouts .*ratings.csv \\+ movies.csv, u.data"):
        movielens.detect(root)


def test_movielens_and_amazon_files_in_one_folder_are_refused(catalogue, tmp_path, capsys):
    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    with open(os.path.join(root, "remap.pkl"), "wb") as handle:
        handle.write(b"not read")
    code = fit.main(["--model", "din", "--data-dir", root, "--output-dir",
                     str(tmp_path / "run"), "--device", "cpu", "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "files of 2 formats (MovieLens" in err and "Amazon reviews" in err and "ambiguous" in err
    assert not os.path.exists(str(tmp_path / "run"))


def test_ten_users_split_seven_one_two(catalogue, tmp_path):
    """Issue 35: cumsum((0.7, 0.1, 0.2)) is 0.7999..., which floored 10 users to 7/0/3 and
    the run was refused for "no validation rows"."""
    movies, _ = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, fx.ratings(movies, n_users=10))
    splits = _load(root, tmp_path)[0]
    users = [len(set(splits[s]["user"].tolist())) for s in ("train", "validation", "test")]
    assert users == [7, 1, 2]


def _cache_folder(cache):
    found = [os.path.join(root, d) for root, dirs, _ in os.walk(cache) for d in dirs
             if d.startswith("movielens-")]
    assert len(found) == 1, found
    return found[0]


def test_a_changed_cache_is_never_trusted_it_is_built_again(catalogue, tmp_path, caplog):
    """Issue 35: labels flipped in test.npy trained and scored silently (AUC 0.464 for
    0.536). The cache records every file's digest; a changed file is said and rebuilt."""
    import logging  # pylint: disable=import-outside-toplevel

    movies, rows = catalogue
    root = fx.write(str(tmp_path / "ml"), "csv", movies, rows)
    log = logging.getLogger("test-cache")
    first, _ = movielens.load(root, str(tmp_path / "cache"), maxlen=5, log=log)
    labels = np.array(first.splits["test"]["label"])
    folder = _cache_folder(str(tmp_path / "cache"))
    records = np.load(os.path.join(folder, "test.npy"))
    records[:, samples.RECORD.index("label")] ^= 1
    np.save(os.path.join(folder, "test.npy"), records)
    caplog.set_level(logging.WARNING)
    again, _ = movielens.load(root, str(tmp_path / "cache"), maxlen=5, log=log)
    assert any("test.npy: its bytes changed" in r.getMessage() and "building it again" in
               r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(np.array(again.splits["test"]["label"]), labels)


def test_another_data_sets_cache_moved_into_place_is_built_again(catalogue, tmp_path, caplog):
    """Issue 35: a cache folder replaced by another data set's was trained on."""
    import logging  # pylint: disable=import-outside-toplevel
    import shutil  # pylint: disable=import-outside-toplevel

    movies, rows = catalogue
    small = fx.write(str(tmp_path / "small"), "csv", movies, rows[:900])
    big = fx.write(str(tmp_path / "big"), "csv", movies, rows)
    log = logging.getLogger("test-cache")
    movielens.load(small, str(tmp_path / "a"), maxlen=5, log=log)
    expected, _ = movielens.load(big, str(tmp_path / "b"), maxlen=5, log=log)
    target = _cache_folder(str(tmp_path / "b"))
    shutil.rmtree(target)
    shutil.copytree(_cache_folder(str(tmp_path / "a")), target)
    caplog.set_level(logging.WARNING)
    got, _ = movielens.load(big, str(tmp_path / "b"), maxlen=5, log=log)
    assert any("it was built as" in r.getMessage() for r in caplog.records)
    assert got.sizes == expected.sizes
