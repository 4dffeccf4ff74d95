"""What real behaviour logs hold and how rows are made of them: each event's feedback, the
user's running statistics, negatives drawn so that the candidate alone tells nothing
(``in_split``), k-core filtering, and the long-tail generator that shows why."""
import collections
import json

import numpy as np
import pandas as pd
import pytest

from datasets import amazon, behaviour_data, movielens, samples
from datasets.generators import amazon_longtail
from core.errors import DataError


def test_running_statistics_match_a_slow_reference():
    rng = np.random.RandomState(0)
    users = np.sort(rng.randint(20, size=400))
    categories = rng.randint(1, 6, size=400)
    liked = rng.randint(2, size=400)
    prior_events, prior_positives = samples.prior_stats(users, liked)
    rows = rng.randint(400, size=300)
    row_cat = rng.randint(1, 6, size=300)
    cat_events, cat_positives = samples.category_prior(users, categories, liked, users[rows],
                                                       rows, row_cat)
    for i in range(400):
        earlier = [j for j in range(i) if users[j] == users[i]]
        assert prior_events[i] == len(earlier)
        assert prior_positives[i] == sum(liked[j] for j in earlier)
    for r, (e, c) in enumerate(zip(rows, row_cat)):
        earlier = [j for j in range(e) if users[j] == users[e] and categories[j] == c]
        assert cat_events[r] == len(earlier)
        assert cat_positives[r] == sum(liked[j] for j in earlier)


def test_feedback_codes_name_ratings_stars_and_behaviour_types():
    codes, names = samples.feedback_codes([4.0, 5.0, np.nan, 3.5, 4.0])
    assert names == ["", "3.5", "4", "5"]
    assert codes.tolist() == [2, 3, 0, 1, 2]
    codes, names = samples.feedback_codes(["buy", "click", None, "cart", "click"])
    assert names == ["", "buy", "cart", "click"]
    assert codes.tolist() == [1, 3, 0, 2, 3]
    assert [samples.feedback_name(v) for v in (4.0, 3.5, "cart", float("nan"))] == \
        ["4", "3.5", "cart", "nan"]


def _reviews(rows):
    return pd.DataFrame(rows, columns=["user", "item", "time", "stars"])


def test_amazon_stars_are_each_events_feedback_and_the_protocol_is_recorded(tmp_path):
    lines = []
    for u in range(30):
        for t in range(5):
            record = {"reviewerID": "u%d" % u, "asin": "i%d" % ((u + 3 * t) % 25),
                      "unixReviewTime": 1000 + 10 * t}
            if t != 2:  # one review without stars: feedback "none"
                record["overall"] = float(1 + (u + t) % 5)
            lines.append(json.dumps(record))
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / amazon.REVIEWS).write_text("\n".join(lines) + "\n")
    (folder / amazon.META).write_text("\n".join(
        repr({"asin": "i%d" % i, "categories": [["c%d" % (i % 4)]]}) for i in range(25)))
    opened = amazon.load(str(folder), str(tmp_path / "cache"))
    assert opened.vocab["feedback"].tolist() == ["", "1", "2", "3", "4", "5"]
    assert opened.protocol["negatives"].startswith("in_split")
    assert opened.protocol["feedback"] == "the review's stars"
    # the events of user u0, in time order: stars 1, 2, none, 4, 5
    first = opened.sequence[:5]
    assert opened.feedback[:5].tolist() == [1, 2, 0, 4, 5] and len(set(first)) == 5
    # a row's history carries its events' feedback
    test = opened.splits["test"]
    row = int(np.flatnonzero(test["user"] == 0)[0])
    assert test["hist_feedback"][row, :4].tolist() == [1, 2, 0, 4]
    assert test["prior_events"][row] == 4 and test["prior_positives"][row] == 4


def test_movielens_ratings_are_feedback_and_only_4_and_5_are_liked():
    rng = np.random.RandomState(0)
    ratings = pd.DataFrame({"user": np.repeat(np.arange(20), 4),
                            "item": np.tile([10, 11, 12, 13], 20),
                            "rating": rng.randint(1, 6, size=80),
                            "time": np.arange(80)})
    genres = {"10": "Drama", "11": "Comedy", "12": "Drama", "13": "Comedy"}
    sequence, splits, sizes, vocab, feedback = movielens.build_samples(ratings, genres,
                                                                       maxlen=5, seed=0)
    assert vocab["feedback"].tolist() == ["", "1", "2", "3", "4", "5"]
    assert vocab["feedback_liked"].tolist() == [0, 0, 0, 0, 1, 1]
    rows = np.concatenate(list(splits.values()))
    columns = {name: rows[:, i] for i, name in enumerate(samples.RECORD)}
    for i in range(len(rows)):
        event = columns["event"][i]
        user = columns["user"][i]
        earlier = [e for e in range(event) if e >= 4 * user]
        assert columns["prior_events"][i] == len(earlier)
        assert columns["prior_positives"][i] == sum(feedback[e] >= 4 for e in earlier)


def test_in_split_negatives_are_drawn_like_positives():
    """A negative's candidate is a positive candidate of the same split (training rows: of
    the same fold of users), never an item the user touched."""
    rng = np.random.RandomState(1)
    rows = [("u%d" % u, "i%d" % rng.randint(300), t, 5.0) for u in range(200)
            for t in range(rng.randint(3, 12))]
    reviews = _reviews(rows)
    report = collections.Counter()
    sequence, splits, _, _, _ = amazon.build_samples(
        reviews, {"i%d" % i: "c%d" % (i % 9) for i in range(300)}, maxlen=4, seed=0,
        report=report)
    touched = {(u, i) for u, i in zip(*_user_events(sequence, splits))}
    for name, split in splits.items():
        columns = {k: split[:, i] for i, k in enumerate(samples.RECORD)}
        positive = columns["label"] > 0
        for fold in range(samples.FOLDS) if name == "train" else [None]:
            group = np.ones(len(positive), bool) if fold is None else \
                samples.fold_of(columns["user"]) == fold
            allowed = set(columns["target_item"][positive & group].tolist())
            negatives = columns["target_item"][~positive & group]
            assert set(negatives.tolist()) <= allowed, (name, fold)
        for u, item in zip(columns["user"][~positive], columns["target_item"][~positive]):
            assert (u, item) not in touched
    assert report["negatives_touched_by_user"] == 0


def _user_events(sequence, splits):
    """(user, item) of every event, from the rows (each predicted event and its history)."""
    users, items = [], []
    for split in splits.values():
        columns = {k: split[:, i] for i, k in enumerate(samples.RECORD)}
        for u, e, h in zip(columns["user"], columns["event"], columns["hist_len"]):
            for j in range(e - h, e + 1):
                users.append(u)
                items.append(sequence[j])
    return users, items


def test_a_tiny_split_falls_back_to_the_catalogue_and_says_so():
    # two users: the test split's candidates are items both users touched
    reviews = _reviews([("a", "x", 1, 5.0), ("a", "y", 2, 5.0), ("a", "z", 3, 5.0),
                        ("b", "x", 1, 5.0), ("b", "y", 2, 5.0), ("b", "z", 3, 5.0),
                        ("c", "w", 1, 5.0), ("c", "v", 2, 5.0), ("c", "q", 3, 5.0),
                        ("c", "p", 4, 5.0)])
    report = collections.Counter()
    amazon.build_samples(reviews, {}, maxlen=3, seed=0, report=report)
    assert report["negatives_from_the_catalogue_split_exhausted"] > 0
    assert report["negatives_touched_by_user"] == 0


def test_min_item_events_drops_rare_items_first_and_counts_them():
    rows = [("u%d" % u, "common%d" % (t % 3), t, 5.0) for u in range(10) for t in range(4)]
    rows += [("u0", "rare", 99, 5.0)]
    report = collections.Counter()
    _, _, sizes, vocab, _ = amazon.build_samples(_reviews(rows), {}, maxlen=3, seed=0,
                                                 report=report, min_item_events=2)
    assert "rare" not in vocab["items"].tolist()
    assert report["events_of_items_below_min_item_events_dropped"] == 1
    with pytest.raises(DataError, match="negatives .*'popular'"):
        amazon.build_samples(_reviews(rows), {}, negatives="popular")


@pytest.mark.parametrize("negatives", ["in_split", "uniform"])
def test_on_a_long_tail_log_only_in_split_negatives_hide_the_candidate(
        tmp_path, monkeypatch, negatives):
    """Most items of the long-tail generator occur once and new ones keep arriving: with the
    paper's uniform draw "never seen in training" marks positives; with in_split negatives
    every candidate-only rule sits near 0.5 while the history still predicts."""
    from training.tasks import din_baselines  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    root = amazon_longtail.generate(n_users=400)
    opened = amazon.load(root, str(tmp_path / "cache"), negatives=negatives)
    data = behaviour_data.BehaviourData(opened, synthetic=True, root=root)
    events = collections.Counter(opened.sequence.tolist())
    assert np.mean([c == 1 for c in events.values()]) > 0.6  # most items occur once
    base = din_baselines.Baselines(data).score("test")
    candidate_only = [base[rule]["auc"] for rule in (
        "item_popularity", "inverse_popularity", "seen_in_training", "unseen_in_training",
        "item_positive_rate")]
    if negatives == "in_split":
        assert max(candidate_only) < 0.6, base
    else:
        assert max(candidate_only) > 0.65, base
    assert base["category_in_history"]["auc"] > 0.75


def test_the_candidates_mean_feedback_is_out_of_fold_for_training_rows(tmp_path):
    """target_feedback: the item's mean rating over its training events minus the training
    mean, smoothed; a training row does not see its own fold's ratings."""
    rng = np.random.RandomState(0)
    ratings = pd.DataFrame({"user": np.repeat(np.arange(40), 5),
                            "item": rng.randint(10, 16, size=200),
                            "rating": rng.randint(1, 6, size=200),
                            "time": np.arange(200)})
    genres = {str(i): "Drama" for i in range(10, 16)}
    sequence, splits, sizes, vocab, feedback = movielens.build_samples(ratings, genres,
                                                                       maxlen=5, seed=0)
    path = str(tmp_path / "set")
    samples.write(path, sequence, splits, sizes, {}, vocab, 5, feedback=feedback)
    data = behaviour_data.BehaviourData(samples.open_set(path), synthetic=False, root="memory")
    rating = samples.feedback_values(vocab["feedback"])[feedback]
    train = splits["train"]
    columns = {k: train[:, i] for i, k in enumerate(samples.RECORD)}
    events = np.unique(columns["event"])
    mean = rating[events].mean()
    assert data.feedback_mean == pytest.approx(mean)
    prior = behaviour_data.FEEDBACK_PRIOR_EVENTS
    got = data.splits["test"]["target_feedback"]
    test_items = data.splits["test"]["target_item"]
    for item, value in zip(test_items, got):
        mine = rating[events][sequence[events] == item]
        assert value == pytest.approx((mine.sum() - len(mine) * mean) / (len(mine) + prior),
                                      rel=1e-5, abs=1e-6)
    # a training row: the other folds' events only, counts scaled to the whole set
    row = 0
    fold = samples.fold_of(columns["user"][row])
    folds = samples.FOLDS / (samples.FOLDS - 1.0)
    user_of_event = dict(zip(columns["event"].tolist(), columns["user"].tolist()))
    item = columns["target_item"][row]
    kept = [e for e in events if sequence[e] == item
            and samples.fold_of(user_of_event[e]) != fold]
    total, count = folds * rating[kept].sum(), folds * len(kept)
    assert data.splits["train"]["target_feedback"][row] == pytest.approx(
        (total - count * mean) / (count + prior), rel=1e-5, abs=1e-6)


def test_a_split_with_one_label_is_refused_before_training(tmp_path, monkeypatch):
    """MovieLens where every rating is 4 or 5: no negatives, AUC undefined; the task says so
    when the data is prepared (it used to train, log auc=nan and crash at the end)."""
    from datasets import movielens as ml  # pylint: disable=import-outside-toplevel
    from training.tasks.din import DINDataConfig, DINTask  # pylint: disable=import-outside-toplevel

    root = tmp_path / "ml-100k"
    root.mkdir()
    lines = ["{}\t{}\t5\t{}".format(u, i, 880000000 + 10 * u + i) for u in range(1, 31)
             for i in range(1, 6)]
    (root / "u.data").write_text("\n".join(lines) + "\n")
    flags = "|".join(["0"] * len(ml.GENRES_100K))
    (root / "u.item").write_text("\n".join("{}|Movie {}||||{}".format(i, i, flags)
                                           for i in range(1, 6)) + "\n")
    task = DINTask(data_config=DINDataConfig(data_dir=str(root),
                                             cache_dir=str(tmp_path / "cache")))
    with pytest.raises(DataError, match=r"every train row is positive .*rating >= 4"):
        task.prepare(seed=0)
