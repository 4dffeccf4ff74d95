"""NGNN end to end on the embedded synthetic default, through the CLI."""
import json
import os

from training import fit


def test_ngnn_learns_on_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    out = str(tmp_path / "run")
    code = fit.main(["--model", "ngnn", "--output-dir", out, "--device", "cpu",
                     "--epochs", "6", "--seed", "0"])
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["data"]["synthetic"] is True
    test = metrics["test"]
    assert set(test) == {"fitb_accuracy", "compat_auc", "pairwise_accuracy"}
    assert test["fitb_accuracy"] > 0.33  # chance: 0.25
    assert test["compat_auc"] > 0.62  # chance: 0.5
    assert "category_cooccurrence" in metrics["baselines"]["test"]
    assert metrics["train_samples_per_sec"] > 0
