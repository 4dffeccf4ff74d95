"""``python -m training.predict --run-dir RUN --input IN.jsonl --output OUT.jsonl``.

Scores JSON-lines requests with a trained run, in batches. Each output line answers the input
line with the same number (``"line": n``): the task's result (DIN: click probabilities of the
candidates and their ranking; NGNN: an outfit's score, or a fill-in-the-blank question's
candidate scores and answer), ``"warnings"`` when something was adjusted (a DIN history longer
than maxlen is truncated), or ``"error"`` for a line that cannot be scored (bytes that are not
UTF-8, malformed JSON, unknown ids, ids that are not integers, an outfit of one item or more
than 8): the rest of the file is still scored.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import logging
import os
import sys

import numpy as np

from core import files
from core.errors import UsageError
from core import quiet


def _check_paths(input_path, output_path):
    """Refuse answers that would replace the requests, or go nowhere.

    Raises:
      UsageError: no input file, an output folder that does not exist, an output that is a
        folder, or an output that IS the input (the same file by identity: a link or another
        spelling of the path counts).
    """
    if not os.path.isfile(input_path):
        raise UsageError("--input {}: no such file".format(input_path))
    directory = os.path.dirname(os.path.abspath(output_path))
    if not os.path.isdir(directory):
        raise UsageError("--output {}: the folder {} does not exist".format(output_path,
                                                                           directory))
    if os.path.isdir(output_path):
        raise UsageError("--output {} is a folder; name a file".format(output_path))
    if os.path.exists(output_path) and os.path.samefile(input_path, output_path):
        raise UsageError("--output {} is the input file {}: the answers would replace the "
                         "requests. Name another file (nothing was written).".format(
                             output_path, input_path))


def predict(run_dir, input_path, output_path, batch_rows=4096):
    """Score the JSON-lines requests of ``input_path`` into ``output_path``.

    Args:
      run_dir: a finished run (its config, vocabulary and selected checkpoint are used).
      input_path: one JSON request per line (the task's request format; README).
      output_path: one JSON answer per input line, in order; a bad line gets an ``error``
        answer naming what is wrong, and the other lines are still scored.
      batch_rows: rows scored per call of the serving function.

    Returns:
      (lines scored, lines answered with an error).

    Raises:
      UsageError: no such run or input, the output's folder is missing, the output is a
        folder or is the input itself, or the data the run is pointed at no longer matches
        its vocabulary.
    """
    from training.driver import serving  # pylint: disable=import-outside-toplevel

    _check_paths(input_path, output_path)  # before the run is loaded: refusals are cheap
    loaded = serving.load_run(run_dir)
    exporter, data = loaded.task.exporter(), loaded.data
    module = exporter.export_module(loaded.model, data)
    results, pending, errors = {}, [], 0

    def flush():
        if not pending:
            return
        keys = pending[0][2].keys()
        merged = {k: np.concatenate([p[2][k] for p in pending]) for k in keys}
        scores = list(module.serve(merged).values())[0].numpy()
        offset = 0
        for number, request, rows, warnings in pending:
            n = len(next(iter(rows.values())))
            out = {"line": number}
            out.update(exporter.format_result(request, scores[offset:offset + n]))
            if warnings:
                out["warnings"] = warnings
            results[number] = out
            offset += n
        del pending[:]

    with open(input_path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise ValueError("bytes that are not UTF-8 at column {}".format(
                        err.start + 1))
                try:
                    request = json.loads(text)
                except ValueError as err:
                    raise ValueError("malformed JSON ({})".format(err))
                except RecursionError:  # a line nested thousands deep: one bad line
                    raise ValueError("malformed JSON (nested too deeply to read)")
                if not isinstance(request, dict):
                    raise ValueError("expected a JSON object")
                rows, warnings = exporter.request_rows(data, request)
            except ValueError as err:
                results[number] = {"line": number, "error": str(err)}
                errors += 1
                continue
            pending.append((number, request, rows, warnings))
            if sum(len(next(iter(p[2].values()))) for p in pending) >= batch_rows:
                flush()
    flush()
    with files.atomic_file(output_path) as out:
        for number in sorted(results):
            out.write(json.dumps(results[number]) + "\n")
    return len(results) - errors, errors


def main(argv=None):
    """The command line of :func:`predict`; returns the exit code (:mod:`core.errors`).

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 or the exit code.
    """
    parser = argparse.ArgumentParser(prog="python -m training.predict")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch-rows", type=int, default=4096)
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show TensorFlow's start-up notices")
    args = parser.parse_args(argv)
    quiet.start_tensorflow(args.verbose)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from core.errors import NpurecError, said  # pylint: disable=import-outside-toplevel

    try:
        scored, errors = predict(args.run_dir, args.input, args.output, args.batch_rows)
    except NpurecError as err:
        return said(err)
    print("scored {} line(s), {} error line(s) -> {}".format(scored, errors, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
