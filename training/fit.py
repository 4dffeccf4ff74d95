"""Command line: ``python -m training.fit --model {ngnn,din} [options]``, a thin caller of the
driver.

Without ``--data-dir`` the model's embedded default data is generated (deterministically, once)
and used; the run says that it is synthetic. Every run writes a run directory (see
:mod:`training.infra.rundir`). What a run does is :mod:`training.driver.experiment`'s; this module only
turns flags into typed sections (:func:`training.infra.config.resolve`) and errors into exit codes.

Configuration precedence (later wins): task defaults < ``--preset`` < ``--config FILE`` <
flags such as ``--epochs`` < ``--set section.key=value``.

Several workers (``TF_CONFIG`` or ``RANK_SIZE``; ``--distributed`` insists on one): every
worker runs this same command; all checks that can refuse a run happen before any worker waits
for the others, and only the chief writes the run directory. Exit codes
(:mod:`core.errors`): 0 done, 2 bad input (nothing written), 3 a worker was lost (relaunch
all with ``--resume``), 4 training diverged.
"""
from __future__ import absolute_import, division, print_function

import argparse
import sys

from core.precision import DEVICES, PRECISIONS


def build_parser():
    """The argument parser of ``python -m training.fit`` (also read by the documentation tests).

    Returns:
      An ``argparse.ArgumentParser``.
    """
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


def flag_values(args):
    """``{(section, key): value}`` of the dedicated flags (None where a flag was not given).

    Args:
      args: :func:`build_parser`'s namespace.

    Returns:
      ``{(section, key): value or None}``.
    """
    return {
        ("train", "epochs"): args.epochs,
        ("train", "batch_size"): args.batch_size,
        ("train", "learning_rate"): args.learning_rate,
        ("train", "seed"): args.seed,
        ("runtime", "device"): args.device,
        ("runtime", "precision"): args.precision,
        ("runtime", "deterministic"): True if args.deterministic else None,
        ("data", "data_dir"): args.data_dir,
    }


def run(argv=None):
    """Parse ``argv`` (``python -m training.fit``'s arguments), train and evaluate.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      A :class:`training.driver.experiment.Run`.

    Raises:
      NpurecError: as :func:`training.driver.experiment.run` (bad input, divergence, a lost worker).
    """
    from training.driver import experiment  # pylint: disable=import-outside-toplevel

    args = build_parser().parse_args(argv)
    experiment.start(args.verbose)
    from training.infra import config as cfg  # pylint: disable=import-outside-toplevel
    from training import tasks  # pylint: disable=import-outside-toplevel

    sections = cfg.resolve(tasks.task_class(args.model), preset=args.preset,
                           config_file=args.config, flags=flag_values(args), sets=args.set)
    return experiment.run(args.model, sections, output_dir=args.output_dir,
                          resume=args.resume, overwrite=args.overwrite,
                          distributed=args.distributed)


def main(argv=None):
    """The command line: :func:`run`, with one message and an exit code (:mod:`core.errors`)
    instead of a traceback for everything but bugs.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0, or the error's exit code (2 bad input, 3 a lost worker, 4 diverged, 130
      interrupted).
    """
    from core.errors import NpurecError, said  # pylint: disable=import-outside-toplevel
    from training.driver import experiment  # pylint: disable=import-outside-toplevel

    experiment.check_datasets_package()
    try:
        run(argv)
    except KeyboardInterrupt:  # before training started (the loop names its own step)
        print("npurec: error: interrupted before training started; nothing to resume",
              file=sys.stderr)
        return 130
    except NpurecError as err:
        return said(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
