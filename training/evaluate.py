"""``python -m training.evaluate --run-dir RUN [--data-dir DIR]``: score a saved run again.

Scores the run's selected checkpoint (``checkpoints/best``, else the latest) on validation and
test, with the task's rules on the same rows, through the driver
(:func:`training.driver.experiment.evaluate`). ``--data-dir`` scores another data set whose ids mean
what they meant in training (checked against ``RUN/vocab.json``): e.g. a new test split
processed with the same vocabulary. Prints one JSON object; ``--output FILE`` also writes it
(atomically). Exit codes as ``training.fit`` (:mod:`core.errors`).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

from core import files


def build_parser():
    """The argument parser of ``python -m training.evaluate``.

    Returns:
      An ``argparse.ArgumentParser``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description="Score a saved run's selected checkpoint, with the rules on the same rows.")
    parser.add_argument("--run-dir", required=True, help="a finished run directory")
    parser.add_argument("--data-dir", default=None,
                        help="score this data instead of the run's own (same ids)")
    parser.add_argument("--split", default="validation,test",
                        help="comma-separated splits (default validation,test)")
    parser.add_argument("--device", default="cpu", help="auto, npu, gpu or cpu (default cpu)")
    parser.add_argument("--output", default=None, help="also write the JSON here")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="debug logging and TensorFlow's start-up notices")
    return parser


def main(argv=None):
    """The command line.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0, or the error's exit code (2 bad input).
    """
    from core.errors import NpurecError, UsageError, said  # pylint: disable=import-outside-toplevel
    from training.driver import experiment  # pylint: disable=import-outside-toplevel

    args = build_parser().parse_args(argv)
    experiment.start(args.verbose)
    try:
        if args.output:  # refused before the run is scored, not after (minutes of work)
            folder = os.path.dirname(os.path.abspath(args.output))
            if not os.path.isdir(folder):
                raise UsageError("--output {}: the folder {} does not exist; nothing was "
                                 "scored".format(args.output, folder))
            files.output_kind(args.output)
        result = experiment.evaluate(args.run_dir, splits=tuple(
            s.strip() for s in args.split.split(",") if s.strip()), data_dir=args.data_dir,
            device=args.device)
        if args.output:
            files.write_json(args.output, result)
    except NpurecError as err:
        return said(err)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
