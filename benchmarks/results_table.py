"""The results tables of docs/models.md and README, made from runs' ``metrics.json``: the
model beside every baseline on the same rows.

    python -m benchmarks.results_table runs/din-ml100k-seed0 runs/din-ml100k-seed1

One row per run and split: the model, the strongest rule and learned baseline on each metric
(named), the ceiling where the data is generated, and the lead over the best baseline.
DIN is shown by AUC / GAUC (and log loss), NGNN by FITB accuracy / compatibility AUC.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

METRICS = {"din": ("auc", "gauc"), "ngnn": ("fitb_accuracy", "compat_auc")}
CEILING = "oracle"


def best_baseline(baselines, metric):
    """The baseline that scores highest on ``metric`` (the ceiling is not a baseline).

    Args:
      baselines: ``{name: {metric: value}}``.
      metric: the metric.

    Returns:
      ``(value, name)``, or ``(None, None)`` when none reports it.
    """
    found = [(values[metric], name) for name, values in baselines.items()
             if name != CEILING and metric in values and values[metric] == values[metric]]
    return max(found) if found else (None, None)


def rows(run_dir, split="test"):
    """The table's cells of one run.

    Args:
      run_dir: a finished run.
      split: validation or test.

    Returns:
      ``{"run", "model": {metric: value}, "best": {metric: (value, name)}, "ceiling":
      {metric: value} or None, "lead": {metric: value}}``.
    """
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        record = json.load(handle)
    names = METRICS[record["model"]]
    baselines = record["baselines"][split]
    model = {m: record[split][m] for m in names}
    best = {m: best_baseline(baselines, m) for m in names}
    ceiling = baselines.get(CEILING)
    return {"run": os.path.basename(os.path.normpath(run_dir)), "model": model, "best": best,
            "ceiling": {m: ceiling.get(m) for m in names} if ceiling else None,
            "lead": {m: model[m] - best[m][0] if best[m][0] is not None else None
                     for m in names}}


def markdown(run_dirs, split="test"):
    """A markdown table of the runs.

    Args:
      run_dirs: finished runs (one model).
      split: validation or test.

    Returns:
      The table's text.
    """
    cells = [rows(d, split) for d in run_dirs]
    names = list(cells[0]["model"])
    head = ["run"] + ["model " + m for m in names] + ["best baseline " + m for m in names] \
        + ["lead " + m for m in names] + ["ceiling"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell in cells:
        line = [cell["run"]]
        line += ["{:.4f}".format(cell["model"][m]) for m in names]
        line += ["{:.4f} ({})".format(*cell["best"][m]) if cell["best"][m][0] is not None
                 else "n/a" for m in names]
        line += ["{:+.4f}".format(cell["lead"][m]) if cell["lead"][m] is not None else "n/a"
                 for m in names]
        line.append(" / ".join("{:.4f}".format(v) for v in cell["ceiling"].values())
                    if cell["ceiling"] else "n/a (real data)")
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def main(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (one model)")
    parser.add_argument("--split", default="test", choices=["validation", "test"])
    args = parser.parse_args(argv)
    print(markdown(args.runs, args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
