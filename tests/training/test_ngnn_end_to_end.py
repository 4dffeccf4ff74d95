"""NGNN end to end on the embedded synthetic default, through the CLI."""
import json
import os
import subprocess
import sys

from tests.conftest import ROOT
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


def test_ngnn_same_seed_same_numbers(tmp_path):
    """With runtime.deterministic, two CPU runs with one seed give identical metrics. (Without
    it, concurrently running ops let same-seed runs drift by float rounding after 5-300 steps,
    so the run is a full epoch of 346 steps.) In-process calls share TensorFlow's thread pools,
    so each run is a fresh process."""
    env = dict(os.environ, NPUREC_CACHE=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="2")
    metrics = []
    for name in ("a", "b"):
        out = str(tmp_path / name)
        proc = subprocess.run(
            [sys.executable, "-m", "training.fit", "--model", "ngnn", "--output-dir", out,
             "--device", "cpu", "--epochs", "1", "--seed", "3",
             "--set", "runtime.deterministic=true"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics.append(json.load(open(os.path.join(out, "metrics.json"))))
    assert metrics[0]["runtime"]["deterministic"] is True
    assert metrics[0]["test"] == metrics[1]["test"]
    assert metrics[0]["validation"] == metrics[1]["validation"]
