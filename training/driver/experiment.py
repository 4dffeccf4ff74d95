"""The experiment driver: resolved sections in, a finished run out (train, evaluate, write it).

Why one driver: the command line (:mod:`training.fit`) and the Python API
(:mod:`training.api`) both only turn their inputs into typed sections
(:func:`training.infra.config.resolve`) and call :func:`run`; :func:`evaluate` scores a saved run's
selected checkpoint on a data set. Everything a run does, in order, is here: the checks that
can refuse it (read-only, before any worker of a cluster waits for the others), the runtime,
the data and model, the loop, and the run directory's files (through :mod:`training.infra.rundir`,
their one owner).
"""
from __future__ import absolute_import, division, print_function

import logging
import os
import platform
import sys

from core import memory
from core.threads import one_native_thread
from core.errors import UsageError

log = logging.getLogger("npurec.experiment")


def start(verbose=False):
    """Prepare the process for a run: TensorFlow's start-up notices hidden (unless
    ``verbose``), logging to stderr, and our ``datasets`` package (not Hugging Face's).

    Args:
      verbose: debug logging and TensorFlow's notices.

    Raises:
      SystemExit: ``import datasets`` finds another package (the message says what to do).
    """
    from core import quiet  # pylint: disable=import-outside-toplevel

    quiet.start_tensorflow(verbose)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                            format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("absl").setLevel(logging.WARNING)
    check_datasets_package()


def check_datasets_package():
    """Fail clearly when ``import datasets`` finds Hugging Face's package instead of ours.

    Raises:
      SystemExit: naming where ``datasets`` was found and the three ways out.
    """
    import datasets  # pylint: disable=import-outside-toplevel

    if not getattr(datasets, "NPUREC_DATASETS", False):
        location = getattr(datasets, "__file__", "?")
        raise SystemExit(
            "npurec: `import datasets` resolved to {} (probably Hugging Face `datasets`), not "
            "npurec's datasets package. Run from the npurec checkout, install npurec into its "
            "own environment, or uninstall the other package.".format(location))


def versions():
    """The software a run used: Python, TensorFlow, Keras (and whether 3), NumPy, CPU count.

    Returns:
      A JSON-able dict.
    """
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from core import compat  # pylint: disable=import-outside-toplevel

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": compat.keras_version(), "keras3": compat.IS_KERAS3,
            "numpy": np.__version__, "cpu_count": os.cpu_count()}


class Run(object):
    """What a finished run leaves in memory (the Python API returns it).

    Attributes:
      run_dir: the run directory.
      metrics: as in ``metrics.json``.
      history: as in ``history.json`` (read on access).
      model: the selected checkpoint's weights.
      task, data: the task and its prepared data (for pictures and scoring).
    """

    def __init__(self, run_dir, metrics, model, task, data):
        self.run_dir = run_dir
        self.metrics = metrics
        self.model = model
        self.task = task
        self.data = data

    @property
    def history(self):
        """One record per evaluation, as in ``history.json``."""
        from training.infra import rundir  # pylint: disable=import-outside-toplevel

        return rundir.read_history(self.run_dir)

    def __repr__(self):
        return "Run({!r}, test={})".format(self.run_dir, self.metrics.get("test"))


def run(task_name, sections, output_dir=None, resume=False, overwrite=False,
        distributed=False):
    """Train and evaluate one experiment; write its run directory.

    Args:
      task_name: the registered task (``ngnn``, ``din``, ``package.module:Class``).
      sections: ``{section: dataclass}`` from :func:`training.infra.config.resolve`.
      output_dir: the run directory (None: ``runs/TASK-TIMESTAMP``; required with several
        workers).
      resume: continue the run in ``output_dir`` from its latest checkpoint.
      overwrite: move an earlier run in ``output_dir`` aside and start again.
      distributed: insist on a cluster in the environment (TF_CONFIG or RANK_SIZE).

    Returns:
      A :class:`Run`.

    Raises:
      UsageError / DataError: bad arguments, config or data, always before the output
        directory is touched. DivergedError: the loss diverged (the last finite checkpoint is
        kept). WorkerLostError: a worker of a cluster went away.
    """
    from training.infra import cluster as cl  # pylint: disable=import-outside-toplevel
    from training.infra import config as cfg  # pylint: disable=import-outside-toplevel
    from training import tasks  # pylint: disable=import-outside-toplevel
    from training.infra import rundir  # pylint: disable=import-outside-toplevel

    task_cls = tasks.task_class(task_name)
    resolved = {"task": task_name}
    resolved.update({name: cfg.to_dict(section) for name, section in sections.items()})

    # Everything that can refuse the run, read-only, before workers wait for each other.
    cluster = cl.detect(required=distributed)
    cl.check_batch(cluster, sections["train"].batch_size)
    resolved["cluster"] = {"engine": cluster.engine, "workers": cluster.num_workers}
    if output_dir is None and cluster.distributed:
        raise UsageError("--output-dir is required with {} workers: every worker must name "
                         "the same (shared) run directory".format(cluster.num_workers))
    if output_dir is not None and not str(output_dir).strip():
        raise UsageError("--output-dir is empty: name a directory, or leave the flag out "
                         "for runs/MODEL-TIMESTAMP")
    output_dir = output_dir or rundir.default_path(task_name)
    resuming = rundir.check(output_dir, resume=resume, overwrite=overwrite)
    if resuming:
        rundir.check_resumable(output_dir, resolved)
    elif resume:
        log.warning("--resume: %s holds no run to continue; starting a new run there",
                    output_dir)
    return _train(task_cls, sections, resolved, output_dir, resuming, cluster, resume,
                  overwrite)


def _train(task_cls, sections, resolved, output_dir, resuming, cluster, resume, overwrite):
    from core import compat  # pylint: disable=import-outside-toplevel
    from training import loop  # pylint: disable=import-outside-toplevel
    from training.infra import rundir  # pylint: disable=import-outside-toplevel
    from training.infra import runtime as rt  # pylint: disable=import-outside-toplevel

    runtime_cfg = sections["runtime"]
    train_cfg = sections["train"]
    runtime = rt.configure(runtime_cfg.device, runtime_cfg.precision,
                           npu_options=runtime_cfg.npu_options,
                           cpu_replicas=runtime_cfg.cpu_replicas, cluster=cluster,
                           deterministic=runtime_cfg.deterministic)
    compat.set_seed(train_cfg.seed)
    if runtime.device == "cpu":
        compat.enable_determinism()
    # data and model first: bad data must leave the output directory as it was. What the
    # device needs of the model is the task's to say (Task.device_model_options).
    task = task_cls(task_cls.model_config_for(sections["model"], runtime.device, log),
                    sections["data"], sections["eval"])
    _check_settings(task, train_cfg, runtime.num_replicas)  # before the data is read
    data = task.prepare(train_cfg.seed, log)
    _check_data_size(data, train_cfg)
    _check_same_data(task, data, runtime)
    estimate = task.model_bytes(data)
    if estimate is not None:
        memory.check_fits(estimate[0], "{}'s weights and optimizer state".format(task.name),
                          estimate[1])
    with runtime.strategy.scope():
        model = task.build_model(data)
    vocabulary = data.vocabulary()
    if resuming:
        rundir.check_vocabulary(output_dir, vocabulary, log)
    if runtime.is_chief:  # every worker is up and passed its checks: now the chief writes
        rundir.prepare(output_dir, resume=resume, overwrite=overwrite)
        if not resuming:  # a resumed run's config is replaced once its checkpoint is accepted
            rundir.write_config(output_dir, resolved)
        if vocabulary is not None:
            rundir.write_vocabulary(output_dir, vocabulary)
    results = loop.train_and_evaluate(task, data, model, runtime, train_config=train_cfg,
                                      run_dir=output_dir, resuming=resuming, seed=train_cfg.seed)
    metrics = {
        "model": task.name,
        "device": runtime.device,
        "precision": runtime.precision,
        "runtime": runtime.describe(),
        "versions": versions(),
        "data": data.describe(),
        "config": data.applied_config(resolved),
    }
    metrics.update(results)
    _log_results(metrics)
    if runtime.is_chief:
        if resuming:
            rundir.write_config(output_dir, resolved)
        rundir.write_metrics(output_dir, metrics)
        _plot_history(output_dir)
    log.info("run directory: %s", output_dir)
    return Run(output_dir, metrics, model, task, data)


def _check_settings(task, train_cfg, replicas=1):
    """What the settings and the devices alone decide, checked before the data is read (a
    refusal does not wait for a data set's preparation) and before the run directory is
    touched: a refused run leaves nothing behind (exit 2 promises it), and the corrected rerun
    is not refused as "already holds a run". :func:`_check_data_size` checks the rest once
    the data is there.

    Raises:
      UsageError: a batch the replicas cannot share evenly, or a ``train.monitor`` that is
        none of the task's metrics.
    """
    if train_cfg.batch_size % replicas:
        raise UsageError(
            "train.batch_size ({}) must be divisible by the number of replicas ({}) so every "
            "replica gets the same static shape; use {}. Nothing was written.".format(
                train_cfg.batch_size, replicas,
                (train_cfg.batch_size // replicas + 1) * replicas))
    names = task.metric_names
    if not names:  # the one place the monitor is checked: a task must say what it measures
        raise UsageError("task {} declares no metric_names (the names its metrics() returns); "
                         "a task class must list them. Nothing was written.".format(task.name))
    monitor = train_cfg.monitor or task.monitor
    if monitor not in names:
        raise UsageError("train.monitor {!r} is not a validation metric of {}; choose one of "
                         "{}. Nothing was written.".format(monitor, task.name,
                                                           ", ".join(sorted(names))))


def _check_data_size(data, train_cfg):
    """The batch against the training set, once the data is read and before the run
    directory is touched (as :func:`_check_settings`).

    Raises:
      UsageError: a batch larger than the training set.
    """
    n_train = data.num_train_examples()
    if train_cfg.batch_size > n_train:
        raise UsageError("train.batch_size ({}) is larger than the training set ({} examples); "
                         "lower it. Nothing was written.".format(train_cfg.batch_size, n_train))


def data_fingerprint(task, data):
    """A number that two workers with the same data share: a hash of the training-set size
    and the vocabulary (52 bits, exact as a float64)."""
    import hashlib  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel

    text = json.dumps([data.num_train_examples(), data.vocabulary()], sort_keys=True,
                      default=str)
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:13], 16)


def _check_same_data(task, data, runtime):
    """Every worker of a cluster loaded the same data, before the first collective step.

    Why: two workers given different data crashed in a collective with a shape mismatch (or,
    with equal shapes, would train on a mix without a word).

    Raises:
      UsageError: naming the workers whose data differs from the chief's (worker 0).
    """
    prints = runtime.gather_from_workers(float(data_fingerprint(task, data)))
    differ = [i for i, value in enumerate(prints) if value != prints[0]]
    if differ:
        raise UsageError(
            "worker(s) {} loaded other data than worker 0 (another --data-dir, data settings "
            "or files): every worker must read the same data set. Nothing was written.".format(
                ", ".join(str(i) for i in differ)))


def _log_results(metrics):
    log.info("model selection: validation %s (%s is better) = %s at step %d of %d; "
             "checkpoint %s", metrics["monitor"],
             "higher" if metrics["monitor_mode"] == "max" else "lower",
             "n/a" if metrics["best_value"] is None else "{:.4f}".format(metrics["best_value"]),
             metrics["best_step"], metrics["steps"],
             metrics["selected_checkpoint"] or "none (the last weights)")
    log.info("test: %s", ", ".join("{}={:.4f}".format(k, v)
                                   for k, v in sorted(metrics["test"].items())))
    for name, values in sorted(metrics["baselines"]["test"].items()):
        log.info("test, %s %s: %s", "ceiling" if name == "oracle" else "baseline", name,
                 ", ".join("{}={:.4f}".format(k, v) for k, v in sorted(values.items())))


def _plot_history(output_dir):
    """history.png beside history.json, when matplotlib is installed."""
    try:
        from training.infra import plots  # pylint: disable=import-outside-toplevel

        plots.save_history(output_dir)
    except ImportError:
        log.info("matplotlib not installed: no history.png (pip install matplotlib)")


def evaluate(run_dir, splits=("validation", "test"), data_dir=None, device="cpu"):
    """Score a saved run's selected checkpoint on a data set, with the rules on the same rows.

    Args:
      run_dir: a finished run (its config, vocabulary and ``checkpoints/best``).
      splits: the splits to score.
      data_dir: score this data instead of the run's own (its ids must mean what they meant
        in training: ``RUN/vocab.json`` is checked); None: the run's data.
      device: ``auto``, ``npu``, ``gpu`` or ``cpu``.

    Returns:
      ``{"run_dir", "checkpoint", "data_dir", split: metrics, "baselines": {split: {rule:
      metrics}}, "below_rules": [...]}``; ``below_rules`` compares the model with every rule
      on validation when it is scored, else on the first split.

    Raises:
      UsageError: not a run, no checkpoint, a checkpoint that does not fit the run's model,
        an unknown split, or data whose ids differ from the run's.
    """
    from training.infra import metrics as metrics_lib  # pylint: disable=import-outside-toplevel
    from training.infra import runtime as rt  # pylint: disable=import-outside-toplevel
    from training.driver import serving  # pylint: disable=import-outside-toplevel
    from training.loop.trainer import Trainer  # pylint: disable=import-outside-toplevel

    unknown = [s for s in splits if s not in ("train", "validation", "test")]
    if unknown or not splits:
        raise UsageError("--split {}: choose validation and/or test".format(
            ", ".join(unknown) or "(none)"))
    runtime = rt.configure(device, "fp32")
    loaded = serving.load_run(run_dir, data_dir=data_dir)
    train_cfg = loaded.sections["train"]
    batch = max(runtime.num_replicas, train_cfg.resolved_eval_batch_size)
    trainer = Trainer(loaded.task, loaded.data, loaded.model, None, runtime, runtime.num_replicas)
    out = {"run_dir": run_dir, "checkpoint": loaded.checkpoint,
           "data_dir": loaded.sections["data"].data_dir or None, "baselines": {}}
    for split in splits:
        scores = trainer.score_arrays(loaded.data.eval_arrays(split), batch)
        out[split] = loaded.task.metrics(loaded.data, split, scores)
        with one_native_thread():  # core/threads.py
            out["baselines"][split] = loaded.task.baselines(loaded.data, split)
    said = "validation" if "validation" in splits else splits[0]
    out["below_rules"] = metrics_lib.below_rules(out[said], out["baselines"][said])
    return out
