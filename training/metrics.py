"""Evaluation metrics on numpy arrays (computed once per evaluation, outside the graph).

The row metrics (AUC, GAUC, log loss) run in memory that does not grow with the split beyond
a sort order (8 bytes a row): a full-size split (MovieLens-20M's 4M test rows) is scored
piece by piece (:data:`CHUNK` rows) instead of through whole-split temporaries.

* :func:`auc` - ROC AUC (exact, ties one half: scikit-learn's value).
* :func:`logloss` - binary cross-entropy of probabilities, clipped for finiteness.
* :func:`gauc` - the DIN paper's group AUC: per-user AUC weighted by the user's number of
  impressions, over users who have both a positive and a negative (others are undefined).
* :func:`fitb_accuracy` - fill-in-the-blank: the true candidate (column 0) scores highest.
* :func:`fitb_mrr` - the true candidate's mean reciprocal rank.
* :func:`pairwise_accuracy` - what the original NGNN code calls "auc": the fraction of pairs
  where the true outfit scores above its random partner.

Ties, everywhere: the expected value when they are broken at random (AUC and GAUC: a tied
positive-negative pair counts one half; FITB: 1/k for a true answer tied with k-1 others;
MRR: the mean reciprocal rank over the tied positions; pairwise: one half). A rule whose scores
tie by design is thus scored at chance, never as all wrong.
* :func:`rela_impr` - RelaImpr of the DIN paper: ((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1).
"""
from __future__ import absolute_import, division, print_function

import numpy as np


CHUNK = 1 << 16  # rows per piece of the metrics' passes: their memory is that of one piece


def _labels_scores(labels, scores):
    """Flat views (no copies) of the two columns, checked: same length, no NaN score,
    labels 0 or 1 (the first other one named by its row)."""
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores).ravel()
    if len(labels) != len(scores):
        raise ValueError("{} labels but {} scores".format(len(labels), len(scores)))
    if scores.dtype.kind == "f" and any(np.isnan(scores[a:a + CHUNK]).any()
                                        for a in range(0, len(scores), CHUNK)):
        raise ValueError("the scores contain NaN")
    for a in range(0, len(labels), CHUNK):
        piece = labels[a:a + CHUNK]
        bad = np.flatnonzero((piece != 0) & (piece != 1))
        if len(bad):
            raise ValueError("labels must be 0 or 1; row {} is {!r}".format(
                a + int(bad[0]), piece[bad[0]].item()))
    return labels, scores


def _pieces(n, sorted_keys):
    """``(start, stop)`` pieces of about :data:`CHUNK` of the positions ``0..n-1`` of rows in
    sorted order, each ending where the key changes, so that a run of equal keys (tied
    scores, one user's rows) is never split. ``sorted_keys(a, b)`` gives the keys of
    positions ``a..b-1``; no sorted copy of the whole key is made."""
    start = 0
    while start < n:
        size = CHUNK
        while True:
            stop = min(start + size, n)
            if stop == n:
                break
            keys = sorted_keys(start, stop + 1)
            if keys[-2] != keys[-1]:  # the piece ends at a run boundary
                break
            cut = np.flatnonzero(keys[:-1] != keys[-1])
            if len(cut):  # end before the run that continues past the piece
                stop = start + int(cut[-1]) + 1
                break
            size *= 2  # one run longer than the piece: take more
        yield start, stop
        start = stop


def _nondecreasing(values):
    """Whether ``values`` never decrease (checked piece by piece, no whole-array temporary)."""
    for a in range(0, len(values), CHUNK):
        piece = values[a:a + CHUNK + 1]
        if np.any(piece[1:] < piece[:-1]):
            return False
    return True


def auc(labels, scores):
    """ROC AUC of ``scores`` against binary ``labels``; ties count one half (scikit-learn's
    value, to rounding).

    Exact in bounded memory (a split of millions of rows): one sort order (8 bytes a row),
    then the runs of equal scores counted piece by piece: AUC = sum over runs of
    ``positives * (negatives below + negatives in the run / 2)`` / (P * N).

    Args:
      labels: 0/1 per row.
      scores: the score per row.

    Returns:
      A float in [0, 1] (NaN with one class only).
    """
    labels, scores = _labels_scores(labels, scores)
    n = len(labels)
    positives = sum(int(np.count_nonzero(labels[a:a + CHUNK] > 0.5)) for a in range(0, n, CHUNK))
    negatives = n - positives
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    below, total = 0, 0.0
    for start, stop in _pieces(n, lambda a, b: scores[order[a:b]]):
        rows = order[start:stop]
        s, y = scores[rows], labels[rows] > 0.5
        first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        pos = np.add.reduceat(y.astype(np.int64), first)
        neg = np.diff(np.r_[first, len(s)]) - pos
        neg_below = below + np.cumsum(neg) - neg
        total += float(np.sum(pos * (neg_below + 0.5 * neg)))
        below += int(neg.sum())
    return total / (float(positives) * float(negatives))


def logloss(labels, probabilities, eps=1e-7):
    """Mean binary cross-entropy of ``probabilities`` (clipped to ``[eps, 1 - eps]``),
    summed piece by piece.

    Args:
      labels: 0/1 per row.
      probabilities: P(label 1) per row.
      eps: the clipping.

    Returns:
      A float.
    """
    labels, probabilities = _labels_scores(labels, probabilities)
    total = 0.0
    for a in range(0, len(labels), CHUNK):
        y = labels[a:a + CHUNK].astype(np.float64)
        p = np.clip(probabilities[a:a + CHUNK].astype(np.float64), eps, 1.0 - eps)
        total += float(np.sum(y * np.log(p) + (1.0 - y) * np.log1p(-p)))
    return -total / max(len(labels), 1)


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
    labels, scores = _labels_scores(labels, scores)
    groups = np.asarray(groups).ravel()
    if len(groups) != len(labels):
        raise ValueError("{} groups but {} labels".format(len(groups), len(labels)))
    n = len(groups)
    order = None if _nondecreasing(groups) else np.argsort(groups, kind="stable")
    weighted, weight = 0.0, 0.0
    keys = (lambda a, b: groups[a:b]) if order is None else (lambda a, b: groups[order[a:b]])
    for start, stop in _pieces(n, keys):
        rows = slice(start, stop) if order is None else order[start:stop]
        _, group_auc, count, valid = _rank_auc_by_group(groups[rows], labels[rows],
                                                        scores[rows])
        weighted += float(np.sum(group_auc[valid] * count[valid]))
        weight += float(np.sum(count[valid]))
    return weighted / weight if weight else float("nan")


def _tie_groups(scores):
    """Per question: candidates strictly above the true answer (column 0) and the others
    tied with it (the true answer not counted)."""
    scores = np.asarray(scores, dtype=np.float64)
    above = (scores[:, 1:] > scores[:, :1]).sum(axis=1)
    tied = (scores[:, 1:] == scores[:, :1]).sum(axis=1)
    return above, tied


def fitb_accuracy(candidate_scores, ties="share"):
    """``candidate_scores``: [questions, candidates], the true answer in column 0.

    ``ties="share"`` (the one used for every scorer, models and rules alike): the expected
    accuracy when ties are broken at random, 1/k for a true answer tied with k-1 others. A
    rule whose scores tie by design (every candidate of a Polyvore Outfits question shares
    the blank's semantic category) then scores chance, 0.25, not 0: counted as misses, ties
    once made a model look above a rule that it was below (issue 33). ``ties="wrong"``: a tie
    with the true answer is a miss.

    Args:
      candidate_scores: [Q, K] scores, the true answer in column 0.
      ties: ``share`` (1 / tied candidates) or ``wrong`` (a tie is a miss).

    Returns:
      A float in [0, 1].
    """
    above, tied = _tie_groups(candidate_scores)
    if ties == "share":
        return float(np.mean(np.where(above == 0, 1.0 / (1.0 + tied), 0.0)))
    return float(np.mean((above == 0) & (tied == 0)))


def fitb_mrr(candidate_scores, ties="share"):
    """Mean reciprocal rank of the true answer (column 0) among its candidates. Smoother than
    accuracy on a few hundred questions (a question answered second-best still counts 1/2),
    so it is NGNN's model-selection metric.

    Args:
      candidate_scores: [Q, K] scores, the true answer in column 0.
      ties: ``share``: the expected reciprocal rank when ties are broken at random (a true
        answer tied with t others behind b better ones: the mean of 1/r for r = b+1 ..
        b+t+1); ``wrong``: ties rank the true answer behind.

    Returns:
      A float in (0, 1].
    """
    above, tied = _tie_groups(candidate_scores)
    if ties == "wrong":
        return float(np.mean(1.0 / (1.0 + above + tied)))
    width = int(np.asarray(candidate_scores).shape[1]) if np.ndim(candidate_scores) == 2 else 1
    harmonic = np.r_[0.0, np.cumsum(1.0 / np.arange(1, width + 1))]  # H(0..K)
    expected = (harmonic[above + tied + 1] - harmonic[above]) / (tied + 1.0)
    return float(np.mean(expected))


def pairwise_accuracy(true_scores, partner_scores, ties="share"):
    """Share of pairs whose true member scores higher (``ties="share"``, the default: a tie
    counts 1/2, the expected value of a random tie-break; ``wrong``: a miss).

    Args:
      true_scores: the true outfits' scores.
      partner_scores: their corrupted partners' scores.
      ties: ``share`` or ``wrong``.

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
    timed = [r for r in history if "seconds" in r and monitor in r.get("validation", {})
             and np.isfinite(float(r["validation"][monitor]))]
    if not timed:  # never evaluated, or the metric undefined throughout (NaN)
        return None
    sign = 1.0 if mode == "max" else -1.0
    values = [sign * float(r["validation"][monitor]) for r in timed]
    best = max(values)
    first_best = timed[values.index(best)]
    close = next(r for r, v in zip(timed, values) if v >= best - within)
    return {"metric": monitor, "best": sign * best, "seconds_to_best": first_best["seconds"],
            "step_of_best": first_best["step"], "seconds_to_within": close["seconds"],
            "step_within": close["step"], "within": within}
