"""Metrics against hand-computed examples (each value below is worked out in the comment)."""
import math

import numpy as np
import pytest

from training.infra import metrics as M
from training.tasks import din_metrics
from training.tasks import ngnn_metrics


def test_auc_counts_ties_as_half_and_is_nan_for_one_class():
    # pairs (pos, neg): (0.8,0.2) win, (0.8,0.5) win, (0.5,0.2) win, (0.5,0.5) tie -> 3.5 / 4
    assert M.auc([1, 1, 0, 0], [0.8, 0.5, 0.2, 0.5]) == pytest.approx(0.875)
    assert math.isnan(M.auc([1, 1], [0.1, 0.2]))


def test_logloss_is_clipped_not_infinite():
    assert M.logloss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert math.isfinite(M.logloss([1], [0.0]))  # clipped at 1e-7: -log(1e-7) ~ 16.1
    assert M.logloss([1], [0.0]) == pytest.approx(-math.log(1e-7))


def test_gauc_weights_users_by_impressions_and_skips_one_class_users():
    groups = [7, 7, 7, 7, 9, 9, 3, 3]
    labels = [1, 0, 0, 1, 1, 0, 1, 1]  # user 3 has positives only: left out
    scores = [0.9, 0.1, 0.5, 0.4, 0.2, 0.3, 0.5, 0.6]
    # user 7: pos {0.9, 0.4} vs neg {0.1, 0.5}: wins 0.9>0.1, 0.9>0.5, 0.4>0.1 -> 3/4, 4 rows
    # user 9: pos 0.2 vs neg 0.3 -> 0, 2 rows;  GAUC = (0.75*4 + 0*2) / 6 = 0.5
    assert din_metrics.gauc(groups, labels, scores) == pytest.approx(0.5)
    # equal to sklearn's AUC per user when computed one user at a time
    assert din_metrics.gauc([1] * 4, labels[:4], scores[:4]) == pytest.approx(M.auc(labels[:4], scores[:4]))
    assert math.isnan(din_metrics.gauc([1, 1], [1, 1], [0.1, 0.2]))


def test_gauc_matches_a_loop_over_users_on_random_data():
    rng = np.random.RandomState(0)
    groups = rng.randint(30, size=600)
    labels = rng.randint(2, size=600)
    scores = np.round(rng.uniform(size=600), 1)  # many ties
    total = weight = 0.0
    for g in np.unique(groups):
        rows = groups == g
        if labels[rows].min() != labels[rows].max():
            total += M.auc(labels[rows], scores[rows]) * rows.sum()
            weight += rows.sum()
    assert din_metrics.gauc(groups, labels, scores) == pytest.approx(total / weight)


@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_row_metrics_in_pieces_equal_the_whole_array_definitions(monkeypatch, chunk, dtype):
    """AUC, GAUC and log loss run piece by piece (``M.CHUNK`` rows) for full-size splits:
    with pieces far smaller than the runs of tied scores and than the users, on users in
    order and shuffled, they equal scikit-learn's AUC, a loop over users and the plain
    log-loss formula."""
    from sklearn.metrics import roc_auc_score

    monkeypatch.setattr(M, "CHUNK", chunk)
    rng = np.random.RandomState(1)
    n = 3000
    scores = (rng.randint(0, 12, size=n) / (12.0 if dtype != np.int64 else 1)).astype(dtype)
    groups = np.sort(rng.randint(0, 40, size=n))  # users in order, as evaluation splits are
    labels = (rng.uniform(size=n) < 0.1 + 0.06 * scores.astype(np.float64)).astype(np.float32)
    assert M.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    total = weight = 0.0
    for g in np.unique(groups):
        rows = groups == g
        if labels[rows].min() != labels[rows].max():
            total += roc_auc_score(labels[rows], scores[rows]) * rows.sum()
            weight += rows.sum()
    assert din_metrics.gauc(groups, labels, scores) == pytest.approx(total / weight, abs=1e-12)
    shuffle = rng.permutation(n)
    assert din_metrics.gauc(groups[shuffle], labels[shuffle], scores[shuffle]) == pytest.approx(
        total / weight, abs=1e-12)
    p = np.clip(scores.astype(np.float64) / max(float(scores.max()), 1.0), 1e-7, 1 - 1e-7)
    assert M.logloss(labels, p) == pytest.approx(
        -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)), rel=1e-12)


def test_row_metrics_refuse_nan_scores_mismatched_lengths_and_non_binary_labels():
    with pytest.raises(ValueError, match="NaN"):
        M.auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        din_metrics.gauc([1, 1], [0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="labels must be 0 or 1; row 2 is 2"):
        M.auc([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4])  # a rating where a label belongs
    with pytest.raises(ValueError, match="row 1 is 0.5"):
        M.logloss([1.0, 0.5], [0.3, 0.4])


def test_fitb_accuracy_and_mrr_with_ties():
    """Ties count at their expected value under a random tie-break (the default, for every
    scorer): a constant scorer gets chance, 1/4, not 0."""
    scores = np.array([[0.9, 0.1, 0.2, 0.3],    # right: rank 1
                       [0.5, 0.5, 0.1, 0.1],    # tie with one other: 1/2 (wrong: 0)
                       [0.1, 0.2, 0.3, 0.4],    # rank 4
                       [0.3, 0.3, 0.3, 0.3]])   # all tied: 1/4 (wrong: 0)
    assert ngnn_metrics.fitb_accuracy(scores) == pytest.approx((1 + 1 / 2 + 0 + 1 / 4) / 4)
    assert ngnn_metrics.fitb_accuracy(scores, ties="wrong") == pytest.approx(1 / 4)
    # MRR, expected over the tied positions: 1, (1 + 1/2) / 2, 1/4, (1 + 1/2 + 1/3 + 1/4) / 4
    assert ngnn_metrics.fitb_mrr(scores) == pytest.approx(
        (1 + 0.75 + 0.25 + (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4) / 4)
    # ties="wrong" ranks the true answer behind: ranks 1, 2, 4, 4
    assert ngnn_metrics.fitb_mrr(scores, ties="wrong") == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 4) / 4)
    constant = np.zeros((5, 4))
    assert ngnn_metrics.fitb_accuracy(constant) == pytest.approx(0.25)
    assert ngnn_metrics.fitb_mrr(constant) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_expected_mrr_matches_random_tie_breaking():
    rng = np.random.RandomState(0)
    scores = rng.randint(3, size=(400, 4)).astype(float)  # many ties
    draws = []
    for _ in range(300):
        jitter = scores + 1e-6 * rng.uniform(size=scores.shape)  # a random tie-break
        draws.append((ngnn_metrics.fitb_mrr(jitter), ngnn_metrics.fitb_accuracy(jitter)))
    mrr, accuracy = np.mean(draws, axis=0)
    assert ngnn_metrics.fitb_mrr(scores) == pytest.approx(mrr, abs=0.005)
    assert ngnn_metrics.fitb_accuracy(scores) == pytest.approx(accuracy, abs=0.005)


def test_pairwise_accuracy_and_rela_impr():
    assert ngnn_metrics.pairwise_accuracy([3, 2, 1, 5], [1, 2, 4, 0]) == pytest.approx(2.5 / 4)
    assert ngnn_metrics.pairwise_accuracy([3, 2, 1, 5], [1, 2, 4, 0], ties="wrong") == \
        pytest.approx(2 / 4)
    # RelaImpr: (0.7 - 0.5) / (0.6 - 0.5) - 1 = 1.0 (twice as far above chance)
    assert din_metrics.rela_impr(0.7, 0.6) == pytest.approx(1.0)
    assert din_metrics.rela_impr(0.6, 0.6) == pytest.approx(0.0)


def test_the_cooccurrence_rule_scores_by_hand():
    """Outfit score = mean over ordered item pairs of log(1 + co-occurrence count)."""
    from training.tasks.ngnn import cooccurrence_scores  # pylint: disable=import-outside-toplevel

    cooc = np.array([[0, 3, 0], [3, 0, 1], [0, 1, 0]], np.float64)
    cats = np.array([[0, 1, 2, 0], [0, 2, 0, 0]])
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)  # padding slots are ignored
    scores = cooccurrence_scores(cooc)(cats, mask)
    first = (2 * np.log(4) + 2 * np.log(1) + 2 * np.log(2)) / 6  # pairs 01, 02, 12 each way
    np.testing.assert_allclose(scores, [first, 0.0])


def test_below_rules_names_each_metric_under_the_best_rule_and_skips_the_ceiling():
    model = {"auc": 0.80, "gauc": 0.90, "logloss": 0.50, "fitb_mrr": float("nan")}
    rules = {"popularity": {"auc": 0.70, "gauc": 0.92, "logloss": 0.40},
             "in_history": {"auc": 0.85, "gauc": 0.91},
             "oracle": {"auc": 0.99, "gauc": 0.99, "logloss": 0.1}}
    got = M.below_rules(model, rules)
    assert got == [
        {"metric": "auc", "model": 0.80, "rule": "in_history", "rule_value": 0.85},
        {"metric": "gauc", "model": 0.90, "rule": "popularity", "rule_value": 0.92},
        {"metric": "logloss", "model": 0.50, "rule": "popularity", "rule_value": 0.40}]
    assert M.below_rules({"auc": 0.86, "gauc": 0.95, "logloss": 0.3}, rules) == []


def test_time_to_quality_finds_the_first_best_and_the_first_close_evaluation():
    history = [{"step": 10, "seconds": 5.0, "validation": {"auc": 0.80}},
               {"step": 20, "seconds": 9.0, "validation": {"auc": 0.897}},
               {"step": 30, "seconds": 14.0, "validation": {"auc": 0.901}},
               {"step": 40, "seconds": 20.0, "validation": {"auc": 0.901}},
               {"step": 50, "seconds": 26.0, "validation": {"auc": 0.899}}]
    got = M.time_to_quality(history, "auc")
    assert (got["best"], got["seconds_to_best"], got["step_of_best"]) == (0.901, 14.0, 30)
    assert (got["seconds_to_within"], got["step_within"]) == (9.0, 20)  # 0.897 >= 0.896
    lower = M.time_to_quality([dict(r, validation={"logloss": 1 - r["validation"]["auc"]})
                               for r in history], "logloss", mode="min")
    assert lower["seconds_to_best"] == 14.0 and lower["best"] == pytest.approx(0.099)
    assert M.time_to_quality([{"step": 1, "validation": {"auc": 0.5}}], "auc") is None


def test_time_to_quality_skips_an_undefined_metric():
    """A validation metric that is NaN (one class) is no quality reached: no StopIteration."""
    history = [{"seconds": 1.0, "step": 1, "validation": {"auc": float("nan")}},
               {"seconds": 2.0, "step": 2, "validation": {"auc": float("nan")}}]
    assert M.time_to_quality(history, "auc") is None
    history.append({"seconds": 3.0, "step": 3, "validation": {"auc": 0.7}})
    assert M.time_to_quality(history, "auc")["seconds_to_best"] == 3.0
