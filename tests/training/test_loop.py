"""The shared loop on the toy task: exact resume, fp16 loss scaling, bf16, early stopping."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.toy_task import ToyKeyData, ToyModelConfig, ToyTask
from core import compat
from training import fit
from training.loop import trainer as trainer_lib
from training.loop import checkpoints
from training.infra import runtime as rt
from core.errors import UsageError
from training.infra.sharding import epoch_dataset

TOY = "tests.toy_task:ToyTask"


def _checkpoint_values(run_dir):
    """All variables of the latest checkpoint, by checkpoint key."""
    path = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if "OPTIMIZER_SLOT" in k or k.startswith(("model/", "optimizer/", "step/"))}


def _args(out, *extra):
    return ["--model", TOY, "--output-dir", out, "--device", "cpu", "--seed", "1",
            "--set", "model.hidden=8", "--set", "train.checkpoint_every_steps=5"] + list(extra)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    straight = str(tmp_path / "straight")
    assert fit.main(_args(straight, "--epochs", "3")) == 0

    resumed = str(tmp_path / "resumed")
    real_step = trainer_lib.Trainer.train_step
    calls = {"n": 0}

    def crashing_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 23:  # mid-epoch 2 (16 steps/epoch); last checkpoint at step 20
            raise KeyboardInterrupt("simulated crash")
        return real_step(self, batch)

    monkeypatch.setattr(trainer_lib.Trainer, "train_step", crashing_step)
    assert fit.main(_args(resumed, "--epochs", "3")) == 130  # Ctrl-C: one line, exit 130
    monkeypatch.setattr(trainer_lib.Trainer, "train_step", real_step)
    assert fit.main(_args(resumed, "--epochs", "3", "--resume")) == 0

    a, b = _checkpoint_values(straight), _checkpoint_values(resumed)
    assert set(a) == set(b) and len(a) > 4
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)
    ma = json.load(open(os.path.join(straight, "metrics.json")))
    mb = json.load(open(os.path.join(resumed, "metrics.json")))
    assert ma["steps"] == mb["steps"] == 48
    hist = json.load(open(os.path.join(resumed, "history.json")))
    assert [h["epoch"] for h in hist] == [1, 2, 3]


def test_early_stopping_and_selection_on_validation(tmp_path):
    out = str(tmp_path / "es")
    # a huge learning rate makes validation worse after the first evaluation
    code = fit.main(_args(out, "--epochs", "20", "--learning-rate", "0.05",
                          "--set", "train.eval_every_steps=2", "--set", "train.patience=2",
                          "--set", "train.monitor=logloss", "--set", "train.monitor_mode=min"))
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    history = json.load(open(os.path.join(out, "history.json")))
    best = min(h["validation"]["logloss"] for h in history)
    assert metrics["early_stopped"] is True
    assert metrics["steps"] < 20 * 16
    # the final validation figures are those of the selected (best) checkpoint
    assert metrics["validation"]["logloss"] == pytest.approx(best, rel=1e-5)


def _toy_trainer(runtime, hidden=8):
    task = ToyTask(ToyModelConfig(hidden=hidden), ToyTask.data_config_cls(n=64))
    data = task.prepare(0)
    with runtime.strategy.scope():
        model = task.build_model(data)
        optimizer = runtime.make_optimizer("sgd", 0.1)
        trainer = trainer_lib.Trainer(task, data, model, optimizer, runtime, 32)
    batch = next(iter(epoch_dataset(data, 32, 0, 0)))
    with runtime.strategy.scope():
        trainer.build(batch)
    return trainer, batch


def test_fp16_overflow_skips_the_step_and_lowers_the_scale():
    runtime = rt.configure("cpu", "mixed")
    assert runtime.loss_scaling and runtime.compute_dtype == tf.float16
    trainer, batch = _toy_trainer(runtime)
    assert trainer.model.layers[0].compute_dtype == "float16"
    assert trainer.model.trainable_variables[0].dtype == tf.float32
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    scale_before = float(compat.current_loss_scale(trainer.optimizer).numpy())
    batch = dict(batch, boost=tf.fill([32], 1e6))  # gradients overflow float16
    trainer.train_step(batch)
    after = [v.numpy() for v in trainer.model.trainable_variables]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)
    assert float(compat.current_loss_scale(trainer.optimizer).numpy()) == scale_before / 2
    # a normal step afterwards does update the weights
    normal = dict(batch, boost=tf.ones([32]))
    loss = trainer.train_step(normal)
    assert np.isfinite(loss.numpy())
    assert any(not np.array_equal(b, v.numpy())
               for b, v in zip(before, trainer.model.trainable_variables))


def test_bf16_path_trains():
    runtime = rt.configure("cpu", "bf16")
    assert not runtime.loss_scaling and runtime.compute_dtype == tf.bfloat16
    trainer, batch = _toy_trainer(runtime)
    assert trainer.model.layers[0].compute_dtype == "bfloat16"
    losses = [float(trainer.train_step(batch).numpy()) for _ in range(20)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_batch_not_divisible_by_replicas_is_refused_by_the_driver():
    """One check, in the driver, before the data is read and the run directory exists (the
    Trainer once repeated it after the directory was made); the batch against the training
    set once the data is there."""
    from training.driver import experiment  # pylint: disable=import-outside-toplevel
    from training.infra.config import TrainConfig  # pylint: disable=import-outside-toplevel

    task = ToyTask()
    with pytest.raises(UsageError, match=r"batch_size \(32\) must be divisible .* \(3\).* "
                                         r"use 33"):
        experiment._check_settings(  # pylint: disable=protected-access
            task, TrainConfig(batch_size=32), replicas=3)
    experiment._check_settings(  # pylint: disable=protected-access
        task, TrainConfig(batch_size=33), replicas=3)
    data = task.prepare(0)
    n_train = data.num_train_examples()
    experiment._check_data_size(  # pylint: disable=protected-access
        data, TrainConfig(batch_size=n_train))
    with pytest.raises(UsageError, match=r"larger than the training set \({} ".format(n_train)):
        experiment._check_data_size(  # pylint: disable=protected-access
            data, TrainConfig(batch_size=n_train + 1))


@pytest.mark.skipif(not compat.IS_KERAS3, reason="Keras 2 tracks layers kept in lists")
def test_untracked_sublayers_are_detected():
    """Keras 3 keeps a list of layers in its own tracker: checkpoints would miss them."""

    class Hidden(compat.keras.Model):
        def __init__(self):
            super(Hidden, self).__init__()
            self.stack = [compat.keras.layers.Dense(2), compat.keras.layers.Dense(1)]

        def call(self, x):
            for layer in self.stack:
                x = layer(x)
            return x

    model = Hidden()
    model(tf.zeros([1, 3]))
    with pytest.raises(RuntimeError, match="not tracked"):
        checkpoints.check_tracked(model)
    good = compat.keras.Sequential([compat.keras.layers.Dense(2)])
    good(tf.zeros([1, 3]))
    checkpoints.check_tracked(good)


def test_key_range_columns_score_like_the_arrays_they_stand_for():
    """Disk rows are scored from :class:`KeyRange` keys made by ``Dataset.range`` (no key
    array in memory): the scores equal the array path's, in order, whatever the batch (one
    that does not divide the split: padded; one larger than the split)."""
    trainer, _ = _toy_trainer(rt.configure("cpu", "fp32"))
    key_data = ToyKeyData.view(trainer.data)
    keys = trainer_lib.Trainer(ToyTask(ToyModelConfig(hidden=8)), key_data,
                               trainer.model, trainer.optimizer, trainer.runtime, 32)
    for split in ("validation", "test"):
        rows = key_data.eval_arrays(split)["row"]
        assert len(rows) == 64 and list(rows[:3]) == [rows.start + i for i in range(3)]
        for batch in (16, 24, 100):
            np.testing.assert_array_equal(
                keys.score_arrays(key_data.eval_arrays(split), batch),
                trainer.score_arrays(trainer.data.eval_arrays(split), batch))


def test_evaluation_pipeline_runs_without_the_autotune_model(monkeypatch):
    """Evaluation ends an iterator per call (every epoch's validation), so it must have the
    autotuning model off like training (``datasets.pipeline``); the scores are unchanged."""
    trainer, _ = _toy_trainer(rt.configure("cpu", "fp32"))
    arrays = trainer.data.eval_arrays("test")
    expected = trainer.score_arrays(arrays, 16)
    seen = []

    def recording(dataset):
        dataset = real(dataset)
        seen.append(dataset.options().autotune.enabled)
        return dataset

    real = trainer_lib.without_autotune_model
    monkeypatch.setattr(trainer_lib, "without_autotune_model", recording)
    np.testing.assert_array_equal(trainer.score_arrays(arrays, 16), expected)
    assert seen == [False]


def test_a_task_must_declare_its_metric_names(monkeypatch):
    """The monitor is checked once, in the driver, against the declared names; a task that
    declares none is refused there (the controller no longer checks it a second time)."""
    from training.driver import experiment  # pylint: disable=import-outside-toplevel
    from training.infra.config import TrainConfig  # pylint: disable=import-outside-toplevel

    check = experiment._check_settings  # pylint: disable=protected-access
    task = ToyTask()
    monkeypatch.setattr(ToyTask, "metric_names", None)
    with pytest.raises(UsageError, match="declares no metric_names"):
        check(task, TrainConfig(batch_size=8))
    monkeypatch.setattr(ToyTask, "metric_names", ("auc",))
    monkeypatch.setattr(ToyTask, "monitor", "loss")
    with pytest.raises(UsageError, match="train.monitor 'loss' is not a validation metric"):
        check(task, TrainConfig(batch_size=8))
