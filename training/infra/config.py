"""Typed run configuration: the shared :class:`TrainConfig`, sections from dicts, ``--set``.

A run's configuration is four sections, each a frozen dataclass validated eagerly:
``train`` (this module), ``model`` and ``data`` (defined by the task), and ``runtime``
(device, precision). ``--config FILE`` (JSON or YAML) and ``--set section.key=value`` edit the
plain-dict form; :func:`build_section` turns a dict into a dataclass and names every unknown
key or badly typed value.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import json
import math
import os
import typing

from core.precision import DEVICES, PRECISIONS
from core.errors import UsageError


@dataclasses.dataclass(frozen=True)
class TrainConfig(object):
    """Options of the shared loop (every model has them; tasks change the defaults).

    Attributes:
      epochs: passes over the training data.
      batch_size: GLOBAL batch size (split evenly over replicas).
      eval_batch_size: batch size of evaluation steps; 0 means 8 x ``batch_size`` (capped at
        8192), since evaluation needs no gradients.
      learning_rate: optimizer learning rate.
      optimizer: ``adam``, ``rmsprop``, ``sgd`` or ``adagrad``.
      clip_norm: global-norm gradient clipping on unscaled gradients; 0 disables.
      seed: seeds weights, data order and negative sampling. Same seed, same numbers up to
        float rounding; bit for bit with ``runtime.deterministic`` (``--deterministic``).
      steps_per_epoch: cap on steps per epoch; 0 means one full pass.
      eval_every_steps: also evaluate on validation every N steps; 0 means once per epoch.
      checkpoint_every_steps: also checkpoint every N steps; 0 means at each epoch end only.
      keep_checkpoints: how many recent checkpoints to keep.
      monitor: validation metric used for model selection and early stopping ('' = task's).
      monitor_mode: ``max`` or ``min`` (ignored when ``monitor`` is '': the task decides).
      patience: stop after this many evaluations without improvement; 0 disables.
      log_every_steps: TensorBoard loss scalars every N steps.
    """

    epochs: int = 1
    batch_size: int = 32
    eval_batch_size: int = 0
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    clip_norm: float = 0.0
    seed: int = 0
    steps_per_epoch: int = 0
    eval_every_steps: int = 0
    checkpoint_every_steps: int = 0
    keep_checkpoints: int = 3
    monitor: str = ""
    monitor_mode: str = "max"
    patience: int = 0
    log_every_steps: int = 50

    def __post_init__(self):
        positive = ("epochs", "batch_size", "keep_checkpoints", "log_every_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise UsageError("train.{} ({}) must be >= 1".format(name, getattr(self, name)))
        non_negative = ("eval_batch_size", "clip_norm", "steps_per_epoch", "eval_every_steps",
                        "checkpoint_every_steps", "patience")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise UsageError("train.{} ({}) must be >= 0".format(name, getattr(self, name)))
        if not self.learning_rate > 0:
            raise UsageError("train.learning_rate ({}) must be > 0".format(self.learning_rate))
        if self.monitor_mode not in ("max", "min"):
            raise UsageError(
                "train.monitor_mode ({!r}) must be 'max' or 'min'".format(self.monitor_mode))
        if not 0 <= self.seed < 2 ** 32:  # what NumPy's and TensorFlow's seeding accept
            raise UsageError("train.seed ({}) must be in 0 .. 2**32 - 1".format(self.seed))
        if self.optimizer not in ("adam", "rmsprop", "sgd", "adagrad"):
            raise UsageError("train.optimizer ({!r}) must be one of adam, rmsprop, sgd, "
                             "adagrad".format(self.optimizer))

    @property
    def resolved_eval_batch_size(self):
        """The evaluation batch size: ``eval_batch_size``, or 8 x ``batch_size`` capped at 8192."""
        return self.eval_batch_size or min(8 * self.batch_size, 8192)


@dataclasses.dataclass(frozen=True)
class RuntimeConfig(object):
    """Where and how to compute.

    Attributes:
      device: ``auto``, ``npu``, ``gpu`` or ``cpu``.
      precision: ``fp32``, ``mixed`` (float16 + dynamic loss scaling) or ``bf16``.
      cpu_replicas: on CPU, mirror over this many logical devices (tests, debugging).
      deterministic: same seed, same bits: one inter-op thread and TensorFlow's op
        determinism (see :func:`training.infra.runtime.configure`). Off by default: it costs
        throughput (BENCHMARKS.md); without it same-seed runs agree to ~1e-4 in metrics.
      npu_options: extra ``npu_device.global_options()`` settings, applied before the NPU
        opens, e.g. ``{"op_debug_level": 1, "dump_config": {"enable_dump": true}}`` or
        ``--set runtime.npu_options.dump_config.enable_dump=true``. Strings are coerced to
        the option's type; an option npu_device does not have, or a value it does not take,
        stops the run (nothing is silently dropped). Ignored off the NPU.
    """

    device: str = "auto"
    precision: str = "fp32"
    cpu_replicas: int = 1
    deterministic: bool = False
    npu_options: typing.Dict[str, typing.Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.device not in DEVICES:
            raise UsageError("runtime.device ({!r}) must be one of {}".format(
                self.device, ", ".join(DEVICES)))
        if self.precision not in PRECISIONS:
            raise UsageError("runtime.precision ({!r}) must be one of {}".format(
                self.precision, ", ".join(PRECISIONS)))
        if not 1 <= self.cpu_replicas <= MAX_CPU_REPLICAS:
            raise UsageError("runtime.cpu_replicas ({}) must be 1 to {}: the replicas split the "
                             "same cores, and each one is a copy of the step to build and run "
                             "(1,024 made no progress for minutes)".format(
                                 self.cpu_replicas, MAX_CPU_REPLICAS))


#: the most logical CPU devices a run mirrors over (tests and debugging of replica code)
MAX_CPU_REPLICAS = 64


def _coerce(section, key, value, annotation):
    """Convert ``value`` to the field's type or raise a UsageError naming both."""
    where = "{}.{}".format(section, key)
    origin = getattr(annotation, "__origin__", None)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # no setting means anything at NaN or infinity
                raise UsageError("{} got {!r}; expected a finite number".format(where, value))
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
        if value is None:
            return ""
    elif origin in (dict, typing.Dict):
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return dict(value)
    elif origin in (tuple, typing.Tuple):
        item_type = annotation.__args__[0]
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(section, key, v, item_type) for v in value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (_coerce(section, key, value, item_type),)
    else:
        return value
    raise UsageError("{} got {!r} ({}); expected {}".format(
        where, value, type(value).__name__, getattr(annotation, "__name__", annotation)))


def build_section(cls, values, section):
    """Dataclass ``cls`` from a dict; unknown keys and wrong types are a UsageError.

    Args:
      cls: the section's frozen dataclass.
      values: the section as a dict (None: every default).
      section: its name (for messages).

    Returns:
      An instance of ``cls``.

    Raises:
      UsageError: an unknown key, a badly typed value, or a value the class refuses.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError("unknown {} option(s): {}. Valid {} options: {}".format(
            section, ", ".join(unknown), section, ", ".join(sorted(fields))))
    kwargs = {k: _coerce(section, k, v, fields[k].type) for k, v in values.items()}
    return cls(**kwargs)


def section_classes(task):
    """{section name: its dataclass} for ``task``: the one mapping the CLI, the Python API and
    serving use to build (and name) a run's four sections.

    Args:
      task: a Task class.

    Returns:
      ``{"train", "model", "data", "eval", "runtime": dataclass}``.
    """
    return {"train": TrainConfig, "model": task.model_config_cls,
            "data": task.data_config_cls, "eval": task.eval_config_cls,
            "runtime": RuntimeConfig}


def build_sections(task, raw, names=("train", "model", "data", "eval", "runtime")):
    """The typed sections ``names`` of ``task`` from the nested dict ``raw``.

    Args:
      task: a Task class.
      raw: ``{section: dict}`` (missing sections take their defaults).
      names: the sections to build.

    Returns:
      ``{section: dataclass}``.
    """
    classes = section_classes(task)
    return {name: build_section(classes[name], raw.get(name), name) for name in names}


SECTIONS = ("train", "model", "data", "eval", "runtime")


def resolve(task, preset=None, config_file=None, flags=None, sets=(), values=None):
    """A run's typed sections from every source, in precedence order (later wins).

    task defaults < ``preset`` < ``config_file`` < ``flags`` < ``sets`` < ``values``. The one
    place that layers them: the command line and the Python API both call it.

    Args:
      task: the Task class (its defaults, presets and section classes).
      preset: the name of one of ``task.presets``, or None.
      config_file: a JSON or YAML file of sections, or None.
      flags: ``{(section, key): value}`` from dedicated command-line flags (None: not given).
      sets: ``section.key=value`` strings (``--set``).
      values: ``{(section, key): value}`` typed values (the Python API), applied last.

    Returns:
      ``{section name: frozen dataclass}`` for :data:`SECTIONS`, every field validated.

    Raises:
      UsageError: an unknown preset, section or key, a bad file or a badly typed value.
    """
    raw = {name: {} for name in SECTIONS}
    raw["train"].update(task.train_defaults)
    if preset:
        if preset not in task.presets:
            raise UsageError("--preset {!r}: {} has {}".format(
                preset, task.name, "the presets " + ", ".join(sorted(task.presets))
                if task.presets else "no presets"))
        for section, entries in task.presets[preset].items():
            raw[section].update(entries)
    if config_file:
        loaded = load_config_file(config_file)
        unknown = sorted(set(loaded) - set(SECTIONS) - {"task"})
        if unknown:
            raise UsageError("--config {}: unknown section(s) {}; sections are {}".format(
                config_file, ", ".join(unknown), ", ".join(SECTIONS)))
        for section in SECTIONS:
            raw[section].update(loaded.get(section) or {})
    for (section, key), value in sorted((flags or {}).items()):
        if value is not None:
            raw[section][key] = value
    apply_overrides(raw, sets, SECTIONS)
    for (section, key), value in sorted((values or {}).items()):
        raw[section][key] = value
    return absolute_paths(build_sections(task, raw, SECTIONS))


def is_path_field(name):
    """Whether a config field names a file or folder: ``*_dir`` and ``*_run`` (data_dir,
    cache_dir, structure_dir, eval.base_run)."""
    return name.endswith(("_dir", "_run"))


def absolute_paths(sections):
    """The sections with every path field made absolute against the working directory.

    Why: ``config.json`` is read again by evaluate, predict, export and ``--resume``, maybe
    from another working directory; a relative ``data/x`` would then name another folder
    (or none).

    Args:
      sections: ``{name: dataclass}``.

    Returns:
      The same, with non-empty path fields absolute.
    """
    out = {}
    for name, section in sections.items():
        changes = {f.name: os.path.abspath(getattr(section, f.name))
                   for f in dataclasses.fields(section)
                   if is_path_field(f.name) and isinstance(getattr(section, f.name), str)
                   and getattr(section, f.name)}
        out[name] = dataclasses.replace(section, **changes) if changes else section
    return out


def to_dict(section):
    """A section as a plain JSON-able dict (tuples become lists), as ``config.json`` holds it.

    Args:
      section: a section dataclass.

    Returns:
      A dict.
    """
    out = dataclasses.asdict(section)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def parse_value(text):
    """A ``--set`` value: JSON when it parses (numbers, true/false, lists), else the string.

    Args:
      text: what follows ``=``.

    Returns:
      The parsed value.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:  # "[[[[...": a value nested thousands deep is no setting
        raise UsageError("--set value {}... is nested too deeply to read".format(text[:40]))


def apply_overrides(config, assignments, sections):
    """Apply ``section.key=value`` strings to the nested dict ``config`` (in place).

    Args:
      config: ``{section: dict}``, edited in place.
      assignments: ``section.key=value`` strings (``a.b.c`` reaches nested mappings).
      sections: the valid section names.

    Returns:
      ``config``.

    Raises:
      UsageError: no ``=``, no section, an unknown section, or a key under a non-mapping.
    """
    for item in assignments:
        if "=" not in item:
            raise UsageError("--set {!r}: expected section.key=value, e.g. train.epochs=3".format(
                item))
        key, text = item.split("=", 1)
        if "." not in key:
            raise UsageError("--set {!r}: the key must name a section ({}), e.g. "
                             "model.{}=...".format(item, ", ".join(sections), key))
        section, name = key.split(".", 1)
        if section not in sections:
            raise UsageError("--set {!r}: unknown section {!r}; sections are {}".format(
                item, section, ", ".join(sections)))
        target = config.setdefault(section, {})
        *parents, leaf = name.split(".")  # a.b.c: nested mappings (e.g. runtime.npu_options)
        for part in parents:
            if not isinstance(target.get(part, {}), dict):
                raise UsageError("--set {!r}: {} is not a mapping".format(item, part))
            target = target.setdefault(part, {})
        target[leaf] = parse_value(text)
    return config


#: the most values (scalars, lists, mappings) a config file may expand to: real configs hold
#: tens; a "billion laughs" file of nested YAML aliases expands to billions and would hang
MAX_CONFIG_VALUES = 100000
#: the largest config file read (bytes)
MAX_CONFIG_BYTES = 1 << 20


def _expanded_size(node, memo):
    """How many values a composed YAML node becomes once its aliases are expanded; each node
    is counted once (``memo``), so an alias bomb is measured without expanding it."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a recursive alias counts once instead of looping
        children = 0
        if isinstance(node.value, list):
            for item in node.value:
                if isinstance(item, tuple):  # a mapping's (key, value) pair
                    children += sum(_expanded_size(n, memo) for n in item)
                else:
                    children += _expanded_size(item, memo)
        memo[key] = 1 + children
    return memo[key]


def load_config_file(path):
    """Read a JSON or YAML config file into a nested dict.

    Args:
      path: a ``.json``, ``.yaml`` or ``.yml`` file.

    Returns:
      ``{section: dict}``.

    Raises:
      UsageError: no such file, too large, not valid JSON/YAML, nested too deeply, a YAML
        file whose aliases expand beyond :data:`MAX_CONFIG_VALUES`, PyYAML missing, or not
        a mapping.
    """
    if not os.path.isfile(path):
        raise UsageError("--config {}: no such file".format(path))
    if os.path.getsize(path) > MAX_CONFIG_BYTES:
        raise UsageError("--config {}: {:,} bytes; a config file holds at most {:,}".format(
            path, os.path.getsize(path), MAX_CONFIG_BYTES))
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise UsageError("--config {}:{}: bytes that are not UTF-8 (offset {}); a config file "
                         "is UTF-8 text".format(path, line, err.start))
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise UsageError("--config {}: reading YAML needs PyYAML (pip install pyyaml), or "
                             "use a .json file".format(path))
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)  # aliases stay shared here
            size = _expanded_size(node, {})
            if size > MAX_CONFIG_VALUES:
                raise UsageError("--config {}: expands to {:,} values (anchors and aliases "
                                 "repeated inside each other); a config holds at most {:,}. "
                                 "Nothing was run.".format(path, size, MAX_CONFIG_VALUES))
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UsageError("--config {}: not valid YAML: {}".format(path, err))
        except RecursionError:
            raise UsageError("--config {}: nested too deeply".format(path))
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise UsageError("--config {}: not valid JSON: {}".format(path, err))
        except RecursionError:
            raise UsageError("--config {}: nested too deeply".format(path))
    if not isinstance(data, dict):
        raise UsageError("--config {}: expected a mapping of sections, got {}".format(
            path, type(data).__name__))
    _check_shape(path, data)
    return data


def _check_shape(path, data):
    """Every section a mapping (or empty), every key at every depth a name.

    Raises:
      UsageError: naming the section or key path and what it holds (``{"train": [1, 2]}``,
        ``train: {2: 3}`` or a top-level ``1:`` used to end in a traceback).
    """
    def names(mapping, where):
        for key, value in mapping.items():
            if not isinstance(key, str):
                raise UsageError("--config {}: {}key {!r} is not a name; {} are words such "
                                 "as {}".format(path, where + ": " if where else "", key,
                                                "settings" if where else "sections",
                                                "epochs" if where else ", ".join(SECTIONS)))
            if isinstance(value, dict):
                names(value, (where + "." if where else "") + key)

    names(data, "")
    for section, value in data.items():
        if section != "task" and value is not None and not isinstance(value, dict):
            raise UsageError("--config {}: section {!r} must be a mapping of settings (e.g. "
                             "{{\"epochs\": 3}}), got {} {}".format(
                                 path, section, type(value).__name__, repr(value)[:80]))
