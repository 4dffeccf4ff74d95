"""Command line: ``python -m training.fit --model {ngnn,din} [options]``.

Without ``--data-dir`` the model's embedded default data is generated (deterministically, once)
and used; the run says that it is synthetic. Every run writes a run directory (see
:mod:`training.rundir`). Bad input exits with code 2 and one message naming what was wrong.

Configuration precedence (later wins): task defaults < ``--config FILE`` < flags such as
``--epochs`` < ``--set section.key=value``.
"""
from __future__ import absolute_import, division, print_function

import argparse
import logging
import os
import platform
import sys
import time

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
    parser.add_argument("--device", default=None, choices=["auto", "npu", "gpu", "cpu"])
    parser.add_argument("--precision", default=None, choices=["fp32", "mixed", "bf16"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--output-dir", default=None,
                        help="run directory (default runs/MODEL-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --output-dir from its latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="move an earlier run in --output-dir aside and start again")
    parser.add_argument("--config", default=None, help="JSON or YAML file of config sections")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one option, e.g. --set model.hidden_size=16 (repeatable)")
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser


def resolve_config(args, task):
    """The nested config dict from task defaults, --config, flags and --set (in that order)."""
    from training import config as cfg  # pylint: disable=import-outside-toplevel

    raw = {"train": dict(task.train_defaults), "model": {}, "data": {}, "runtime": {}}
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
        ("data", "data_dir"): args.data_dir,
    }
    for (section, key), value in flags.items():
        if value is not None:
            raw[section][key] = value
    cfg.apply_overrides(raw, args.set, SECTIONS)
    sections = {
        "train": cfg.build_section(cfg.TrainConfig, raw["train"], "train"),
        "model": cfg.build_section(task.model_config_cls, raw["model"], "model"),
        "data": cfg.build_section(task.data_config_cls, raw["data"], "data"),
        "runtime": cfg.build_section(cfg.RuntimeConfig, raw["runtime"], "runtime"),
    }
    return sections


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
    """Parse ``argv``, train and evaluate; return a :class:`Run` (raises UsageError)."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("absl").setLevel(logging.WARNING)
    _check_datasets_package()
    from training import config as cfg  # pylint: disable=import-outside-toplevel
    from training import rundir, tasks  # pylint: disable=import-outside-toplevel

    task = tasks.get_task(args.model)
    sections = resolve_config(args, task)
    resolved = {"task": args.model}
    resolved.update({name: cfg.to_dict(section) for name, section in sections.items()})

    output_dir = args.output_dir or os.path.join(
        "runs", "{}-{}".format(args.model, time.strftime("%Y%m%d-%H%M%S")))
    output_dir, resuming = rundir.prepare(output_dir, resume=args.resume,
                                          overwrite=args.overwrite)
    config_path = os.path.join(output_dir, "config.json")
    if resuming:
        previous = rundir.read_json(config_path, {}) or {}
        for key in ("task", "model", "data"):
            if key in previous and previous[key] != resolved[key]:
                raise cfg.UsageError(
                    "--resume: the {} settings differ from the run in {} (was {}, now {}). "
                    "Resume with the same settings, or start a new --output-dir.".format(
                        key, output_dir, previous[key], resolved[key]))
    rundir.write_json_atomic(config_path, resolved)
    return _train(task, sections, resolved, output_dir, resuming)


def _train(task, sections, resolved, output_dir, resuming):
    from training import compat, loop, rundir  # pylint: disable=import-outside-toplevel
    from training import runtime as rt  # pylint: disable=import-outside-toplevel

    log = logging.getLogger("npurec.fit")
    runtime_cfg = sections["runtime"]
    train_cfg = sections["train"]
    runtime = rt.configure(runtime_cfg.device, runtime_cfg.precision,
                           cpu_replicas=runtime_cfg.cpu_replicas)
    compat.set_seed(train_cfg.seed)
    if runtime.device == "cpu":
        compat.enable_determinism()
    data = task.prepare(sections["data"], train_cfg.seed, log)
    with runtime.strategy.scope():
        model = task.build_model(sections["model"], data)
    results = loop.train_and_evaluate(task, data, model, runtime, train_cfg, output_dir,
                                      resuming, train_cfg.seed)
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
    rundir.write_json_atomic(os.path.join(output_dir, "metrics.json"), metrics)
    log.info("test: %s", ", ".join("{}={:.4f}".format(k, v)
                                   for k, v in sorted(metrics["test"].items())))
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


def main(argv=None):
    from training.errors import UsageError  # pylint: disable=import-outside-toplevel

    try:
        _check_datasets_package()
        from datasets import DataError  # pylint: disable=import-outside-toplevel

        run(argv)
    except (UsageError, DataError) as err:
        print("npurec: error: {}".format(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
