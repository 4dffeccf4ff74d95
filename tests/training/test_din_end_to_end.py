"""DIN end to end on the embedded synthetic default: above chance, above the sum-pooling
BaseModel on the same data and seed, and above the category-in-history heuristic."""
import json
import os

from training import fit
from training import metrics as M


def _run(tmp_path, name, *extra):
    out = str(tmp_path / name)
    code = fit.main(["--model", "din", "--output-dir", out, "--device", "cpu", "--seed", "0",
                     "--epochs", "5"] + list(extra))  # 5 of the default 10: CI time
    assert code == 0
    return json.load(open(os.path.join(out, "metrics.json")))


def test_din_beats_base_model_and_heuristic(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    base = _run(tmp_path, "base", "--set", "model.pooling=sum")
    din = _run(tmp_path, "din", "--set", "model.base_run=" + str(tmp_path / "base"))
    assert din["data"]["synthetic"] is True
    assert set(din["test"]) == {"auc", "logloss", "gauc", "rela_impr"}
    assert din["test"]["rela_impr"] == M.rela_impr(din["test"]["auc"], base["test"]["auc"])
    heuristic = din["baselines"]["test"]["category_in_history"]["auc"]
    assert din["test"]["auc"] > 0.9
    assert din["test"]["auc"] > base["test"]["auc"] + 0.02
    assert M.rela_impr(din["test"]["auc"], base["test"]["auc"]) > 0.05
    assert din["test"]["auc"] > heuristic
    ceiling = din["baselines"]["test"]["oracle"]["auc"]  # the generator's own scorer
    assert ceiling > din["test"]["auc"] and ceiling > heuristic
    assert din["test"]["gauc"] > base["test"]["gauc"]
