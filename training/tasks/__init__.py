"""The seam between the shared loop and a model: :class:`Task`, :class:`Exporter` and the
registry by name.

The loop knows no model and no data set. It receives three parts:

* a narrow :class:`Task`: which data it trains on (:meth:`Task.prepare`, which asks a data
  provider), the model, the per-example loss, the scores, and the metrics with the simple
  baselines they are reported against;
* the data object the provider returns (:class:`datasets.inputs.TaskData`): the training
  epochs, the evaluation rows and the run record (sizes, vocabulary, protocol);
* optionally an :class:`Exporter` (:attr:`Task.exporter_cls`): the serving signature and the
  JSON request format.

Tasks register under a name (``ngnn``, ``din``, or any name a user registers) and
``python -m training.fit --model NAME`` looks them up here.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import importlib
import json

import numpy as np

from core.errors import UsageError

_REGISTRY = {}


# Built-in tasks are imported on first use, so `--model din` never imports NGNN's code.
_BUILTIN = {
    "ngnn": "training.tasks.ngnn:NGNNTask",
    "din": "training.tasks.din:DINTask",
}


@dataclasses.dataclass(frozen=True)
class EvalConfig(object):
    """The ``eval`` section of a task without evaluation settings (none)."""


class Task(object):
    """Base class: override the methods; keep the class attributes' meaning.

    Attributes:
      name: registry name.
      model_config_cls / data_config_cls / eval_config_cls: frozen dataclasses of the
        ``model`` / ``data`` / ``eval`` sections of the run config. ``eval`` holds what only
        changes how a run is scored (e.g. DIN's BaseModel run for RelaImpr): a resumed run
        may change it.
      train_defaults: defaults of :class:`training.infra.config.TrainConfig` for this model.
      monitor / monitor_mode: the validation metric that selects the model.
      presets: named configurations (``--preset NAME``): ``{name: {section: {key: value}}}``,
        applied over the defaults and under ``--config``, flags and ``--set``.
      metric_names: the names :meth:`metrics` returns (required: a run of a task that
        declares none is refused), so that a ``train.monitor`` that is none of them is
        refused before anything is written.
      device_model_options: what a device needs of the model, declared:
        ``{device: {model option: value}}`` (NGNN and DIN: ``{"npu": {"static_shapes":
        True}}``, since NPUs compile whole graphs); applied by :meth:`model_config_for`.
      exporter_cls: the task's :class:`Exporter` class, or None (no serving export).
      autograph: whether the compiled steps convert tensor-dependent Python control flow
        (``if``/``for`` over tensors) in :meth:`loss` and :meth:`score` and the model's call
        (True, the safe default for a new task). A task written without any sets False: the
        same graph is traced without the conversion, which cost NGNN 2.3 s before its first
        step (docs/performance.md).

    A task implements five methods: :meth:`prepare` (the data, from a provider),
    :meth:`build_model`, :meth:`loss`, :meth:`score` and :meth:`metrics`; :meth:`baselines`
    and :meth:`model_bytes` are optional. Everything about the data's inputs and record is
    the data object's (:class:`datasets.inputs.TaskData`).
    """

    name = None
    model_config_cls = None
    data_config_cls = None
    eval_config_cls = EvalConfig
    train_defaults = {}
    presets = {}
    monitor = "loss"
    monitor_mode = "min"
    metric_names = None
    device_model_options = {}
    exporter_cls = None
    autograph = True

    @classmethod
    def model_config_for(cls, model_config, device, log=None):
        """The ``model`` section with what ``device`` needs of it
        (:attr:`device_model_options`), each change said in the log.

        Args:
          model_config: the resolved ``model`` section (a frozen dataclass).
          device: the device the run got (``npu``, ``gpu``, ``cpu``).
          log: a logger for the changes, or None.

        Returns:
          ``model_config``, replaced only where an option differs.
        """
        # a subclass with its own model config may inherit a declaration about a field it
        # does not have: that option does not apply to it
        changes = {k: v for k, v in cls.device_model_options.get(device, {}).items()
                   if hasattr(model_config, k) and getattr(model_config, k) != v}
        for key, value in sorted(changes.items()):
            if log is not None:
                log.info("runtime: the %s needs model.%s=%s", device.upper(), key,
                         json.dumps(value))
        return dataclasses.replace(model_config, **changes) if changes else model_config

    def __init__(self, model_config=None, data_config=None, eval_config=None):
        """A task is built ONCE from its ``model``, ``data`` and ``eval`` sections (frozen
        dataclasses; default: the classes' defaults) and keeps nothing else: every hook below
        is a function of its arguments and of these configs."""
        self.model_config = (model_config if model_config is not None
                             else self.model_config_cls())
        self.data_config = data_config if data_config is not None else self.data_config_cls()
        self.eval_config = eval_config if eval_config is not None else self.eval_config_cls()

    def prepare(self, seed, log=None):
        """Load or generate the data of ``self.data_config`` (through the data family's
        provider: ``datasets.behaviour.load``, ``datasets.outfits.load``).

        Returns:
          A :class:`datasets.inputs.TaskData`: the loop reads the inputs from it and every
          other method receives it as ``data``.
        """
        raise NotImplementedError

    def build_model(self, data):
        """Return an (unbuilt or built) Keras model for ``data``. Called under the strategy
        scope."""
        raise NotImplementedError

    def loss(self, model, data, batch, training):
        """Per-example float32 loss, shape [B], of one (materialized) training batch.
        Regularisers go through ``model.losses``."""
        raise NotImplementedError

    def score(self, model, data, batch):
        """Scores for one evaluation batch (compiled by the loop); a tensor of shape [B, ...]."""
        raise NotImplementedError

    def metrics(self, data, split, scores):
        """Turn the split's concatenated scores (numpy) into a flat {name: float}."""
        raise NotImplementedError

    # -- optional -------------------------------------------------------------------------
    def baselines(self, data, split):
        """The simple scorers a practitioner would run first, on the same rows:
        {baseline name: {metric: value}}; none by default."""
        return {}

    def model_bytes(self, data):
        """An estimate of the memory that training the model takes (weights, gradients,
        optimizer slots), checked before the model is built; None: no estimate.

        Args:
          data: what :meth:`prepare` returned.

        Returns:
          ``(bytes, the setting that drives them)`` or None.
        """
        return None

    def exporter(self):
        """The task's :class:`Exporter` (serving signature, requests).

        Raises:
          UsageError: the task has none (:attr:`exporter_cls` is None).
        """
        if self.exporter_cls is None:
            raise UsageError("--model {}: this task has no serving export (its Task sets no "
                             "exporter_cls)".format(self.name))
        return self.exporter_cls(self)

    # -- for eager use (notebooks, checks, tests); not hooks ------------------------------
    def score_rows(self, model, data, rows):
        """:meth:`score` of rows as ``data.eval_arrays`` gives them (a dict of arrays or
        tensors), materialized first."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        materialize = data.eval_materialize()
        rows = {key: tf.convert_to_tensor(value) for key, value in rows.items()}
        return self.score(model, data, materialize(rows) if materialize is not None else rows)


class Exporter(object):
    """A task's serving: the SavedModel signature and the JSON requests of
    ``training.predict``. Built by :meth:`Task.exporter` with the task (its configs and
    :meth:`Task.score`).

    Args:
      task: the :class:`Task`.
    """

    def __init__(self, task):
        self.task = task

    def export_module(self, model, data):
        """A ``tf.Module`` whose ``serve`` tf.function (fixed input signature) scores requests
        the way :meth:`Task.score` does."""
        raise NotImplementedError

    def request_rows(self, data, request):
        """Rows (dict of numpy arrays, the serving signature's inputs) for one JSON request,
        plus a list of warnings. Raise ValueError with a message naming the bad field for a
        bad request."""
        raise NotImplementedError

    def format_result(self, request, scores):
        """The JSON answer to ``request`` from the scores of its rows."""
        raise NotImplementedError

    def serving_check(self, model, data, rows):
        """Inputs for the serving signature (the first ``rows`` validation rows) and their
        scores by the training code's path: what an export is checked against.

        Args:
          model: the trained model.
          data: what :meth:`Task.prepare` returned.
          rows: how many rows.

        Returns:
          ``({input: array}, [n] scores)``; by default ``data.eval_arrays`` rows, which are
          the serving inputs unless an exporter overrides this.
        """
        arrays = data.eval_arrays("validation")
        sample = {key: value[:rows] for key, value in arrays.items()}
        return sample, np.asarray(self.task.score_rows(model, data, sample))


def register_task(name, factory):
    """Register a Task subclass (or a callable taking ``model_config, data_config``) under
    ``name``.

    Args:
      name: the ``--model`` name.
      factory: the Task class.
    """
    _REGISTRY[name] = factory


def available_tasks():
    """The names ``--model`` accepts (built in and registered).

    Returns:
      A sorted list of names.
    """
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def task_class(name):
    """The Task class registered as ``name`` (or named ``package.module:Class``): its class
    attributes (config classes, defaults, presets) are read before the configs exist.

    An unknown name is a UsageError listing the valid ones.

    Args:
      name: a registered or built-in name, or ``package.module:Class``.

    Returns:
      The Task class.

    Raises:
      UsageError: an unknown name, or a ``module:Class`` that cannot be imported.
    """
    target = _BUILTIN.get(name) or (name if ":" in name else None)
    if name not in _REGISTRY and target:
        # "package.module:Class" names a user's task without registering it first.
        module_name, cls_name = target.split(":", 1)
        try:
            module = importlib.import_module(module_name)
            found = getattr(module, cls_name)
        except (ImportError, AttributeError, ValueError) as err:  # ValueError: "a:" or ":b"
            if name in _BUILTIN:
                raise
            raise UsageError("--model {!r}: cannot import the task ({})".format(name, err))
        if not (isinstance(found, type) and issubclass(found, Task)):
            # e.g. collections:OrderedDict: importable, but not a task (it ended in an
            # AttributeError deep in the config code)
            raise UsageError("--model {!r}: {} is not a Task subclass (training.tasks.Task); "
                             "name a task class, or one of: {}".format(
                                 name, found, ", ".join(available_tasks())))
        _REGISTRY[name] = found
    if name not in _REGISTRY:
        raise UsageError("unknown --model {!r}; available: {}".format(
            name, ", ".join(available_tasks())))
    return _REGISTRY[name]


def get_task(name, model_config=None, data_config=None):
    """The Task ``name`` built from its ``model`` and ``data`` sections (default: defaults).

    Args:
      name: as :func:`task_class`.
      model_config, data_config: the sections (None: defaults).

    Returns:
      The Task.
    """
    return task_class(name)(model_config, data_config)
