"""DIN end to end on generated data: above the sum-pooling BaseModel on the same data and
seed (the paper's claim), and the default above every baseline it reports (rules and learned
simple models) on the long-tail log, not above the generator's own scorer."""
import json
import os

import pytest

from training import fit

# slow tier (setup.cfg markers): end-to-end trainings; `.ci/run` runs it
pytestmark = pytest.mark.slow


def _run(tmp_path, name, *extra, epochs=5):
    out = str(tmp_path / name)
    code = fit.main(["--model", "din", "--output-dir", out, "--device", "cpu", "--seed", "0",
                     "--epochs", str(epochs)] + list(extra))  # 5 of the default 10: CI time
    assert code == 0
    return json.load(open(os.path.join(out, "metrics.json")))


def test_din_beats_base_model_at_the_papers_embedding_size(tmp_path):
    """Attention against sum pooling (the paper's claim) at embeddings of 8, where it shows:
    with the default 32, sum pooling nearly catches up on this data, whose signal (category
    counts in the history) is linear in the sum of the history's embeddings (README).

    The default 10 epochs (early stopping may end sooner): at 5, Keras 2's runs are not done
    learning and the gap is seed noise (test AUC, embeddings 8, measured: DIN 0.9255 / 0.9045
    for two training orders of seed 0 and 0.9025 / 0.9147 for seed 1, against sum pooling's
    ~0.899); at 10 it is 0.9421 vs 0.9018 under Keras 2 and 0.9466 vs 0.9030 under Keras 3
    (the latter at 5)."""
    # the paper's inputs on both sides: the simple features (the user's category statistics
    # above all) hand sum pooling the category shares that attention has to find
    small = ("--set", "model.embedding_dim=8", "--set", "model.user_stats=false",
             "--set", "model.wide=false", "--set", "model.item_rate=false",
             "--batch-size", "4096")  # the card's batch: a quarter of the steps (CI time)
    base = _run(tmp_path, "base", "--set", "model.pooling=sum", *small, epochs=10)
    din = _run(tmp_path, "din", "--set", "eval.base_run=" + str(tmp_path / "base"), *small,
               epochs=10)
    assert din["data"]["synthetic"] is True
    assert set(din["test"]) == {"auc", "logloss", "gauc", "rela_impr"}
    # the RelaImpr formula and its split wiring are checked with literal numbers in
    # test_task_contract; here: the paper's claim, attention above sum pooling
    assert din["test"]["auc"] > base["test"]["auc"] + 0.02
    assert din["test"]["rela_impr"] > 0.05
    assert din["test"]["gauc"] > base["test"]["gauc"]


def test_default_din_beats_every_baseline_on_the_long_tail_log_below_the_ceiling(
        tmp_path):
    """The default configuration on a sparse log (most items once, new items arriving, in_split
    negatives): candidate-only rules near 0.5, and the model above EVERY baseline it reports,
    the learned simple models included (a regression that stops it learning, or that lets it
    fall to what the history's category counts alone give, fails here); not above the
    generator's own scorer."""
    din = _run(tmp_path, "din", "--set", "data.synthetic_kind=longtail",
               "--set", "data.synthetic_users=1500", epochs=8)  # measured: +0.034 / +0.038
    baselines = din["baselines"]["test"]
    assert {"logistic_regression", "gradient_boosting", "seen_in_training"} <= set(baselines)
    for rule in ("item_popularity", "seen_in_training", "unseen_in_training"):
        assert baselines[rule]["auc"] < 0.6, (rule, baselines[rule])
    for metric in ("auc", "gauc"):
        best = max(v[metric] for k, v in baselines.items() if k != "oracle" and metric in v)
        assert din["test"][metric] > best + 0.01, (metric, din["test"], baselines)
    # at the ceiling's level (measured 0.9437 against 0.9424 here, 0.9434 against 0.9450 at
    # 2,000 users: the ceiling is near-Bayes on a finite test set), never well above it (a
    # leak of the label would put it there)
    assert din["test"]["auc"] < baselines["oracle"]["auc"] + 0.01
    assert din["below_rules"] == []
    assert (din["monitor"], din["monitor_mode"]) == ("auc", "max")
