"""The Task contract: built once from its config, hooks are functions of their arguments."""
import numpy as np
import pytest
import tensorflow as tf

from core.errors import UsageError
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
    arrays = data.eval_arrays("test")
    batch = {k: tf.constant(v[:8]) for k, v in arrays.items()}
    np.testing.assert_allclose(other.score_rows(model, data, batch).numpy(),
                               builder.score_rows(model, data, batch).numpy())


def test_an_unreadable_base_run_is_named_when_the_task_is_built(tmp_path):
    cls = task_class("din")
    with pytest.raises(UsageError, match="eval.base_run .*metrics.json"):
        cls(eval_config=cls.eval_config_cls(base_run=str(tmp_path / "nowhere")))
    for name, content in (("deep", b"[" * 100000 + b"]" * 100000), ("bytes", b'{"a": "\xff"}')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_bytes(content)
        with pytest.raises(UsageError, match="eval.base_run .*metrics.json"):
            cls(eval_config=cls.eval_config_cls(base_run=str(tmp_path / name)))


@pytest.mark.parametrize("base, message", [
    ({"validation": {"auc": 0.5}, "test": {"auc": 0.7}}, "validation AUC is 0.5"),
    ({"validation": {"auc": 0.6}, "test": {"auc": None}}, "test AUC is None"),
    ({"validation": {"auc": 0.6}, "test": {"auc": 0.7},
      "config": {"model": {"pooling": "attention"}}}, "not a BaseModel run"),
    ({"validation": {"auc": 0.6}, "test": {"auc": 0.7}}, "not a BaseModel run"),
])
def test_a_base_run_rela_impr_cannot_use_is_refused_when_the_task_is_built(tmp_path, base,
                                                                         message):
    """RelaImpr divides by the base's AUC - 0.5 and means "against the BaseModel on the same
    data": a base at chance, without an AUC, or not a sum-pooling run is refused, named."""
    import json  # pylint: disable=import-outside-toplevel

    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(base))
    cls = task_class("din")
    with pytest.raises(UsageError, match=message):
        cls(eval_config=cls.eval_config_cls(base_run=str(folder)))


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
        {"validation": {"auc": 0.6}, "test": {"auc": 0.75},
         "config": {"model": {"pooling": "sum"}}}))
    cls = task_class("din")
    task = cls(eval_config=cls.eval_config_cls(base_run=str(base)))
    rows = {"label": np.array([0, 1, 0, 1, 1, 0], np.float32),
            "user": np.array([0, 0, 1, 1, 2, 2])}
    data = types.SimpleNamespace(splits={"validation": rows, "test": rows})
    perfect = rows["label"] * 0.8 + 0.1
    assert task.metrics(data, "test", perfect)["rela_impr"] == pytest.approx(1.0)
    assert task.metrics(data, "validation", perfect)["rela_impr"] == pytest.approx(4.0)
    assert "rela_impr" not in cls().metrics(data, "test", perfect)  # no base run, no field


def test_a_base_run_on_other_data_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """RelaImpr against a BaseModel run on other data (another size, other rows) would compare
    AUCs of different rows: refused when the data is prepared, naming what differs."""
    import json  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    cls = task_class("din")
    data_config = cls.data_config_cls(synthetic_users=300)
    data = cls(data_config=data_config).prepare(seed=0)
    rows = {k: v.num_rows for k, v in data.splits.items()}
    folder = tmp_path / "base"
    folder.mkdir()
    base = {"validation": {"auc": 0.6}, "test": {"auc": 0.7},
            "config": {"model": {"pooling": "sum"}},
            "data": {"sizes": dict(data.sizes), "rows": rows}}
    (folder / "metrics.json").write_text(json.dumps(base))
    task = cls(data_config=data_config, eval_config=cls.eval_config_cls(base_run=str(folder)))
    assert task.prepare(seed=0).sizes == data.sizes  # the same data: accepted
    base["data"]["rows"] = dict(rows, test=rows["test"] + 2)
    (folder / "metrics.json").write_text(json.dumps(base))
    task = cls(data_config=data_config, eval_config=cls.eval_config_cls(base_run=str(folder)))
    with pytest.raises(UsageError, match="its data's rows are"):
        task.prepare(seed=0)


class _BranchingToy(object):
    """A toy loss with a tensor-dependent Python ``if``: only AutoGraph can compile it."""

    def loss(self, model, data, batch, training):
        per_example = super(_BranchingToy, self).loss(model, data, batch, training)
        if tf.reduce_mean(per_example) > 1e9:  # never true: the branch is the point
            per_example = per_example * 0.0
        return per_example


def test_the_steps_convert_control_flow_for_tasks_that_keep_autograph(tmp_path):
    """``Task.autograph``: True (the default) compiles a task's tensor-dependent Python
    control flow; a task that sets False is traced without the conversion, so the same loss
    fails at its first trace. The built-in tasks set False (their steps have no such flow)."""
    from tests.toy_task import ToyTask  # pylint: disable=import-outside-toplevel
    from training.api import train  # pylint: disable=import-outside-toplevel
    import tests.toy_task as toy  # pylint: disable=import-outside-toplevel

    assert task_class("din").autograph is False and task_class("ngnn").autograph is False
    toy.BranchingToy = type("BranchingToy", (_BranchingToy, ToyTask), {})
    toy.PlainBranchingToy = type("PlainBranchingToy", (_BranchingToy, ToyTask),
                                 {"autograph": False})
    try:
        run = train("tests.toy_task:BranchingToy", epochs=1, n=64, device="cpu",
                    output_dir=str(tmp_path / "converted"))
        assert run.metrics["steps"] > 0
        with pytest.raises(Exception, match="(?i)python bool|autograph|not allowed"):
            train("tests.toy_task:PlainBranchingToy", epochs=1, n=64, device="cpu",
                  output_dir=str(tmp_path / "plain"))
    finally:
        del toy.BranchingToy, toy.PlainBranchingToy
