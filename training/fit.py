"""Command line: ``python -m training.fit --model {ngnn,din} [options]``.

Without ``--data-dir`` the model's embedded default data is generated (deterministically, once)
and used; the run says that it is synthetic. Every run writes a run directory (see
:mod:`training.rundir`). Bad input exits with code 2 and one message naming what was wrong.

Configuration precedence (later wins): task defaults < ``--config FILE`` < flags such as
``--epochs`` < ``--set section.key=value``.

Several workers (``TF_CONFIG`` or ``RANK_SIZE``; ``--distributed`` insists on one): every
worker runs this same command; all checks that can refuse a run happen before any worker waits
for the others, and only the chief writes the run directory. Exit codes: 0 done, 2 bad input
(nothing written), 3 a worker was lost (relaunch all with ``--resume``).
"""
from __future__ import absolute_import, division, print_function

import argparse
import logging
import os
import platform
import sys
import time

from training.devices import DEVICES, PRECISIONS

SECTIONS = ("train", "model", "data", "runtime")


def _check_datasets_package():
    """Fail clearly when ``import datasets`` finds Hugging Face's package instead of ours."""
    import datasets  # pylint: disable=import-outside-toplevel

    if not getattr(datasets, "NPUREC_DATASETS", False):
        location = getattr(datasets, "__file__", "?")
        raise SystemExit(
            "npurec: `import datasets` resolved to {} (probably Hugging Face `datasets`), not "
            "npurec's datasets package. Run from the npurec checkout, install npurec into its "
            "own environment, or uninstall the other package.".format(location))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m training.fit",
        description="Train and evaluate an npurec model with the shared loop.")
    parser.add_argument("--model", required=True, help="task name: ngnn, din, ...")
    parser.add_argument("--data-dir", default=None,
                        help="real data directory; omitted: the embedded synthetic default")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="GLOBAL batch size")
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--device", default=None, choices=DEVICES)
    parser.add_argument("--precision", default=None, choices=PRECISIONS)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--deterministic", action="store_true",
                        help="bit-identical reruns of the same seed on this machine (one "
                             "inter-op thread; slower, see BENCHMARKS.md)")
    parser.add_argument("--output-dir", default=None,
                        help="run directory (default runs/MODEL-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --output-dir from its latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="move an earlier run in --output-dir aside and start again")
    parser.add_argument("--distributed", action="store_true",
                        help="train on the cluster in TF_CONFIG (CPU/GPU workers) or RANK_SIZE/"
                             "RANK_ID/RANK_TABLE_FILE (Ascend NPUs) and fail if there is none; "
                             "without it a cluster in the environment is still used")
    parser.add_argument("--preset", default=None, help="a named configuration of the model, "
                        "e.g. --preset paper (NGNN as published)")
    parser.add_argument("--config", default=None, help="JSON or YAML file of config sections")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one option, e.g. --set train.patience=2 (repeatable)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="debug logging, and TensorFlow's start-up notices (hidden by "
                             "default; NPUREC_VERBOSE=1 does the same)")
    return parser


def resolve_config(args, task):
    """The nested config dict from task defaults, --config, flags and --set (in that order)."""
    from training import config as cfg  # pylint: disable=import-outside-toplevel

    raw = {"train": dict(task.train_defaults), "model": {}, "data": {}, "runtime": {}}
    if args.preset:
        if args.preset not in task.presets:
            raise cfg.UsageError("--preset {!r}: {} has {}".format(
                args.preset, task.name, "the presets " + ", ".join(sorted(task.presets))
                if task.presets else "no presets"))
        for section, values in task.presets[args.preset].items():
            raw[section].update(values)
    if args.config:
        loaded = cfg.load_config_file(args.config)
        unknown = sorted(set(loaded) - set(SECTIONS) - {"task"})
        if unknown:
            raise cfg.UsageError("--config {}: unknown section(s) {}; sections are {}".format(
                args.config, ", ".join(unknown), ", ".join(SECTIONS)))
        for section in SECTIONS:
            raw[section].update(loaded.get(section) or {})
    flags = {
        ("train", "epochs"): args.epochs,
        ("train", "batch_size"): args.batch_size,
        ("train", "learning_rate"): args.learning_rate,
        ("train", "seed"): args.seed,
        ("runtime", "device"): args.device,
        ("runtime", "precision"): args.precision,
        ("runtime", "deterministic"): True if args.deterministic else None,
        ("data", "data_dir"): args.data_dir,
    }
    for (section, key), value in flags.items():
        if value is not None:
            raw[section][key] = value
    cfg.apply_overrides(raw, args.set, SECTIONS)
    # typed values from the Python API (training.api), applied last like --set
    for (section, key), value in sorted(getattr(args, "options", {}).items()):
        raw[section][key] = value
    return cfg.build_sections(task, raw, SECTIONS)


def versions():
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from training import compat  # pylint: disable=import-outside-toplevel

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": compat.keras_version(), "keras3": compat.IS_KERAS3,
            "numpy": np.__version__, "cpu_count": os.cpu_count()}


class Run(object):
    """What a finished run leaves in memory (the Python API returns it).

    Attributes: run_dir, metrics (as in metrics.json), history (as in history.json), model
    (the selected checkpoint's weights), task and data (for pictures and scoring).
    """

    def __init__(self, run_dir, metrics, model, task, data):
        self.run_dir = run_dir
        self.metrics = metrics
        self.model = model
        self.task = task
        self.data = data

    @property
    def history(self):
        from training import rundir  # pylint: disable=import-outside-toplevel

        return rundir.read_json(os.path.join(self.run_dir, "history.json"), [])

    def __repr__(self):
        return "Run({!r}, test={})".format(self.run_dir, self.metrics.get("test"))


def run(argv=None):
    """Parse ``argv`` (``python -m training.fit``'s arguments), train and evaluate.

    Returns:
      A :class:`Run`: the run directory, metrics (as in metrics.json), history and model.

    Raises:
      UsageError / DataError: bad arguments, config or data (the CLI exits 2), always
        before the output directory is touched. DivergedError: the loss diverged (the last
        finite checkpoint is kept). WorkerLostError: a worker of a cluster went away (exit 3).
    """
    return run_args(build_parser().parse_args(argv))


def run_args(args):
    """Train and evaluate with parsed arguments (:func:`build_parser`'s namespace, plus an
    optional ``options`` dict ``{(section, key): value}`` of typed values, applied after
    ``--set``); return a :class:`Run`."""
    from training import quiet  # pylint: disable=import-outside-toplevel

    quiet.start_tensorflow(args.verbose)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("absl").setLevel(logging.WARNING)
    _check_datasets_package()
    from training import config as cfg  # pylint: disable=import-outside-toplevel
    from training import rundir, tasks  # pylint: disable=import-outside-toplevel

    from training import cluster as cl  # pylint: disable=import-outside-toplevel

    task_cls = tasks.task_class(args.model)
    sections = resolve_config(args, task_cls)
    resolved = {"task": args.model}
    resolved.update({name: cfg.to_dict(section) for name, section in sections.items()})

    # Everything that can refuse the run, read-only, before workers wait for each other.
    cluster = cl.detect(required=args.distributed)
    cl.check_batch(cluster, sections["train"].batch_size)
    resolved["cluster"] = {"engine": cluster.engine, "workers": cluster.num_workers}
    if args.output_dir is None and cluster.distributed:
        raise cfg.UsageError("--output-dir is required with {} workers: every worker must name "
                             "the same (shared) run directory".format(cluster.num_workers))
    if args.output_dir is not None and not args.output_dir.strip():
        raise cfg.UsageError("--output-dir is empty: name a directory, or leave the flag out "
                             "for runs/MODEL-TIMESTAMP")
    output_dir = args.output_dir or os.path.join(
        "runs", "{}-{}".format(args.model, time.strftime("%Y%m%d-%H%M%S")))
    resuming = rundir.check(output_dir, resume=args.resume, overwrite=args.overwrite)
    config_path = os.path.join(output_dir, "config.json")
    if resuming:
        _check_resumable(rundir.read_json(config_path, {}) or {}, resolved, output_dir)
    elif args.resume:
        logging.getLogger("npurec.fit").warning(
            "--resume: %s holds no run to continue; starting a new run there", output_dir)
    return _train(task_cls, sections, resolved, output_dir, resuming, cluster, args)


# train settings that change the data order, the negatives or the meaning of a step: a
# resumed run must keep them (epochs, patience, evaluation cadence may change)
RESUME_FIXED_TRAIN = ("seed", "batch_size", "optimizer", "steps_per_epoch")


def _check_resumable(previous, resolved, output_dir):
    """--resume needs the same model, data and worker count as the run it continues."""
    from training.errors import UsageError  # pylint: disable=import-outside-toplevel

    if not previous:
        raise UsageError(
            "--resume: {} holds checkpoints but no config.json, so what it was trained with is "
            "unknown. Start a new --output-dir (or --overwrite to move it aside).".format(
                output_dir))
    changed = []
    for key in ("task", "model", "data"):
        if key in previous and previous[key] != resolved[key]:
            if isinstance(previous[key], dict):
                changed += ["{}.{} (was {!r}, now {!r})".format(
                    key, k, previous[key].get(k), resolved[key].get(k))
                    for k in sorted(set(previous[key]) | set(resolved[key]))
                    if previous[key].get(k) != resolved[key].get(k)]
            else:
                changed.append("{} (was {!r}, now {!r})".format(key, previous[key],
                                                                resolved[key]))
    before = previous.get("train") or {}
    changed += ["train.{} (was {!r}, now {!r})".format(k, before[k], resolved["train"][k])
                for k in RESUME_FIXED_TRAIN if k in before and before[k] != resolved["train"][k]]
    if changed:
        raise UsageError(
            "--resume: settings that change the data or the model differ from the run in {}: "
            "{}. Resume with the same settings, or start a new --output-dir. Nothing was "
            "changed.".format(output_dir, "; ".join(changed)))
    workers = (previous.get("cluster") or {}).get("workers", 1)
    if workers != resolved["cluster"]["workers"]:
        raise UsageError(
            "--resume: the checkpoints in {} were written by {} worker(s), this job has {}. "
            "Relaunch with {} worker(s), or start a new --output-dir. Nothing was "
            "changed.".format(output_dir, workers, resolved["cluster"]["workers"], workers))


def _train(task_cls, sections, resolved, output_dir, resuming, cluster, args):
    from training import compat, loop, rundir  # pylint: disable=import-outside-toplevel
    from training import runtime as rt  # pylint: disable=import-outside-toplevel

    log = logging.getLogger("npurec.fit")
    runtime_cfg = sections["runtime"]
    train_cfg = sections["train"]
    runtime = rt.configure(runtime_cfg.device, runtime_cfg.precision,
                           npu_options=runtime_cfg.npu_options,
                           cpu_replicas=runtime_cfg.cpu_replicas, cluster=cluster,
                           deterministic=runtime_cfg.deterministic)
    config_path = os.path.join(output_dir, "config.json")
    compat.set_seed(train_cfg.seed)
    if runtime.device == "cpu":
        compat.enable_determinism()
    # data and model first: bad data must leave the output directory as it was
    # the task is built once from its sections (and what the device needs of the model)
    task = task_cls(runtime.adapt_model_config(sections["model"], log), sections["data"])
    data = task.prepare(train_cfg.seed, log)
    with runtime.strategy.scope():
        model = task.build_model(data)
    vocabulary = task.vocabulary(data)
    if resuming:
        rundir.check_vocabulary(output_dir, vocabulary, log)
    if runtime.is_chief:  # every worker is up and passed its checks: now the chief writes
        rundir.prepare(output_dir, resume=args.resume, overwrite=args.overwrite)
        if not resuming:  # a resumed run's config is replaced once its checkpoint is accepted
            rundir.write_json_atomic(config_path, resolved)
        if vocabulary is not None:
            rundir.write_json_atomic(os.path.join(output_dir, rundir.VOCAB_FILE), vocabulary)
    results = loop.train_and_evaluate(task, data, model, runtime, train_config=train_cfg,
                                      run_dir=output_dir, resuming=resuming, seed=train_cfg.seed)
    metrics = {
        "model": task.name,
        "device": runtime.device,
        "precision": runtime.precision,
        "runtime": runtime.describe(),
        "versions": versions(),
        "data": task.describe_data(data),
        "config": resolved,
    }
    metrics.update(results)
    log.info("model selection: validation %s (%s is better) = %s at step %d of %d; "
             "checkpoint %s", metrics["monitor"],
             "higher" if metrics["monitor_mode"] == "max" else "lower",
             "n/a" if metrics["best_value"] is None else "{:.4f}".format(metrics["best_value"]),
             metrics["best_step"], metrics["steps"],
             metrics["selected_checkpoint"] or "none (the last weights)")
    log.info("test: %s", ", ".join("{}={:.4f}".format(k, v)
                                   for k, v in sorted(metrics["test"].items())))
    for name, values in sorted(metrics["baselines"]["test"].items()):
        log.info("test, %s %s: %s", "ceiling" if name == "oracle" else "rule", name,
                 ", ".join("{}={:.4f}".format(k, v) for k, v in sorted(values.items())))
    if runtime.is_chief:
        if resuming:
            rundir.write_json_atomic(config_path, resolved)
        rundir.write_json_atomic(os.path.join(output_dir, "metrics.json"), metrics)
        _plot_history(output_dir, log)
    log.info("run directory: %s", output_dir)
    return Run(output_dir, metrics, model, task, data)


def _plot_history(output_dir, log):
    """history.png beside history.json, when matplotlib is installed."""
    try:
        from training import plots  # pylint: disable=import-outside-toplevel

        plots.save_history(output_dir)
    except ImportError:
        log.info("matplotlib not installed: no history.png (pip install matplotlib)")


def exit_code(err):
    """The CLI's exit code for an exception: 2 bad input, 3 lost worker, None for a bug."""
    from datasets import DataError  # pylint: disable=import-outside-toplevel
    from training.errors import UsageError, WorkerLostError  # pylint: disable=C0415

    if isinstance(err, (UsageError, DataError)):
        return 2
    if isinstance(err, WorkerLostError):
        return 3
    return None


def main(argv=None):
    """The command line: :func:`run`, with clear messages and exit codes (2 bad input, 3 a
    lost worker) instead of tracebacks for everything but bugs."""
    _check_datasets_package()
    try:
        run(argv)
    except Exception as err:  # pylint: disable=broad-except
        code = exit_code(err)
        if code is None:
            raise
        print("npurec: error: {}".format(err), file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
