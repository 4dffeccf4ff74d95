"""Pictures of runs and models (matplotlib, imported lazily; ``pip install matplotlib``).

* :func:`save_history` - ``history.png``: training loss and validation metrics per evaluation.
* :func:`din_attention` - heat map of DIN's attention weights over one user's history for
  several candidate items.
* :func:`ngnn_contributions` - an outfit's per-item contribution to its score.
* :func:`ngnn_fitb` - a fill-in-the-blank question: the 4 candidates and their scores.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np
import tensorflow as tf

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position

from training import rundir  # noqa: E402  pylint: disable=wrong-import-position


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
    fig.tight_layout()
    path = os.path.join(run_dir, "history.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def din_attention(model, row, candidates, path=None):
    """Attention weights of one history (``row``: dict of 1-row arrays) for each candidate.

    ``candidates``: list of (item id, category id). Returns the [candidates, maxlen] weights
    and writes a heat map to ``path`` when given.

    Args:
      model: a trained :class:`models.din.DIN`.
      row: one processed row (history ids, categories, length, and its feedback codes when
        the data has them).
      candidates: candidate item ids.
      path: also save the figure here.

    Returns:
      The matplotlib figure.

    Raises:
      ValueError: a row without history.
    """
    if model.attention is None:
        raise ValueError("a sum-pooling BaseModel has no attention to show")
    n = len(candidates)
    batch = {k: np.repeat(np.asarray(v)[:1], n, axis=0) for k, v in row.items()}
    hist_items, hist_cats = batch["hist_items"], batch["hist_cats"]
    length = int(row["hist_len"][0])
    batch["target_item"] = np.asarray([c[0] for c in candidates], np.int32)
    batch["target_cat"] = np.asarray([c[1] for c in candidates], np.int32)
    if "hist_feedback" not in batch:  # a row without feedback: none recorded
        batch["hist_feedback"] = np.zeros_like(hist_items)
    weights = model.attention_weights(batch).numpy()[:, :length]
    if path:
        fig, ax = plt.subplots(figsize=(1 + 0.45 * length, 1 + 0.45 * n))
        image = ax.imshow(weights, cmap="viridis", aspect="auto")
        ax.set_xticks(range(length))
        ax.set_xticklabels(["{}\ncat {}".format(i, c) for i, c in zip(
            hist_items[0, :length], hist_cats[0, :length])], fontsize=7)
        ax.set_yticks(range(n))
        ax.set_yticklabels(["item {} (cat {})".format(i, c) for i, c in candidates], fontsize=8)
        ax.set_xlabel("history (oldest -> newest)")
        ax.set_title("DIN attention weight per history item")
        fig.colorbar(image, ax=ax)
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
    return weights


def ngnn_contributions(model, inputs, path=None):
    """Per-item contribution of ONE outfit (``inputs``: model inputs with batch 1): the score
    minus the score without that item. Returns the array; plots a bar chart to ``path``.

    Args:
      model: a trained :class:`models.ngnn.NGNN`.
      inputs: one outfit's model inputs.
      path: also save the figure here.

    Returns:
      The matplotlib figure.
    """
    mask = np.asarray(inputs["mask"][0])
    real = int(mask.sum())
    base = float(model(inputs).numpy()[0])
    drops = []
    for i in range(real):
        without = dict(inputs)
        m = mask.copy()
        m[i] = 0.0
        without["mask"] = m[None, :]
        drops.append(base - float(model(without).numpy()[0]))
    drops = np.asarray(drops)
    if path:
        fig, ax = plt.subplots(figsize=(1.5 + 0.7 * real, 3))
        cats = np.asarray(inputs["cats"][0])[:real]
        ax.bar(range(real), drops, color=["tab:green" if d > 0 else "tab:red" for d in drops])
        ax.set_xticks(range(real))
        ax.set_xticklabels(["item {}\ncat {}".format(i, c) for i, c in enumerate(cats)],
                           fontsize=8)
        ax.set_ylabel("score - score without it")
        ax.set_title("outfit score {:.3f}: contribution of each item".format(base))
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
    return drops


def ngnn_fitb(scores, labels=None, path=None):
    """Bar chart of one FITB question's 4 candidate scores (candidate 0 is the true item).

    Args:
      scores: [Q, K] FITB candidate scores (answer in column 0).
      labels: names of the candidates, optional.
      path: also save the figure here.

    Returns:
      The matplotlib figure.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = labels or ["true item"] + ["wrong {}".format(i) for i in range(1, len(scores))]
    if path:
        fig, ax = plt.subplots(figsize=(5, 3))
        colors = ["tab:green"] + ["tab:gray"] * (len(scores) - 1)
        ax.bar(range(len(scores)), scores, color=colors)
        ax.set_xticks(range(len(scores)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("outfit score with the candidate")
        ax.set_title("fill in the blank: {}".format(
            "correct" if scores.argmax() == 0 else "wrong"))
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
    return int(scores.argmax())
