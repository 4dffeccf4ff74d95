"""NGNN's own metrics, beside its task: fill-in-the-blank and pairwise accuracy.

* :func:`fitb_accuracy` - fill-in-the-blank: the true candidate (column 0) scores highest.
* :func:`fitb_mrr` - the true candidate's mean reciprocal rank.
* :func:`pairwise_accuracy` - what the original NGNN code calls "auc": the fraction of pairs
  where the true outfit scores above its random partner.

Ties count at their expected value under a random tie-break (:mod:`training.infra.metrics`).
"""
from __future__ import absolute_import, division, print_function

import numpy as np


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
