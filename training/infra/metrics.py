"""Evaluation metrics on numpy arrays (computed once per evaluation, outside the graph).

The row metrics (AUC, GAUC, log loss) run in memory that does not grow with the split beyond
a sort order (8 bytes a row): a full-size split (MovieLens-20M's 4M test rows) is scored
piece by piece (:data:`CHUNK` rows) instead of through whole-split temporaries.

* :func:`auc` - ROC AUC (exact, ties one half: scikit-learn's value).
* :func:`logloss` - binary cross-entropy of probabilities, clipped for finiteness.
* :func:`below_rules` - where a model is below a baseline; :func:`time_to_quality`.

Each model's own metrics live beside its task: GAUC and RelaImpr in
:mod:`training.tasks.din_metrics`, fill-in-the-blank and pairwise accuracy in
:mod:`training.tasks.ngnn_metrics`; :func:`labels_scores`, :func:`pieces` and
:func:`nondecreasing` are the bounded-memory passes they share.

Ties, everywhere: the expected value when they are broken at random (AUC and GAUC: a tied
positive-negative pair counts one half; FITB: 1/k for a true answer tied with k-1 others;
MRR: the mean reciprocal rank over the tied positions; pairwise: one half). A rule whose scores
tie by design is thus scored at chance, never as all wrong.
"""
from __future__ import absolute_import, division, print_function

import numpy as np


CHUNK = 1 << 16  # rows per piece of the metrics' passes: their memory is that of one piece


def labels_scores(labels, scores):
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


def pieces(n, sorted_keys):
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


def nondecreasing(values):
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
    labels, scores = labels_scores(labels, scores)
    n = len(labels)
    positives = sum(int(np.count_nonzero(labels[a:a + CHUNK] > 0.5)) for a in range(0, n, CHUNK))
    negatives = n - positives
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    below, total = 0, 0.0
    for start, stop in pieces(n, lambda a, b: scores[order[a:b]]):
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
    labels, probabilities = labels_scores(labels, probabilities)
    total = 0.0
    for a in range(0, len(labels), CHUNK):
        y = labels[a:a + CHUNK].astype(np.float64)
        p = np.clip(probabilities[a:a + CHUNK].astype(np.float64), eps, 1.0 - eps)
        total += float(np.sum(y * np.log(p) + (1.0 - y) * np.log1p(-p)))
    return -total / max(len(labels), 1)


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
