"""The seam between the shared loop and a model: :class:`Task` and the registry by name.

The loop knows no model. A task says how to get data, build the model, compute a per-example
loss, score evaluation batches and turn scores into metrics. Tasks register under a name
(``ngnn``, ``din``, or any name a user registers) and ``python -m training.fit --model NAME``
looks them up here.
"""
from __future__ import absolute_import, division, print_function

import importlib
import os

import numpy as np
import tensorflow as tf

from training.errors import UsageError

_REGISTRY = {}


class InputShard(object):
    """The per-replica batches of an epoch that one input pipeline feeds, and which steps.

    One global step consumes ``pipelines * local_replicas`` consecutive per-replica batches of
    the task's (deterministic) order; pipeline ``index`` feeds the ``local_replicas`` of them at
    positions ``index * local_replicas ...``. So the union over workers at step ``s`` is exactly
    the global batch a single process trains at step ``s``, whatever the worker count, and a
    resumed run (``first_step``) starts with the very next batch. ``num_steps`` caps the epoch.
    """

    def __init__(self, pipelines=1, index=0, local_replicas=1, first_step=0, num_steps=None):
        if not 0 <= index < pipelines or local_replicas < 1:
            raise ValueError("bad input shard: pipeline {} of {}, {} local replicas".format(
                index, pipelines, local_replicas))
        self.pipelines = int(pipelines)
        self.index = int(index)
        self.local_replicas = int(local_replicas)
        self.first_step = int(first_step)
        self.num_steps = None if num_steps is None else int(num_steps)

    @classmethod
    def from_context(cls, context, first_step=0, num_steps=None):
        """The shard of a tf.distribute ``InputContext`` (one input pipeline per worker)."""
        return cls(context.num_input_pipelines, context.input_pipeline_id,
                   context.num_replicas_in_sync // context.num_input_pipelines,
                   first_step, num_steps)

    @property
    def batches_per_step(self):
        return self.pipelines * self.local_replicas

    def select(self, batches):
        """Keep this pipeline's batches of steps ``first_step .. num_steps - 1``."""
        per_step = self.batches_per_step
        if self.num_steps is not None:
            batches = batches.take(self.num_steps * per_step)
        if self.first_step:
            batches = batches.skip(self.first_step * per_step)
        if self.pipelines == 1:
            return batches
        index, local = self.index, self.local_replicas
        # enumerate/filter per BATCH of indices: no per-example work, still one static shape
        return (batches.enumerate()
                .filter(lambda i, _: tf.equal((i % per_step) // local, index))
                .map(lambda _, batch: batch))

    def __repr__(self):
        return "InputShard(pipeline {} of {}, {} local replicas, steps {}..{})".format(
            self.index, self.pipelines, self.local_replicas, self.first_step, self.num_steps)

# Built-in tasks are imported on first use, so `--model din` never imports NGNN's code.
_BUILTIN = {
    "ngnn": "training.ngnn_task:NGNNTask",
    "din": "training.din_task:DINTask",
}


class Task(object):
    """Base class: override the methods; keep the class attributes' meaning.

    Attributes:
      name: registry name.
      model_config_cls / data_config_cls: frozen dataclasses of the ``model`` / ``data``
        sections of the run config.
      train_defaults: defaults of :class:`training.config.TrainConfig` for this model.
      monitor / monitor_mode: the validation metric that selects the model.
      presets: named configurations (``--preset NAME``): ``{name: {section: {key: value}}}``,
        applied over the defaults and under ``--config``, flags and ``--set``.
    """

    name = None
    model_config_cls = None
    data_config_cls = None
    train_defaults = {}
    presets = {}
    monitor = "loss"
    monitor_mode = "min"

    def prepare(self, data_config, seed, log):
        """Load or generate data; return an opaque object passed to the other methods."""
        raise NotImplementedError

    def build_model(self, model_config, data):
        """Return an (unbuilt or built) Keras model. Called under the strategy scope."""
        raise NotImplementedError

    def train_dataset(self, data, batch_size, epoch, seed, shard=None):
        """A finite ``tf.data.Dataset`` of training batches of ``batch_size`` for ``epoch``.

        Must be deterministic in (epoch, seed), so a resumed run sees the same batches, and
        use ``drop_remainder=True`` (static shapes for compiled steps and NPUs). The loop asks
        for PER-REPLICA batches and passes ``shard`` (an :class:`InputShard`): apply
        ``shard.select`` to the batched dataset of cheap indices, before any expensive
        per-batch work, so each worker only builds the batches it trains on.
        """
        raise NotImplementedError

    def num_train_examples(self, data):
        raise NotImplementedError

    def loss(self, model, batch, training):
        """Per-example float32 loss, shape [B]. Regularisers go through ``model.losses``."""
        raise NotImplementedError

    def eval_arrays(self, data, split):
        """The split's evaluation inputs as a dict of equally long numpy arrays."""
        raise NotImplementedError

    def score(self, model, batch):
        """Scores for one evaluation batch (compiled by the loop); a tensor of shape [B, ...]."""
        raise NotImplementedError

    def metrics(self, data, split, scores):
        """Turn the split's concatenated scores (numpy) into a flat {name: float}."""
        raise NotImplementedError

    def baselines(self, data, split):
        """Trivial scorers on the same questions: {baseline name: {metric: value}}."""
        return {}

    def export_module(self, model, data):
        """A ``tf.Module`` whose ``serve`` tf.function (fixed input signature) scores requests
        the way :meth:`score` does; its inputs are those of :meth:`eval_arrays`."""
        raise NotImplementedError("{} has no serving export".format(self.name))

    def request_rows(self, data, request):
        """Rows (dict of numpy arrays, as for :meth:`score`) for one JSON request, plus a list
        of warnings. Raise ValueError with a message naming the bad field for a bad request."""
        raise NotImplementedError("{} has no request format".format(self.name))

    def format_result(self, request, scores):
        """The JSON answer to ``request`` from the scores of its rows."""
        raise NotImplementedError

    def describe_data(self, data):
        """A short dict about the data (sizes, whether it is synthetic) for the run record."""
        return {}

    def vocabulary(self, data):
        """The id space the model is trained in, as JSON (lists indexed by id), or None.

        Written to ``RUN/vocab.json``; a resumed run and ``training.predict``/``export``
        compare the data they load against it and refuse data whose ids mean something else
        (a renamed item, another category count), which would otherwise score silently wrong.
        """
        return None


def resolve_data_dir(data_config, generate, description, log):
    """(data directory, is_synthetic, cache directory) for a task's ``prepare``.

    ``data_config.data_dir`` empty: ``generate()`` makes (once) the embedded synthetic data in
    the real formats, and the run says so loudly. Otherwise the directory must exist.
    """
    from datasets import synthetic  # pylint: disable=import-outside-toplevel

    cache = data_config.cache_dir or synthetic.cache_root()
    root = data_config.data_dir
    if not root:
        root = generate()
        log.warning("no --data-dir given: using the embedded SYNTHETIC %s in %s (planted "
                    "signal; not real data)", description, root)
        return root, True, cache
    if not os.path.isdir(root):
        raise UsageError("--data-dir {}: no such directory".format(root))
    return root, False, cache


def register_task(name, factory):
    """Register a Task factory (class or zero-argument callable) under ``name``."""
    _REGISTRY[name] = factory


def available_tasks():
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def get_task(name):
    """A new Task instance for ``name`` (a registered name or ``package.module:Class``).

    An unknown name is a UsageError listing the valid ones.
    """
    target = _BUILTIN.get(name) or (name if ":" in name else None)
    if name not in _REGISTRY and target:
        # "package.module:Class" names a user's task without registering it first.
        module_name, cls_name = target.split(":", 1)
        try:
            module = importlib.import_module(module_name)
            _REGISTRY[name] = getattr(module, cls_name)
        except (ImportError, AttributeError) as err:
            if name in _BUILTIN:
                raise
            raise UsageError("--model {!r}: cannot import the task ({})".format(name, err))
    if name not in _REGISTRY:
        raise UsageError("unknown --model {!r}; available: {}".format(
            name, ", ".join(available_tasks())))
    return _REGISTRY[name]()


def pad_to_multiple(arrays, multiple):
    """Pad every array (by repeating its last row) to a multiple of ``multiple`` rows.

    Evaluation keeps static shapes too: the padded rows are scored and then dropped.
    Returns (padded arrays, original length).
    """
    lengths = {len(v) for v in arrays.values()}
    if len(lengths) != 1:
        raise ValueError("evaluation arrays differ in length: {}".format(
            {k: len(v) for k, v in arrays.items()}))
    n = lengths.pop()
    if n == 0:
        raise ValueError("evaluation split is empty")
    pad = (-n) % multiple
    if not pad:
        return dict(arrays), n
    out = {}
    for key, value in arrays.items():
        filler = np.repeat(value[-1:], pad, axis=0)
        out[key] = np.concatenate([value, filler], axis=0)
    return out, n
