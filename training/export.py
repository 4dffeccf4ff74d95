"""``python -m training.export --run-dir RUN [--out DIR]``: a SavedModel for serving.

Writes ``RUN/export/`` (or ``--out``) with a ``serving_default`` signature (DIN: history item
and category ids, history length and candidate -> click probability; NGNN: an outfit's store
rows, categories and mask -> compatibility score), reloads it and checks that its predictions
on validation rows match the checkpoint's (max abs difference reported, 1e-5 tolerance).
"""
from __future__ import absolute_import, division, print_function

import argparse
import logging
import os
import sys

import numpy as np

from core import files
from core import quiet
from core.errors import UsageError


def export(run_dir, out=None, check_rows=256):
    """Export the run's selected model as a SavedModel and check it against the checkpoint.

    Args:
      run_dir: a finished run directory.
      out: the SavedModel folder (default ``RUN/export``); must not exist.
      check_rows: validation rows scored by both the reloaded SavedModel and the checkpoint.

    Returns:
      (the SavedModel's path, the largest absolute difference on the check rows).

    Raises:
      UsageError: ``out`` exists, the run cannot be loaded, or the reloaded model differs
        from the checkpoint by more than 1e-5 (nothing is left behind then).
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from training.driver import serving  # pylint: disable=import-outside-toplevel

    loaded = serving.load_run(run_dir)
    exporter = loaded.task.exporter()
    module = exporter.export_module(loaded.model, loaded.data)
    out = out or os.path.join(run_dir, "export")
    if os.path.exists(out):
        raise UsageError("{} exists; remove it or pass another --out".format(out))
    with files.atomic_directory(out, exists=files.REFUSE) as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve})
        sample, want = exporter.serving_check(loaded.model, loaded.data, check_rows)
        sample = {k: tf.constant(v) for k, v in sample.items()}
        restored = tf.saved_model.load(tmp)
        got = list(restored.signatures["serving_default"](**sample).values())[0].numpy()
        diff = float(np.max(np.abs(got - want)))
        if not diff <= 1e-5:
            raise RuntimeError("exported model disagrees with the checkpoint (max abs "
                               "difference {})".format(diff))
    return out, diff


def main(argv=None):
    """The command line of :func:`export`; returns the exit code (:mod:`core.errors`).

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 or the exit code.
    """
    parser = argparse.ArgumentParser(prog="python -m training.export")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--out", default=None)
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show TensorFlow's start-up notices")
    args = parser.parse_args(argv)
    quiet.start_tensorflow(args.verbose)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from core.errors import NpurecError, said  # pylint: disable=import-outside-toplevel

    try:
        path, diff = export(args.run_dir, args.out)
    except NpurecError as err:
        return said(err)
    print("exported {} (max abs difference vs checkpoint: {:.2e})".format(path, diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
