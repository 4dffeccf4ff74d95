"""Pictures of runs and models (matplotlib, imported lazily; ``pip install matplotlib``).

* :func:`save_history` - ``history.png``: training loss and validation metrics per evaluation.

Each model's own pictures live beside its task: :mod:`training.tasks.din_plots` (attention
over a history) and :mod:`training.tasks.ngnn_plots` (an outfit's item contributions, a
fill-in-the-blank question). :data:`plt` is matplotlib's pyplot, set to draw to files.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position

from training.infra import rundir  # noqa: E402  pylint: disable=wrong-import-position


def save_history(run_dir):
    """Write RUN/history.png from RUN/history.json; returns its path (None if no history).

    Args:
      run_dir: a run directory with a ``history.json``.

    Returns:
      The path of ``history.png``, or None when there is no history yet.
    """
    history = rundir.read_json(os.path.join(run_dir, "history.json"), []) or []
    if not history:
        return None
    steps = [h["step"] for h in history]
    names = sorted({k for h in history for k in h["validation"]})
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4 * (1 + len(names)), 3.2))
    axes = np.atleast_1d(axes)
    axes[0].plot(steps, [h["train_loss"] for h in history], marker="o")
    axes[0].set_title("training loss")
    for ax, name in zip(axes[1:], names):
        ax.plot(steps, [h["validation"].get(name, np.nan) for h in history], marker="o",
                color="tab:orange")
        ax.set_title("validation " + name)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    # fixed margins: tight_layout cost 0.24 s of a 0.6 s picture (docs/performance.md),
    # paid by every run
    fig.subplots_adjust(left=0.8 / fig.get_figwidth(), right=0.99, bottom=0.17, top=0.88,
                        wspace=0.3)
    path = os.path.join(run_dir, "history.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
