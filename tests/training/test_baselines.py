"""The baselines every run is compared with: DIN's rules and learned simple models
(:mod:`training.tasks.din_baselines`) and NGNN's learned category-statistics model
(:mod:`training.tasks.ngnn_baselines`)."""
import numpy as np
import pytest
import tensorflow as tf

from models.ngnn_layers import CooccurrencePrior, category_counts
from training.infra import metrics as M
from training.tasks import din_baselines, ngnn_baselines


def test_din_features_by_hand():
    batch = {"hist_cats": np.array([[3, 4, 3, 0], [5, 0, 0, 0]]),
             "hist_len": np.array([3, 1]), "target_cat": np.array([3, 4]),
             "prior_events": np.array([7, 1]), "prior_positives": np.array([5, 0]),
             "target_rate": np.array([0.5, 0.8]), "target_count": np.array([4.0, 0.0]),
             "target_feedback": np.array([0.25, -1.0]),
             "target_events": np.array([6.0, 0.0])}
    table = din_baselines.features(batch)
    column = {name: table[:, i] for i, name in enumerate(din_baselines.FEATURES)}
    np.testing.assert_allclose(column["category_share"], [2 / 3, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(column["category_in_history"], [1, 0])
    np.testing.assert_array_equal(column["seen"], [1, 0])
    np.testing.assert_allclose(column["user_rate"], [np.log(6 / 9 / (3 / 9)), np.log(1 / 2)],
                               rtol=1e-5)
    np.testing.assert_allclose(column["item_rate"], [0.0, np.log(4.0)], atol=1e-5)
    np.testing.assert_allclose(column["log_popularity"], np.log1p([4.0, 0.0]), rtol=1e-6)
    np.testing.assert_allclose(column["item_feedback"], [0.25, -1.0])


def test_din_baselines_fit_on_training_rows_and_score_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks.din import DINDataConfig, DINTask  # pylint: disable=import-outside-toplevel

    task = DINTask(data_config=DINDataConfig(synthetic_users=600))
    data = task.prepare(seed=0)
    scored = din_baselines.Baselines(data).score("test")
    assert set(scored) == set(din_baselines.RULES + din_baselines.LEARNED) | {"base_rate"}
    rows = data.splits["test"]
    labels = rows["label"]
    base = min(max(data.base_rate, 1e-7), 1 - 1e-7)
    assert scored["base_rate"]["logloss"] == pytest.approx(
        M.logloss(labels, np.full(len(labels), base)))
    # the learned models read the history's category share: at least the one-line rule
    for name in din_baselines.LEARNED:
        assert scored[name]["auc"] > scored["category_in_history"]["auc"] - 0.01, scored
        assert scored[name]["logloss"] < scored["base_rate"]["logloss"]
    # "both ways": a rule and its inverse add up to 1
    assert scored["item_popularity"]["auc"] + scored["inverse_popularity"]["auc"] == \
        pytest.approx(1.0)
    again = din_baselines.Baselines(data).score("test")
    assert again["gradient_boosting"] == scored["gradient_boosting"]  # seeded


def test_a_log_loss_worse_than_the_base_rate_is_below_a_rule():
    below = M.below_rules({"auc": 0.8, "logloss": 0.75},
                          {"base_rate": {"logloss": 0.69}, "rule": {"auc": 0.7}})
    assert below == [{"metric": "logloss", "model": 0.75, "rule": "base_rate",
                      "rule_value": 0.69}]


def _slow_statistics(counts, frequency, outfits, cats, mask, own=None):
    prior = CooccurrencePrior(len(frequency))
    prior.set_counts(counts, frequency, outfits)
    out = []
    for mix in np.eye(3, dtype=np.float32):
        prior.mix.assign(mix)
        out.append(prior(cats, mask, own).numpy())
    return np.stack(out, axis=1)


def test_ngnn_category_statistics_are_the_priors():
    """The learned baseline's statistics are the model's own prior's (rule, PMI, frequency),
    with and without the training outfit's own pairs."""
    rng = np.random.RandomState(0)
    counts = rng.randint(0, 6, (5, 5)).astype(np.float32)
    counts = counts + counts.T
    frequency, outfits = rng.randint(1, 9, 5).astype(np.float32), 12
    cats = rng.randint(0, 5, (6, 4)).astype(np.int32)
    mask = (np.arange(4)[None, :] < rng.randint(2, 5, (6, 1))).astype(np.float32)
    own = category_counts(cats, mask, 5).numpy()
    for leave_out in (None, own):
        got = ngnn_baselines.statistics(counts.astype(np.float64), frequency, outfits, cats,
                                        mask, leave_out)
        want = _slow_statistics(counts, frequency, outfits, tf.constant(cats),
                                tf.constant(mask), None if leave_out is None
                                else tf.constant(leave_out))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_ngnn_learned_baseline_is_at_least_the_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks.ngnn import NGNNDataConfig, NGNNTask  # pylint: disable=import-outside-toplevel

    task = NGNNTask(data_config=NGNNDataConfig(synthetic_outfits=300, visual_dim=16,
                                               vocab_size=40,
                                               synthetic_kind="compatibility"))
    data = task.prepare(seed=0)
    scored = task.baselines(data, "test")
    rule, learned = scored["category_cooccurrence"], scored["category_statistics"]
    assert learned["compat_auc"] > rule["compat_auc"] - 0.02, scored
    assert learned["fitb_accuracy"] > 0.25


def test_ngnn_prior_can_start_as_the_learned_baseline(tmp_path, monkeypatch):
    """model.prior_init=fitted: the co-occurrence prior's mix starts at the weights the
    pairwise logistic regression fits on the node categories' statistics (so the model's
    prior term IS that ranker at step 0); the default starts as the rule (1, 0, 0)."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks.ngnn import (  # pylint: disable=import-outside-toplevel
        NGNNDataConfig, NGNNModelConfig, NGNNTask)

    data_config = NGNNDataConfig(synthetic_outfits=200, visual_dim=16, vocab_size=40,
                                 synthetic_kind="compatibility")
    data = NGNNTask(data_config=data_config).prepare(seed=0)
    mix = ngnn_baselines.fitted_prior_mix(data)
    assert mix.shape == (3,) and np.all(np.isfinite(mix)) and np.any(mix != [1, 0, 0])
    fitted = NGNNTask(NGNNModelConfig(hidden=4, prior_init="fitted"), data_config)
    np.testing.assert_allclose(fitted.build_model(data).prior.mix.numpy(), mix, rtol=1e-6)
    rule = NGNNTask(NGNNModelConfig(hidden=4), data_config)
    np.testing.assert_array_equal(rule.build_model(data).prior.mix.numpy(), [1, 0, 0])
