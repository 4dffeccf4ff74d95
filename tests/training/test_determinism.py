"""``--deterministic``: two fresh processes with the same seed end with bit-identical weights
and metrics, for both models. (They read the session's data cache, which other tests of
the slow tier fill with the same embedded default: the data is not what is tested here.)
Without the flag, NGNN runs differ in the last bits after some tens of steps: the
inter-op scheduling changes the rounding of a gradient sum (BENCHMARKS.md)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT

# slow tier (setup.cfg markers): trainings in fresh processes; `.ci/run` runs it
pytestmark = pytest.mark.slow


def _fit(tmp_path, name, model, extra):
    out = str(tmp_path / name)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "training.fit", "--model", model, "--output-dir", out,
         "--device", "cpu", "--seed", "3", "--deterministic", "--epochs", "1"] + extra,
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _weights(run_dir):
    path = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("model/")}


@pytest.mark.parametrize("model, extra", [
    ("ngnn", ["--set", "train.steps_per_epoch=100"]),
    ("din", ["--set", "train.steps_per_epoch=40", "--batch-size", "512"]),
])
def test_same_seed_fresh_processes_are_bit_identical(tmp_path, model, extra):
    first = _fit(tmp_path, "a", model, extra)
    second = _fit(tmp_path, "b", model, extra)
    ma = json.load(open(os.path.join(first, "metrics.json")))
    mb = json.load(open(os.path.join(second, "metrics.json")))
    assert ma["runtime"]["deterministic"] is True
    assert ma["validation"] == mb["validation"] and ma["test"] == mb["test"]
    wa, wb = _weights(first), _weights(second)
    assert sorted(wa) == sorted(wb) and len(wa) > 3
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    ha = json.load(open(os.path.join(first, "history.json")))
    hb = json.load(open(os.path.join(second, "history.json")))
    assert [h["train_loss"] for h in ha] == [h["train_loss"] for h in hb]
