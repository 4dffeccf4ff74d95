"""The documented extension point: a third model registered with ``tasks.register_task`` is
trained, evaluated, exported and served by the same commands as the built-in two, with only
its model and a task that names it (here: an item/category bias model on DIN's data), and a
model written from the base Task in its five methods trains on a data provider it reuses."""
import dataclasses
import json
import os

import pytest
import tensorflow as tf

from core.compat import add_weight, keras
from core.errors import UsageError
from datasets import behaviour
from datasets.generators import amazon_interests, common
from training import export, fit, predict, tasks
from training.infra import metrics as M
from training.tasks.din import DINDataConfig, DINTask


@dataclasses.dataclass(frozen=True)
class BiasConfig(object):
    """Attributes: history_weight: start value of the 'category seen before' weight."""

    history_weight: float = 0.0


class BiasModel(keras.Model):
    """logit = b[item] + b[category] + w * (share of the history in the candidate's category)."""

    def __init__(self, num_items, num_categories, history_weight=0.0, **kwargs):
        super(BiasModel, self).__init__(**kwargs)
        self.item_bias = keras.layers.Embedding(num_items, 1, name="item_bias")
        self.category_bias = keras.layers.Embedding(num_categories, 1, name="category_bias")
        self.initial_weight = float(history_weight)

    def build(self, input_shape=None):
        self.history_weight = add_weight(self, "history_weight", (), keras.initializers.Constant(
            self.initial_weight))
        self.built = True

    def call(self, inputs, training=False):
        same = tf.cast(tf.equal(inputs["hist_cats"], inputs["target_cat"][:, None]), tf.float32)
        share = tf.reduce_sum(same, axis=1) / tf.maximum(
            tf.cast(inputs["hist_len"], tf.float32), 1.0)
        return (tf.squeeze(self.item_bias(inputs["target_item"]), -1)
                + tf.squeeze(self.category_bias(inputs["target_cat"]), -1)
                + self.history_weight * share)


def build_bias_model(data, config):
    """A built :class:`BiasModel` for the data's id spaces."""
    model = BiasModel(data.sizes["items"], data.sizes["categories"], config.history_weight)
    model({"hist_cats": tf.zeros([1, 1], tf.int32), "hist_len": tf.zeros([1], tf.int32),
           "target_item": tf.zeros([1], tf.int32), "target_cat": tf.zeros([1], tf.int32)})
    return model


class BiasTask(DINTask):
    name = "item_bias"
    model_config_cls = BiasConfig
    presets = {}

    def build_model(self, data):
        return build_bias_model(data, self.model_config)


class FromScratchTask(tasks.Task):
    """The same model from the base class, in the five methods (no serving): the data, its
    inputs and its record come from DIN's provider (``datasets.behaviour``), reused as is."""

    name = "bias_from_scratch"
    model_config_cls = BiasConfig
    data_config_cls = DINDataConfig  # the provider's readers read their settings from it
    monitor, monitor_mode, metric_names = "auc", "max", ("auc", "logloss")

    def prepare(self, seed, log=None):
        config = self.data_config
        root, synthetic, cache = common.resolve_data_dir(
            config.data_dir, config.cache_dir, lambda: amazon_interests.generate(n_users=300),
            "generated interests", log)
        return behaviour.load(root, cache, config, seed, log, synthetic)

    def build_model(self, data):
        return build_bias_model(data, self.model_config)

    def loss(self, model, data, batch, training):
        return tf.nn.sigmoid_cross_entropy_with_logits(
            labels=batch["label"], logits=model(batch, training=training))

    def score(self, model, data, batch):
        return tf.sigmoid(model(batch, training=False))

    def metrics(self, data, split, scores):
        labels = data.splits[split]["label"]
        return {"auc": M.auc(labels, scores), "logloss": M.logloss(labels, scores)}


@pytest.fixture
def registered():
    tasks.register_task("item_bias", BiasTask)
    yield
    tasks._REGISTRY.pop("item_bias", None)  # pylint: disable=protected-access


def test_a_registered_third_model_trains_exports_and_serves(registered, tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    assert "item_bias" in tasks.available_tasks()
    run_dir = str(tmp_path / "run")
    assert fit.main(["--model", "item_bias", "--output-dir", run_dir, "--device", "cpu",
                     "--epochs", "2", "--learning-rate", "0.05"]) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["model"] == "item_bias"
    # it learns: above item popularity alone (it has popularity AND the category share)
    assert metrics["test"]["auc"] > metrics["baselines"]["test"]["item_popularity"]["auc"]
    path, diff = export.export(run_dir)
    assert diff <= 1e-5 and os.path.isdir(path)
    vocab = json.load(open(os.path.join(run_dir, "vocab.json")))
    request = {"history": vocab["items"][1:3], "candidates": vocab["items"][3:5]}
    (tmp_path / "in.jsonl").write_text(json.dumps(request) + "\n")
    assert predict.predict(run_dir, str(tmp_path / "in.jsonl"),
                           str(tmp_path / "out.jsonl")) == (1, 0)
    answer = json.loads((tmp_path / "out.jsonl").read_text())
    assert len(answer["probabilities"]) == 2 and sorted(answer["ranking"]) == [0, 1]


@pytest.mark.slow
def test_the_third_model_is_sharded_and_scaled_by_the_loop_alone(tmp_path):
    """The same task on two mirrored replicas (a fresh process: logical CPUs must be set
    before TensorFlow starts): its code does nothing for sharding or scaling, yet each replica
    trains its half of every global batch and the result is the one-replica model's quality.
    Named as ``module:Class``, the second way to plug a model in."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    from tests.conftest import ROOT  # pylint: disable=import-outside-toplevel

    run_dir = str(tmp_path / "mirrored")
    proc = subprocess.run(
        [sys.executable, "-m", "training.fit", "--model", "tests.training.test_extension:BiasTask",
         "--output-dir", run_dir, "--device", "cpu", "--epochs", "2", "--learning-rate", "0.05",
         "--set", "runtime.cpu_replicas=2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)  # the session's data cache
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["runtime"]["replicas"] == 2
    assert metrics["test"]["auc"] > metrics["baselines"]["test"]["item_popularity"]["auc"]


def test_a_task_from_the_base_class_trains_on_a_reused_provider(tmp_path, monkeypatch):
    """Five methods and a provider: the run trains, selects on its own metric, and records
    the data as the provider describes it (rows, vocabulary); it has no serving, and export
    says so by name instead of failing inside."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    run_dir = str(tmp_path / "run")
    assert fit.main(["--model", "tests.training.test_extension:FromScratchTask",
                     "--output-dir", run_dir, "--device", "cpu", "--epochs", "2",
                     "--learning-rate", "0.05"]) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["test"]["auc"] > 0.6
    assert metrics["rows"]["test"]["gauc_users"] > 0  # the data's metric_rows
    assert metrics["data"]["rows"]["train"] > 0 and metrics["data"]["synthetic"] is True
    assert json.load(open(os.path.join(run_dir, "vocab.json")))["items"][0] == ""
    with pytest.raises(UsageError, match="no serving export"):
        export.export(run_dir)
