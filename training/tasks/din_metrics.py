"""DIN's own metrics, beside its task: the paper's group AUC and RelaImpr.

* :func:`gauc` - per-user AUC weighted by the user's number of impressions, over users who
  have both a positive and a negative (others are undefined); ties count one half.
* :func:`rela_impr` - RelaImpr of the DIN paper: ((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1).
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from training.infra import metrics as M


def _rank_auc_by_group(groups, labels, scores):
    """Per-group ROC AUC via average ranks, vectorised (no Python loop over groups).

    Returns (group ids, AUC per group, impressions per group, valid mask).
    """
    groups = np.asarray(groups).ravel()
    labels = np.asarray(labels).ravel().astype(np.float64)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    # Sort by (group, score); ties within a group get their average rank.
    order = np.lexsort((scores, groups))
    g, s, y = groups[order], scores[order], labels[order]
    n = len(g)
    new_group = np.r_[True, g[1:] != g[:-1]]
    group_start = np.flatnonzero(new_group)
    group_index = np.cumsum(new_group) - 1
    position = np.arange(n) - group_start[group_index]  # 0-based rank inside the group
    new_run = np.r_[True, (g[1:] != g[:-1]) | (s[1:] != s[:-1])]
    run_index = np.cumsum(new_run) - 1
    run_first = np.flatnonzero(new_run)
    run_last = np.r_[run_first[1:], n] - 1
    avg_rank = (position[run_first] + position[run_last]) / 2.0 + 1.0
    ranks = avg_rank[run_index]
    n_groups = len(group_start)
    count = np.bincount(group_index, minlength=n_groups).astype(np.float64)
    pos = np.bincount(group_index, weights=y, minlength=n_groups)
    neg = count - pos
    pos_rank_sum = np.bincount(group_index, weights=ranks * y, minlength=n_groups)
    valid = (pos > 0) & (neg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        group_auc = (pos_rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)
    return g[group_start], group_auc, count, valid


def gauc(groups, labels, scores):
    """Impression-weighted mean of per-user AUC (users with both classes only).

    In bounded memory: the rows are taken a piece of whole users at a time (in their own
    order when they come grouped by user, as evaluation splits do; else through one sort
    order by user, 8 bytes a row) and each piece's users are ranked together.

    Args:
      groups: the user of each row.
      labels: 0/1 per row.
      scores: the model's score per row.

    Returns:
      A float.
    """
    labels, scores = M.labels_scores(labels, scores)
    groups = np.asarray(groups).ravel()
    if len(groups) != len(labels):
        raise ValueError("{} groups but {} labels".format(len(groups), len(labels)))
    n = len(groups)
    order = None if M.nondecreasing(groups) else np.argsort(groups, kind="stable")
    weighted, weight = 0.0, 0.0
    keys = (lambda a, b: groups[a:b]) if order is None else (lambda a, b: groups[order[a:b]])
    for start, stop in M.pieces(n, keys):
        rows = slice(start, stop) if order is None else order[start:stop]
        _, group_auc, count, valid = _rank_auc_by_group(groups[rows], labels[rows],
                                                        scores[rows])
        weighted += float(np.sum(group_auc[valid] * count[valid]))
        weight += float(np.sum(count[valid]))
    return weighted / weight if weight else float("nan")


def rela_impr(model_auc, base_auc):
    """RelaImpr (DIN paper, eq. 11), as a fraction: 0.1 means 10% relative improvement.

    Args:
      model_auc: the model's AUC.
      base_auc: the BaseModel's AUC on the same rows.

    Returns:
      A float (0: as good as the base).
    """
    return float((model_auc - 0.5) / (base_auc - 0.5) - 1.0)
