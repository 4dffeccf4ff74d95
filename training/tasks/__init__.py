"""The seam between the shared loop and a model: :class:`Task` and the registry by name.

The loop knows no model. A task says how to get data, give an epoch of training input
(:class:`TrainInput`: cheap keys + how to materialize them; the loop shards them), build the
model, compute a per-example loss, score evaluation batches and turn scores into metrics. Tasks register under a name
(``ngnn``, ``din``, or any name a user registers) and ``python -m training.fit --model NAME``
looks them up here.
"""
from __future__ import absolute_import, division, print_function

import collections
import dataclasses
import importlib
import json

import numpy as np

from core.errors import UsageError

_REGISTRY = {}


class TrainInput(collections.namedtuple("TrainInput", ["keys", "materialize"])):
    """An epoch of training input, in the two parts the loop needs to shard it.

    Attributes:
      keys: a ``tf.data.Dataset`` of batches of CHEAP keys (row indices, small tuples), in
        the epoch's global order, batched with ``drop_remainder=True``.
      materialize: a function from one batch of keys to the batch the task's :meth:`Task.loss`
        reads (gathers from tables), run in ``tf.data.Dataset.map`` after sharding; ``None``
        when the keys already are the batch.
    """

    __slots__ = ()

    def __new__(cls, keys, materialize=None):
        return super(TrainInput, cls).__new__(cls, keys, materialize)


class KeyRange(object):
    """A column of consecutive int64 keys ``start .. stop - 1`` that is never materialised:
    what a task's :meth:`Task.eval_arrays` returns for rows read from disk, so scoring a split
    of millions of rows holds no key array (the trainer makes the keys batch by batch with
    ``tf.data.Dataset.range``). It reads like a 1-d array where the contract needs one:
    ``len()``, slices and ``numpy.asarray``.

    Args:
      start: the first key.
      stop: one past the last key.
    """

    def __init__(self, start, stop):
        self.start, self.stop = int(start), int(stop)
        if self.stop < self.start:
            raise ValueError("KeyRange({}, {}): stop before start".format(start, stop))

    def __len__(self):
        return self.stop - self.start

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return np.arange(self.start + start, self.start + stop, step, dtype=np.int64)
        return np.asarray(self)[index]  # anything else: as an array would answer

    def __array__(self, dtype=None, copy=None):  # pylint: disable=unused-argument
        return np.arange(self.start, self.stop, dtype=dtype or np.int64)

    def __repr__(self):
        return "KeyRange({}, {})".format(self.start, self.stop)


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
        """Load or generate the data of ``self.data_config``; return an object passed to the
        other hooks as ``data``."""
        raise NotImplementedError

    def model_bytes(self, data):
        """An estimate of the memory that training the model takes (weights, gradients,
        optimizer slots), checked before the model is built; None: no estimate.

        Args:
          data: what :meth:`prepare` returned.

        Returns:
          ``(bytes, the setting that drives them)`` or None.
        """
        return None

    def build_model(self, data):
        """Return an (unbuilt or built) Keras model for ``data``. Called under the strategy
        scope."""
        raise NotImplementedError

    def train_input(self, data, batch_size, epoch, seed):
        """One epoch of training input as a :class:`TrainInput` (cheap keys + materialize).

        The keys must be batched into ``batch_size`` with ``drop_remainder=True`` (static
        shapes for compiled steps and NPUs) in an order that is a deterministic function of
        (epoch, seed), so a resumed run sees the same batches. The task does NOT shard: the
        loop (:func:`training.infra.sharding.epoch_dataset`) keeps each worker's share of the key
        batches before ``materialize`` runs, so a task cannot train duplicated data on every
        worker by forgetting to.
        """
        raise NotImplementedError

    def num_train_examples(self, data):
        raise NotImplementedError

    def loss(self, model, data, batch, training):
        """Per-example float32 loss, shape [B], of one (materialized) training batch.
        Regularisers go through ``model.losses``."""
        raise NotImplementedError

    def eval_arrays(self, data, split):
        """The split's evaluation inputs as a dict of equally long numpy arrays, or of
        :class:`KeyRange` columns (keys never held in memory)."""
        raise NotImplementedError

    def eval_materialize(self, data):
        """A function from a batch of :meth:`eval_arrays` rows to the batch :meth:`score`
        reads, run in ``tf.data.Dataset.map`` on the host (e.g. gathering item features from
        a store that stays a file), or None (the default) when the rows are the batch."""
        return None

    def score(self, model, data, batch):
        """Scores for one evaluation batch (compiled by the loop); a tensor of shape [B, ...]."""
        raise NotImplementedError

    def score_rows(self, model, data, rows):
        """:meth:`score` of rows as :meth:`eval_arrays` gives them (a dict of arrays or
        tensors), materialized first: for eager use (notebooks, checks, tests)."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        materialize = self.eval_materialize(data)
        rows = {key: tf.convert_to_tensor(value) for key, value in rows.items()}
        return self.score(model, data, materialize(rows) if materialize is not None else rows)

    def serving_check(self, model, data, rows):
        """Inputs for the serving signature (the first ``rows`` validation rows) and their
        scores by the training code's path: what an export is checked against.

        Args:
          model: the trained model.
          data: what :meth:`prepare` returned.
          rows: how many rows.

        Returns:
          ``({input: array}, [n] scores)``; by default :meth:`eval_arrays` rows, which are
          the serving inputs unless a task overrides this.
        """
        arrays = self.eval_arrays(data, "validation")
        sample = {key: value[:rows] for key, value in arrays.items()}
        return sample, np.asarray(self.score_rows(model, data, sample))

    def metrics(self, data, split, scores):
        """Turn the split's concatenated scores (numpy) into a flat {name: float}."""
        raise NotImplementedError

    def metric_rows(self, data, split):
        """How many rows (questions, users) each metric of ``split`` rests on, for the
        record and for the warning on too few.

        Args:
          data: what :meth:`prepare` returned.
          split: ``validation`` or ``test``.

        Returns:
          ``{what: count}``; by default the number of scored rows.
        """
        return {"rows": len(next(iter(self.eval_arrays(data, split).values())))}

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

    def applied_config(self, data, config):
        """The run's resolved config as it APPLIED to ``data``, for ``metrics.json``: settings
        the data overrides show the data's value (a packed feature store's own dimensions),
        settings that did not apply are left out (the generator's settings on real data).
        ``config.json`` keeps what was asked (a resume compares it).

        Args:
          data: the prepared data.
          config: ``{section: {key: value}}``.

        Returns:
          A new dict of the same shape.
        """
        return config

    def vocabulary(self, data):
        """The id space the model is trained in, as JSON (lists indexed by id), or None.

        Written to ``RUN/vocab.json``; a resumed run and ``training.predict``/``export``
        compare the data they load against it and refuse data whose ids mean something else
        (a renamed item, another category count), which would otherwise score silently wrong.
        """
        return None


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
