"""NGNN's pictures: an outfit's per-item contribution to its score, and a fill-in-the-blank
question with its candidates' scores (matplotlib; ``pip install matplotlib``)."""
from __future__ import absolute_import, division, print_function

import numpy as np

from training.infra.plots import plt


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
