"""The Task contract: built once from its config, hooks are functions of their arguments."""
import numpy as np
import pytest
import tensorflow as tf

from models.errors import UsageError
from training.tasks import get_task, task_class


def test_a_task_is_built_from_its_sections_and_keeps_them():
    cls = task_class("ngnn")
    model_config = cls.model_config_cls(hidden=6)
    task = get_task("ngnn", model_config)
    assert task.model_config is model_config
    assert task.data_config == cls.data_config_cls()


def test_hooks_do_not_depend_on_state_left_by_build_model(tmp_path, monkeypatch):
    """A model built by one task instance is trained and scored by ANOTHER that never built
    a model: loss and score read the data they are given, not attributes build_model set."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    cls = task_class("ngnn")
    data_config = cls.data_config_cls(synthetic_outfits=60, visual_dim=16, vocab_size=40)
    builder = cls(data_config=data_config)
    data = builder.prepare(seed=0)
    model = builder.build_model(data)
    other = cls(data_config=data_config)
    arrays = other.eval_arrays(data, "test")
    batch = {k: tf.constant(v[:8]) for k, v in arrays.items()}
    np.testing.assert_allclose(other.score_rows(model, data, batch).numpy(),
                               builder.score_rows(model, data, batch).numpy())


def test_an_unreadable_base_run_is_named_when_the_task_is_built(tmp_path):
    cls = task_class("din")
    with pytest.raises(UsageError, match="eval.base_run .*metrics.json"):
        cls(eval_config=cls.eval_config_cls(base_run=str(tmp_path / "nowhere")))


def test_rela_impr_compares_each_split_with_the_base_runs_same_split(tmp_path):
    """DIN's RelaImpr against a BaseModel run, with literal numbers: the base run's test AUC
    0.75 and validation AUC 0.6; a model that ranks perfectly (AUC 1.0) is (1 - 0.5) /
    (0.75 - 0.5) - 1 = 1.0 on test and (1 - 0.5) / (0.6 - 0.5) - 1 = 4.0 on validation. Reading
    the other split's AUC, or the wrong file, gives other numbers."""
    import json  # pylint: disable=import-outside-toplevel
    import types  # pylint: disable=import-outside-toplevel

    base = tmp_path / "base"
    base.mkdir()
    (base / "metrics.json").write_text(json.dumps(
        {"validation": {"auc": 0.6}, "test": {"auc": 0.75}}))
    cls = task_class("din")
    task = cls(eval_config=cls.eval_config_cls(base_run=str(base)))
    rows = {"label": np.array([0, 1, 0, 1, 1, 0], np.float32),
            "user": np.array([0, 0, 1, 1, 2, 2])}
    data = types.SimpleNamespace(splits={"validation": rows, "test": rows})
    perfect = rows["label"] * 0.8 + 0.1
    assert task.metrics(data, "test", perfect)["rela_impr"] == pytest.approx(1.0)
    assert task.metrics(data, "validation", perfect)["rela_impr"] == pytest.approx(4.0)
    assert "rela_impr" not in cls().metrics(data, "test", perfect)  # no base run, no field
