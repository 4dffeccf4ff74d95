"""The Python API: one call returns the run, options map to config sections, no leaked policy."""
import os

import pytest

from core import compat
from training.api import train
from core.errors import UsageError

TOY = "tests.toy_task:ToyTask"


def test_train_returns_the_run_and_restores_the_policy(tmp_path):
    run = train(TOY, epochs=2, hidden=4, n=256, precision="bf16", device="cpu",
                output_dir=str(tmp_path / "r"))
    assert run.metrics["config"]["model"]["hidden"] == 4
    assert run.metrics["config"]["data"]["n"] == 256
    assert run.metrics["precision"] == "bf16"
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert run.model.layers[0].compute_dtype == "bfloat16"
    assert os.path.isfile(os.path.join(run.run_dir, "history.png"))
    assert compat.global_policy_name() == "float32"  # nothing leaked into the next run
    again = train(TOY, epochs=1, output_dir=str(tmp_path / "r2"))
    assert again.model.layers[0].compute_dtype == "float32"


def test_unknown_option():
    with pytest.raises(UsageError, match="unknown option 'colour'"):
        train(TOY, colour="red")
