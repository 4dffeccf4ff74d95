"""Speed A/B in alternated windows: ``python -m benchmarks.ab --model din --set-b model.x=1``.

Why: this machine's speed drifts by up to ~40 % between processes and over minutes (DIN's
default measured 27k-38k samples/s in one session), so two runs one after the other cannot
tell a 5 % change from noise. Here each variant is built ONCE, in a child process of its
own, and the children take turns: window 1 A then B, window 2 B then A, and so on, each
child idle (blocked on a pipe) while the other runs. Both see the same machine over the same
minutes; the record is the median of each side's windows and the ratio B / A.

A variant is a configuration (``--set-a`` / ``--set-b``, ``--preset-a`` / ``--preset-b``,
the ``training.fit`` names; ``--set-b runtime.precision=bf16`` compares precisions, and
``runtime.device`` is ``auto`` as in a run), environment variables (``--env-a`` /
``--env-b``, e.g. TensorFlow's threading or oneDNN switches) and a checkout (``--code-a`` /
``--code-b``: the directory whose ``core``, ``models``, ``training`` and ``datasets`` the child
imports; default this one). So the same command compares two settings of today's code, or
today's code against a clone of ``main`` (``git clone -q . /tmp/main-before``) with the same
settings. A checkout is built with its own ``training.loop.build_trainer`` (the one builder
every run uses), so it must have one and take its inputs from the data object (issue 34,
commit ddf78c3 on); an older one is refused by name.

Each child also reports the training loss of its first steps from the same seed and the same
batches: equal losses (to rounding) say that a change is speed only; different ones that it
changes results, which then needs its quality measured (``training.fit`` on each generator).

Shapes (``--shape``): ``default`` is the task's own data as ``training.fit`` prepares it
(the embedded default, or ``--set data.data_dir=...``); ``realsize`` is NGNN at the real
Polyvore size (random vectors, :func:`benchmarks.realsize.polyvore_in_memory`) or DIN on
issue 26's ``remap.pkl`` layout (20,000 users and items, 200 categories; written once, read by
both children).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIDES = ("a", "b")


# -- the child: one variant, built once, timed a window per request ----------------------------
def _child(options):
    """Build the variant, report ``ready``, then time one window per ``run`` line on stdin."""
    sys.path.insert(0, os.path.abspath(options["code"]))
    from core import quiet  # pylint: disable=import-outside-toplevel

    quiet.start_tensorflow(False)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    trainer, batches, batch_size, resolved = _build(options)
    start = time.time()
    losses = [float(trainer.train_step(batches[i % len(batches)]))
              for i in range(options["loss_steps"])]
    compile_seconds = time.time() - start
    for i in range(options["warmup"]):
        trainer.train_step(batches[i % len(batches)])
    _say({"ready": True, "first_losses": losses, "compile_seconds": compile_seconds,
          "batch_size": batch_size, "config": resolved, "tensorflow": tf.__version__,
          "device": trainer.runtime.device, "precision": trainer.runtime.precision,
          "env": {name: os.environ.get(name) for name in
                  (item.split("=", 1)[0] for item in options["env"])}})
    steps, position = options["steps"], 0
    for line in sys.stdin:
        if line.strip() != "run":
            break
        begin = time.time()
        loss = None
        for _ in range(steps):
            loss = trainer.train_step(batches[position % len(batches)])
            position += 1
        float(loss)  # waits for the last step
        _say({"rate": steps * batch_size / (time.time() - begin)})


def _say(message):
    sys.stdout.write("AB " + json.dumps(message) + "\n")
    sys.stdout.flush()


def _build(options):
    """(trainer, batches, batch size, resolved sections) as ``training.fit`` builds them: the
    checkout's own :func:`training.loop.build_trainer` with the run's optimizer settings."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    try:
        from training.loop import build_trainer  # pylint: disable=import-outside-toplevel
    except ImportError:
        build_trainer = None
    if build_trainer is None or importlib.util.find_spec("datasets.inputs") is None:
        raise SystemExit("ab: the checkout {} predates training.loop.build_trainer and the "
                         "data object's inputs (issue 34); compare checkouts from commit "
                         "ddf78c3 on".format(options["code"]))
    from core import compat  # pylint: disable=import-outside-toplevel
    from training.infra import config as cfg  # pylint: disable=import-outside-toplevel
    from training.infra import runtime as rt  # pylint: disable=import-outside-toplevel
    from training.infra.sharding import epoch_dataset  # pylint: disable=import-outside-toplevel
    from training.tasks import task_class  # pylint: disable=import-outside-toplevel

    task_cls = task_class(options["model"])
    sets = list(options["sets"])
    if options.get("data_dir"):
        sets.insert(0, "data.data_dir=" + options["data_dir"])
    sections = cfg.resolve(task_cls, preset=options["preset"] or None, sets=sets)
    setup = sections["runtime"]
    runtime = rt.configure(setup.device, setup.precision, npu_options=setup.npu_options,
                           deterministic=setup.deterministic)
    train = sections["train"]
    compat.set_seed(train.seed)
    task = task_cls(task_cls.model_config_for(sections["model"], runtime.device),
                    sections["data"], sections["eval"])
    if options["shape"] == "realsize" and options["model"] == "ngnn":
        from benchmarks import realsize  # pylint: disable=import-outside-toplevel

        data = realsize.polyvore_in_memory()
    else:
        data = task.prepare(train.seed)
    batch_size = options["batch"] or train.batch_size
    with runtime.strategy.scope():
        model = task.build_model(data)
    trainer = build_trainer(task, data, model, runtime, train, batch_size)
    batches = list(epoch_dataset(data, batch_size, 0, train.seed).take(
        options["batches"]))
    if not batches:
        raise SystemExit("ab: the training split has fewer rows than one batch of {}".format(
            batch_size))
    with runtime.strategy.scope():
        trainer.build(batches[0])
    resolved = {name: cfg.to_dict(section) for name, section in sections.items()}
    return trainer, batches, batch_size, resolved


# -- the parent: start both, alternate the windows -------------------------------------------
class _Variant(object):
    """A running child and what it said."""

    def __init__(self, side, options, log_path):
        self.side = side
        self.options = options
        self.log = open(log_path, "w")
        env = dict(os.environ, PYTHONPATH=os.path.abspath(options["code"]) + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        env.update(item.split("=", 1) for item in options["env"])
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", json.dumps(options)],
            cwd=os.path.abspath(options["code"]), env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, universal_newlines=True)
        self.ready = None
        self.rates = []

    def read(self):
        """The child's next message (its other output is skipped); a clear error if it died."""
        for line in self.process.stdout:
            if line.startswith("AB "):
                return json.loads(line[3:])
        self.process.wait()
        self.log.flush()
        with open(self.log.name) as handle:
            tail = handle.read()[-3000:]
        raise RuntimeError("ab: variant {} ({}) exited with code {} before answering; its "
                           "log ends:\n{}".format(self.side, _describe(self.options),
                                                  self.process.returncode, tail))

    def window(self):
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        self.rates.append(self.read()["rate"])

    def close(self, kill=False):
        """Let the child leave (or end it at once: ``kill``, when the A/B failed)."""
        if self.process.poll() is None and kill:
            self.process.kill()
            self.process.wait()
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self.log.close()


def _describe(options):
    parts = ["--preset " + options["preset"]] if options["preset"] else []
    parts += ["--set " + s for s in options["sets"]]
    parts += [item for item in options["env"]]
    if os.path.abspath(options["code"]) != ROOT:
        parts.append("code " + options["code"])
    return " ".join(parts) or "defaults"


def compare(args):
    """Run the A/B and return its record (:func:`main` prints and writes it).

    Args:
      args: the parsed command line.

    Returns:
      A dict: each side's median and window rates, first losses and settings; ``ratio``.
    """
    work = tempfile.mkdtemp(prefix="npurec-ab-")
    variants = []
    failed = True
    try:
        data_dir = ""
        if args.shape == "realsize" and args.model == "din":
            sys.path.insert(0, ROOT)
            from benchmarks import realsize  # pylint: disable=import-outside-toplevel

            sizes = (400, 300, 20) if args.smoke else (20000, 20000, 200)
            data_dir = realsize.remap_layout(os.path.join(work, "remap"), *sizes)
        for side in SIDES:
            options = {"model": args.model, "shape": args.shape, "data_dir": data_dir,
                       "sets": getattr(args, "set_" + side) or [],
                       "env": getattr(args, "env_" + side) or [],
                       "preset": getattr(args, "preset_" + side) or "",
                       "code": getattr(args, "code_" + side) or ROOT, "batch": args.batch,
                       "steps": args.steps, "batches": args.batches,
                       "loss_steps": args.loss_steps, "warmup": args.warmup}
            variants.append(_Variant(side, options, os.path.join(work, side + ".log")))
        for variant in variants:  # both build at once; each answers when it is ready
            variant.ready = variant.read()
        for window in range(args.windows):
            for variant in (variants if window % 2 == 0 else variants[::-1]):
                variant.window()
        record = {"benchmark": "ab", "model": args.model, "shape": args.shape,
                  "windows": args.windows, "steps_per_window": args.steps,
                  "order": "alternated: A B, B A, A B, ..."}
        for variant in variants:
            record[variant.side] = {
                "variant": _describe(variant.options), "code": variant.options["code"],
                "samples_per_sec": statistics.median(variant.rates),
                "window_rates": variant.rates, "batch_size": variant.ready["batch_size"],
                "first_losses": variant.ready["first_losses"],
                "compile_seconds": variant.ready["compile_seconds"],
                "device": variant.ready["device"], "precision": variant.ready["precision"],
                "env": variant.ready["env"],
                "config": variant.ready["config"]}
        record["ratio"] = record["b"]["samples_per_sec"] / record["a"]["samples_per_sec"]
        # the ratio of each window pair, to see its spread as well as the medians' ratio
        record["pair_ratios"] = [b / a for a, b in zip(record["a"]["window_rates"],
                                                       record["b"]["window_rates"])]
        record["first_loss_max_diff"] = max(
            abs(a - b) for a, b in zip(record["a"]["first_losses"], record["b"]["first_losses"]))
        record.update(tensorflow=variants[0].ready["tensorflow"], cpu_count=os.cpu_count())
        failed = False
        return record
    finally:
        for variant in variants:
            variant.close(kill=failed)
        shutil.rmtree(work, ignore_errors=True)


def _env_item(text):
    if "=" not in text or not text.split("=", 1)[0]:
        raise argparse.ArgumentTypeError("{!r}: expected NAME=VALUE".format(text))
    return text


def main(argv=None):
    """The command line; returns 0 (1: a variant failed, its log's end on stderr).

    Args:
      argv: the arguments.

    Returns:
      The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(json.loads(argv[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--model", required=True, help="ngnn, din or a registered task")
    for side in SIDES:
        parser.add_argument("--set-" + side, action="append", metavar="SECTION.KEY=VALUE",
                            help="variant {}'s overrides, as training.fit --set".format(
                                side.upper()))
        parser.add_argument("--preset-" + side, help="variant {}'s preset".format(side.upper()))
        parser.add_argument("--code-" + side, help="the checkout variant {} runs (default: "
                                                   "this one)".format(side.upper()))
        parser.add_argument("--env-" + side, action="append", metavar="NAME=VALUE",
                            type=_env_item, help="an environment variable of variant {}'s "
                            "process (e.g. TF_ENABLE_ONEDNN_OPTS=0)".format(side.upper()))
    parser.add_argument("--shape", default="realsize", choices=["realsize", "default"])
    parser.add_argument("--batch", type=int, default=0, help="0: the configuration's")
    parser.add_argument("--windows", type=int, default=12, help="timed windows per variant")
    parser.add_argument("--steps", type=int, default=8, help="training steps per window")
    parser.add_argument("--batches", type=int, default=8, help="distinct batches, cycled")
    parser.add_argument("--loss-steps", type=int, default=3,
                        help="first steps whose losses are compared (same seed, same batches)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps after those")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--smoke", action="store_true", help="tiny DIN remap layout (tests)")
    args = parser.parse_args(argv)
    try:
        record = compare(args)
    except RuntimeError as err:
        sys.stderr.write("{}\n".format(err))
        return 1
    from benchmarks import report  # pylint: disable=import-outside-toplevel

    report.emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
