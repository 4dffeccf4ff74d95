"""DIN end to end on the embedded synthetic default: above chance, above the sum-pooling
BaseModel on the same data and seed, and above the category-in-history heuristic."""
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


def test_din_beats_base_model_at_the_papers_embedding_size(tmp_path, monkeypatch):
    """Attention against sum pooling (the paper's claim) at embeddings of 8, where it shows:
    with the default 32, sum pooling nearly catches up on this data, whose signal (category
    counts in the history) is linear in the sum of the history's embeddings (README).

    The default 10 epochs (early stopping may end sooner): at 5, Keras 2's runs are not done
    learning and the gap is seed noise (test AUC, embeddings 8, measured: DIN 0.9255 / 0.9045
    for two training orders of seed 0 and 0.9025 / 0.9147 for seed 1, against sum pooling's
    ~0.899); at 10 it is 0.9421 vs 0.9018 under Keras 2 and 0.9466 vs 0.9030 under Keras 3
    (the latter at 5)."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    small = ("--set", "model.embedding_dim=8")
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


def test_default_din_beats_its_rules_below_the_ceiling(tmp_path, monkeypatch):
    """The default configuration on the planted embedded data: above every rule it reports
    (a regression that stops it learning fails here), below the generator's own scorer."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    din = _run(tmp_path, "din")
    rules = {k: v["auc"] for k, v in din["baselines"]["test"].items() if k != "oracle"}
    assert set(rules) == {"item_popularity", "category_in_history"}
    assert din["test"]["auc"] > max(rules.values()) + 0.01
    ceiling = din["baselines"]["test"]["oracle"]["auc"]  # the generator's own scorer
    assert ceiling > din["test"]["auc"]
    assert (din["monitor"], din["monitor_mode"]) == ("auc", "max")
