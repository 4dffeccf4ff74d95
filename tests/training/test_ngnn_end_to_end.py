"""NGNN end to end on the embedded synthetic default, through the CLI."""
import json
import os

import pytest

from tests.conftest import SHARED, SHARED_REASON
from training import fit

# slow tier (setup.cfg markers): end-to-end trainings; `.ci/run` runs it
pytestmark = pytest.mark.slow


def test_ngnn_learns_on_the_embedded_default(tmp_path):
    out = str(tmp_path / "run")
    code = fit.main(["--model", "ngnn", "--output-dir", out, "--device", "cpu",
                     "--epochs", "4", "--seed", "0"])
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["data"]["synthetic"] is True
    test = metrics["test"]
    assert set(test) == {"fitb_accuracy", "fitb_mrr", "compat_auc", "pairwise_accuracy",
                         "mrr_auc"}
    assert test["mrr_auc"] == 0.5 * (test["fitb_mrr"] + test["compat_auc"])
    assert test["fitb_accuracy"] > 0.33  # chance: 0.25
    assert test["compat_auc"] > 0.62  # chance: 0.5
    rule = metrics["baselines"]["test"]["category_cooccurrence"]
    ceiling = metrics["baselines"]["test"]["oracle"]  # the generator's own scorer
    # the default model beats the co-occurrence rule by a wide margin (a regression that stops
    # it learning the planted style fails here) and stays below the generator's ceiling. After
    # 4 epochs (a CI-time choice; 6 measured FITB 0.58 on validation) the default measured
    # test FITB 0.54 / AUC 0.943 / pairwise 0.938 against the rule's 0.405 / 0.839 / 0.837
    # with ties shared (0.346 when a tie counted as a miss); 500 questions give a sampling
    # error of ~0.02
    assert test["fitb_accuracy"] > rule["fitb_accuracy"] + 0.10
    assert test["compat_auc"] > rule["compat_auc"] + 0.05
    assert test["pairwise_accuracy"] > rule["pairwise_accuracy"] + 0.05
    assert ceiling["fitb_accuracy"] > test["fitb_accuracy"]
    assert ceiling["compat_auc"] > test["compat_auc"]
    assert (metrics["monitor"], metrics["monitor_mode"]) == ("mrr_auc", "max")
    assert os.path.basename(metrics["selected_checkpoint"]).startswith("ckpt-")
    assert metrics["best_value"] == max(h["validation"]["mrr_auc"] for h in json.load(
        open(os.path.join(out, "history.json"))))


def test_ngnn_same_seed_same_numbers(tmp_path):
    """Two CPU runs with one seed agree up to float rounding: same-seed NGNN runs are NOT bit
    for bit identical without ``--deterministic`` (a weight drifts by ~1e-7 after 5-300 steps
    in about 4 of 5 runs; BENCHMARKS.md), so the check is a tolerance. A third run with
    another seed must differ by MORE than that tolerance, or the tolerance proves nothing
    (and a seed that did not reach the weights, data order or negatives would pass)."""
    runs = []
    for name in ("a", "b", "other-seed"):
        out = str(tmp_path / name)
        seed = "4" if name == "other-seed" else "3"
        assert fit.main(["--model", "ngnn", "--output-dir", out, "--device", "cpu",
                         "--epochs", "1", "--seed", seed,
                         "--set", "train.steps_per_epoch=60"]) == 0
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        history = json.load(open(os.path.join(out, "history.json")))
        runs.append((history[-1]["train_loss"], metrics["validation"], metrics["test"]))
    (loss_a, val_a, test_a), (loss_b, val_b, test_b), (loss_c, val_c, _) = runs

    def close(loss_x, val_x, loss_y, val_y):
        return abs(loss_x - loss_y) <= 1e-3 * abs(loss_x) and all(
            abs(val_x[k] - val_y[k]) <= 2e-3 for k in val_x)

    assert close(loss_a, val_a, loss_b, val_b), (loss_a, loss_b, val_a, val_b)
    for key in test_a:
        assert abs(test_a[key] - test_b[key]) <= 2e-3, (key, test_a, test_b)
    assert not close(loss_a, val_a, loss_c, val_c), (loss_a, loss_c, val_a, val_c)


POLYVORE = os.path.join(SHARED, "data", "polyvore")


@pytest.mark.skipif(not os.path.isdir(POLYVORE), reason=SHARED_REASON)
def test_ngnn_is_not_below_the_rule_on_real_outfit_structure(tmp_path):
    """The real outfit lists (generated item vectors, small ones to be quick): the default
    model contains the co-occurrence rule and adds to it, so on validation it must not be
    below the rule, and the run's ``below_rules`` must say the same.

    Pairwise accuracy gets one pair of slack, and only it: on 400 validation pairs the rule
    is saturated here (0.975, 10 pairs wrong) and the default measured 1 pair under it, while
    the previous defaults (no prior, per-category projections) were under the rule on every
    metric in this very setting (FITB -0.095, AUC -0.012, pairwise -3 pairs).

    The learned category statistics (a logistic regression on the rule, PMI and frequency)
    are stronger than the rule here and than this small, short run on FITB (measured: 0.739
    against 0.708 on validation; at 4,000 outfits and full training the model leads it,
    README): the run must SAY so in ``below_rules``, naming that baseline."""
    out = str(tmp_path / "run")
    code = fit.main(["--model", "ngnn", "--output-dir", out, "--device", "cpu", "--seed", "0",
                     "--epochs", "4", "--set", "data.synthetic_kind=outfits",
                     "--set", "data.synthetic_outfits=800", "--set", "data.visual_dim=64",
                     "--set", "data.vocab_size=800",
                     "--set", "data.structure_dir=" + POLYVORE])
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    validation = metrics["validation"]
    rule = metrics["baselines"]["validation"]["category_cooccurrence"]
    one_pair = 1.0 / metrics["data"]["outfits"]["validation"] + 1e-9
    for metric in ("fitb_accuracy", "fitb_mrr", "compat_auc", "mrr_auc"):
        assert validation[metric] >= rule[metric], (metric, validation, rule)
    assert validation["pairwise_accuracy"] >= rule["pairwise_accuracy"] - one_pair
    baselines = {k: v for k, v in metrics["baselines"]["validation"].items() if k != "oracle"}
    said = {e["metric"] for e in metrics["below_rules"]}
    for metric, value in validation.items():  # what the run says is what was measured
        best = max(v[metric] for v in baselines.values() if metric in v)
        assert (value < best) == (metric in said), (metric, value, baselines, said)
    for entry in metrics["below_rules"]:
        if entry["rule"] == "category_cooccurrence":
            assert entry["metric"] == "pairwise_accuracy"
            assert entry["rule_value"] - entry["model"] <= one_pair
    assert metrics["baselines"]["test"]["oracle"]["compat_auc"] > 0.95  # the ceiling is there
