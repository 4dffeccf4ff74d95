"""A tiny registered task for testing the shared loop without either real model.

Logistic regression on 4 features with a planted linear signal, so "loss falls" and "AUC above
chance" are real, checkable outcomes. The batch carries a ``boost`` factor that tests can set to
a huge value to force an fp16 overflow.
"""
import dataclasses

import numpy as np
import tensorflow as tf

from training.infra import metrics as M
from core.compat import keras
from datasets.inputs import KeyRange, TaskData, TrainInput
from training.tasks import Task


@dataclasses.dataclass(frozen=True)
class ToyModelConfig(object):
    """Attributes: hidden: units of the hidden layer (0: plain logistic regression);
    l2: L2 penalty on the output kernel (a model.losses term)."""

    hidden: int = 0
    l2: float = 0.0


@dataclasses.dataclass(frozen=True)
class ToyDataConfig(object):
    """Attributes: n: examples per split; data_dir: unused (the toy has no files);
    label_rule: also report a "rule" that reads the labels (AUC 1: no model can reach it)."""

    n: int = 512
    data_dir: str = ""
    label_rule: bool = False


class ToyData(TaskData):
    """Three splits of features ``x`` with labels ``y`` from one planted linear rule; the
    inputs are the arrays themselves."""

    def __init__(self, seed, n):
        rng = np.random.RandomState(seed)
        self.w = rng.normal(size=4).astype(np.float32)
        self.splits = {}
        for i, split in enumerate(("train", "validation", "test")):
            x = rng.normal(size=(n, 4)).astype(np.float32)
            p = 1.0 / (1.0 + np.exp(-3.0 * x.dot(self.w)))
            y = (rng.uniform(size=n) < p).astype(np.float32)
            self.splits[split] = {"x": x, "y": y, "boost": np.ones(n, np.float32)}

    def num_train_examples(self):
        return len(self.splits["train"]["y"])

    def train_input(self, batch_size, epoch, seed):
        arrays = self.splits["train"]
        order = np.random.RandomState(seed * 1000 + epoch).permutation(len(arrays["y"]))
        shuffled = {k: v[order] for k, v in arrays.items()}
        batches = tf.data.Dataset.from_tensor_slices(shuffled).batch(batch_size,
                                                                     drop_remainder=True)
        return TrainInput(batches)

    def eval_arrays(self, split):
        return self.splits[split]


class ToyKeyData(ToyData):
    """The toy data with its evaluation rows given as :class:`KeyRange` keys, as DIN gives its
    disk rows: validation rows are keys ``0..n-1``, test rows ``n..2n-1``, and the features
    are gathered by key in the input pipeline (``eval_materialize``)."""

    @classmethod
    def view(cls, data):
        """The same splits as ``data`` (a :class:`ToyData`), evaluated by key."""
        out = cls.__new__(cls)
        out.__dict__.update(data.__dict__)
        return out

    def eval_arrays(self, split):
        n = len(self.splits["validation"]["y"])
        start = 0 if split == "validation" else n
        return {"row": KeyRange(start, start + len(self.splits[split]["y"]))}

    def eval_materialize(self):
        features = tf.constant(np.concatenate([self.splits["validation"]["x"],
                                               self.splits["test"]["x"]]))
        return lambda batch: {"x": tf.gather(features, batch["row"])}


class ToyTask(Task):
    name = "toy"
    model_config_cls = ToyModelConfig
    data_config_cls = ToyDataConfig
    train_defaults = {"epochs": 2, "batch_size": 32, "learning_rate": 0.05}
    monitor = "auc"
    monitor_mode = "max"
    metric_names = ("auc", "logloss")

    def prepare(self, seed, log=None):
        return ToyData(seed, self.data_config.n)

    def build_model(self, data):
        model_config = self.model_config
        layers = []
        if model_config.hidden:
            layers.append(keras.layers.Dense(model_config.hidden, activation="relu"))
        regularizer = keras.regularizers.L2(model_config.l2) if model_config.l2 else None
        layers.append(keras.layers.Dense(1, dtype="float32", kernel_regularizer=regularizer))
        return keras.Sequential(layers)

    def loss(self, model, data, batch, training):
        logits = tf.squeeze(tf.cast(model(batch["x"], training=training), tf.float32), -1)
        logits = logits * batch["boost"]
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=batch["y"], logits=logits)

    def score(self, model, data, batch):
        return tf.sigmoid(tf.squeeze(tf.cast(model(batch["x"], training=False), tf.float32), -1))

    def metrics(self, data, split, scores):
        y = data.splits[split]["y"]
        return {"auc": M.auc(y, scores), "logloss": M.logloss(y, scores)}

    def baselines(self, data, split):
        y = data.splits[split]["y"]
        out = {"constant": {"auc": M.auc(y, np.zeros_like(y))}}
        if self.data_config.label_rule:
            out["labels"] = {"auc": M.auc(y, y)}
        return out

