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
