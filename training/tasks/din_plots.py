"""DIN's pictures: a heat map of its attention weights over one user's history for several
candidate items (matplotlib; ``pip install matplotlib``)."""
from __future__ import absolute_import, division, print_function

import numpy as np

from training.infra.plots import plt


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
