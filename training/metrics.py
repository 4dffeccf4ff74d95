"""Evaluation metrics on numpy arrays (computed once per evaluation, outside the graph).

* :func:`auc` - ROC AUC (scikit-learn).
* :func:`logloss` - binary cross-entropy of probabilities, clipped for finiteness.
* :func:`gauc` - the DIN paper's group AUC: per-user AUC weighted by the user's number of
  impressions, over users who have both a positive and a negative (others are undefined).
* :func:`fitb_accuracy` - fill-in-the-blank: the true candidate (column 0) scores highest.
* :func:`pairwise_accuracy` - what the original NGNN code calls "auc": the fraction of pairs
  where the true outfit scores above its random partner.
* :func:`rela_impr` - RelaImpr of the DIN paper: ((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1).
"""
from __future__ import absolute_import, division, print_function

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(labels, scores):
    """ROC AUC of ``scores`` against binary ``labels`` (scikit-learn; ties share).

    Args:
      labels: 0/1 per row.
      scores: the score per row.

    Returns:
      A float in [0, 1].
    """
    labels = np.asarray(labels).ravel()
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64).ravel()))


def logloss(labels, probabilities, eps=1e-7):
    """Mean binary cross-entropy of ``probabilities`` (clipped to ``[eps, 1 - eps]``).

    Args:
      labels: 0/1 per row.
      probabilities: P(label 1) per row.
      eps: the clipping.

    Returns:
      A float.
    """
    labels = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)))


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

    Args:
      groups: the user of each row.
      labels: 0/1 per row.
      scores: the model's score per row.

    Returns:
      A float.
    """
    _, group_auc, count, valid = _rank_auc_by_group(groups, labels, scores)
    if not valid.any():
        return float("nan")
    return float(np.sum(group_auc[valid] * count[valid]) / np.sum(count[valid]))


def fitb_accuracy(candidate_scores, ties="wrong"):
    """``candidate_scores``: [questions, candidates], the true answer in column 0.

    ``ties="wrong"``: a tie with the true answer counts as wrong (no credit for constant
    scorers; the rule for models and rules). ``ties="share"``: the expected accuracy when ties
    are broken at random (1/k for a true answer tied with k-1 others): the fair rule for an
    oracle whose scores tie by design (e.g. a wrong candidate of the outfit's own style).

    Args:
      candidate_scores: [Q, K] scores, the true answer in column 0.
      ties: ``wrong`` (a tie is a miss) or ``share`` (1 / tied candidates).

    Returns:
      A float in [0, 1].
    """
    scores = np.asarray(candidate_scores, dtype=np.float64)
    best_other = scores[:, 1:].max(axis=1)
    if ties == "share":
        tied = (scores == scores.max(axis=1, keepdims=True)).sum(axis=1)
        return float(np.mean(np.where(scores[:, 0] >= best_other, 1.0 / tied, 0.0)))
    return float(np.mean(scores[:, 0] > best_other))


def fitb_mrr(candidate_scores):
    """Mean reciprocal rank of the true answer (column 0) among its candidates; a tie ranks
    the true answer behind. Smoother than accuracy on a few hundred questions (a question
    answered second-best still counts 1/2), so it is NGNN's model-selection metric.

    Args:
      candidate_scores: [Q, K] scores, the true answer in column 0.

    Returns:
      A float in (0, 1].
    """
    scores = np.asarray(candidate_scores, dtype=np.float64)
    rank = 1 + (scores[:, 1:] >= scores[:, :1]).sum(axis=1)
    return float(np.mean(1.0 / rank))


def pairwise_accuracy(true_scores, partner_scores, ties="wrong"):
    """Share of pairs whose true member scores higher (``ties="share"``: a tie counts 1/2).

    Args:
      true_scores: the true outfits' scores.
      partner_scores: their corrupted partners' scores.
      ties: ``wrong`` or ``share`` (a tie counts one half).

    Returns:
      A float in [0, 1].
    """
    true_scores = np.asarray(true_scores, dtype=np.float64).ravel()
    partner_scores = np.asarray(partner_scores, dtype=np.float64).ravel()
    wins = np.mean(true_scores > partner_scores)
    if ties == "share":
        wins += 0.5 * np.mean(true_scores == partner_scores)
    return float(wins)


def rela_impr(model_auc, base_auc):
    """RelaImpr (DIN paper, eq. 11), as a fraction: 0.1 means 10% relative improvement.

    Args:
      model_auc: the model's AUC.
      base_auc: the BaseModel's AUC on the same rows.

    Returns:
      A float (0: as good as the base).
    """
    return float((model_auc - 0.5) / (base_auc - 0.5) - 1.0)


CEILING = "oracle"  # the baseline that is a ceiling, not a rule to beat
LOWER_IS_BETTER = ("logloss",)


def below_rules(model_metrics, rules):
    """Where a model is below the best rule: ``[{metric, model, rule, rule_value}]``.

    ``model_metrics``: {metric: value} of one split; ``rules``: {rule name: {metric: value}}
    of the same split (the ceiling, ``oracle``, is not a rule and is left out). Each metric
    both report is compared with the best rule on it (``logloss``: lower is better); NaN
    values (undefined metrics) are not compared.

    Args:
      model_metrics: the model's validation metrics.
      rules: ``{rule name: metrics}`` on the same rows (``oracle`` is skipped: a ceiling).

    Returns:
      ``[{"rule", "metric", "model", "rule_value"}]``, empty when the model is at or above
      every rule.
    """
    out = []
    for metric in sorted(model_metrics):
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        model_value = model_metrics[metric]
        candidates = [(sign * values[metric], name) for name, values in sorted(rules.items())
                      if name != CEILING and metric in values and np.isfinite(values[metric])]
        if not candidates or not np.isfinite(model_value):
            continue
        best, name = max(candidates)
        if sign * model_value < best:
            out.append({"metric": metric, "model": float(model_value), "rule": name,
                        "rule_value": float(sign * best)})
    return out


def time_to_quality(history, monitor, mode="max", within=0.005):
    """Wall-clock seconds of training to the best validation value of ``monitor``, and to
    within ``within`` of it: the figure users compare across implementations (it rewards good
    defaults and early stopping, not only speed).

    Args:
      history: ``history.json`` records (``seconds``, ``step``, ``validation``).
      monitor: the selection metric.
      mode: ``max`` or ``min``.
      within: the tolerance of the second figure.

    Returns:
      ``{"metric", "best", "seconds_to_best", "step_of_best", "seconds_to_within",
      "step_within", "within"}``, or None when the history has no timed evaluation.
    """
    timed = [r for r in history if "seconds" in r and monitor in r.get("validation", {})]
    if not timed:
        return None
    sign = 1.0 if mode == "max" else -1.0
    values = [sign * float(r["validation"][monitor]) for r in timed]
    best = max(values)
    first_best = timed[values.index(best)]
    close = next(r for r, v in zip(timed, values) if v >= best - within)
    return {"metric": monitor, "best": sign * best, "seconds_to_best": first_best["seconds"],
            "step_of_best": first_best["step"], "seconds_to_within": close["seconds"],
            "step_within": close["step"], "within": within}
