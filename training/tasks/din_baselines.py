"""DIN's baselines: what a practitioner runs first on behaviour data, scored on the model's rows.

A model that beats only one-line rules has not shown much: on real MovieLens a logistic
regression on three numbers beat DIN by 0.05 AUC while the report printed two rules DIN beat
(issue 33). So every run scores, on the SAME validation and test rows as the model:

* one-feature rules: ``item_positive_rate`` (the candidate's positive share over its training
  rows, smoothed, out of fold for training rows), ``item_mean_feedback`` (its mean rating or
  stars: within a MovieLens user a better ranking of movies than the share of 4s and 5s),
  ``user_prior_rate`` (the user's liked share over their
  earlier events), ``item_popularity`` and ``inverse_popularity`` (positive training events,
  both ways), ``seen_in_training`` and ``unseen_in_training`` (the candidate occurs in the
  training log, both ways) and ``category_in_history``; ``base_rate`` (the training positive
  share for every row) for log loss only: a model whose log loss is worse than a constant's
  is flagged like one below a rule;
* learned simple models on those features (:data:`FEATURES`), fitted on training rows only
  (at most :data:`FIT_ROWS`, a seeded sample): ``logistic_regression`` (scikit-learn,
  standardised features) and ``gradient_boosting`` (scikit-learn's histogram gradient-boosted
  trees). Their log loss counts too.

Ties: AUC and GAUC count a tie between a positive and a negative as one half (scikit-learn's
value), so a constant or a yes/no rule is scored fairly, never as all wrong.
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from core.threads import one_native_thread
from training.infra import metrics as M
from training.tasks import din_metrics

FEATURES = ("item_rate", "item_feedback", "log_popularity", "log_item_events", "seen",
            "user_rate", "log_user_events", "category_in_history", "category_share", "hist_len")
FIT_ROWS = 200000  # training rows the learned baselines are fitted on (a seeded sample)
RULES = ("item_positive_rate", "item_mean_feedback", "user_prior_rate", "item_popularity",
         "inverse_popularity", "seen_in_training", "unseen_in_training", "category_in_history")
LEARNED = ("logistic_regression", "gradient_boosting")


def _log_odds(p):
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


def features(batch):
    """The simple features of a batch of rows (a :meth:`datasets.samples.Split.read` dict).

    Args:
      batch: ``{column: array}`` with the derived columns ``target_count``,
        ``target_rate``, ``target_feedback`` and ``target_events``.

    Returns:
      float32 [n, len(FEATURES)].
    """
    length = np.asarray(batch["hist_len"], np.float64)
    valid = np.arange(batch["hist_cats"].shape[1])[None, :] < length[:, None]
    same = ((batch["hist_cats"] == batch["target_cat"][:, None]) & valid).sum(axis=1)
    events = np.maximum(np.asarray(batch["prior_events"], np.float64), 0.0)
    liked = np.clip(np.asarray(batch["prior_positives"], np.float64), 0.0, events)
    item_events = np.asarray(batch["target_events"], np.float64)
    columns = [_log_odds(batch["target_rate"]),
               np.asarray(batch["target_feedback"], np.float64),
               np.log1p(np.maximum(np.asarray(batch["target_count"], np.float64), 0.0)),
               np.log1p(item_events), item_events > 0,
               _log_odds((liked + 1.0) / (events + 2.0)), np.log1p(events), same > 0,
               same / np.maximum(length, 1.0), length]
    return np.stack(columns, axis=1).astype(np.float32)


def _rule_scores(table):
    """{rule: scores} of one split's feature table."""
    column = {name: table[:, i] for i, name in enumerate(FEATURES)}
    return {"item_positive_rate": column["item_rate"],
            "item_mean_feedback": column["item_feedback"],
            "user_prior_rate": column["user_rate"],
            "item_popularity": column["log_popularity"],
            "inverse_popularity": -column["log_popularity"],
            "seen_in_training": column["seen"],
            "unseen_in_training": 1.0 - column["seen"],
            "category_in_history": column["category_in_history"]}


class Baselines(object):
    """The baselines of one data set: the learned ones fitted once (on first use), then each
    split scored.

    Args:
      data: an :class:`datasets.behaviour_data.BehaviourData`.
      seed: the training sample's and the trees' seed.
      fit_rows: training rows to fit on (at most).
    """

    def __init__(self, data, seed=0, fit_rows=FIT_ROWS):
        self.data = data
        self.seed = int(seed)
        self.fit_rows = int(fit_rows)
        self._models = None

    @one_native_thread()  # OpenMP trees and BLAS on busy cores: core/threads.py
    def _fit(self):
        """Fit the learned baselines on (a seeded sample of) the training rows."""
        # imported here: scikit-learn is needed only once a run is scored
        # pylint: disable=import-outside-toplevel
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        train = self.data.splits["train"]
        rng = np.random.RandomState(self.seed)
        n = train.num_rows
        rows = np.sort(rng.choice(n, size=self.fit_rows, replace=False)) if n > self.fit_rows \
            else np.arange(n)
        batch = train.read(rows)
        table, labels = features(batch), np.asarray(batch["label"]) > 0.5
        self._models = {}
        if labels.all() or not labels.any():  # one class: nothing to learn
            return
        self._models["logistic_regression"] = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)).fit(table, labels)
        self._models["gradient_boosting"] = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False,
            random_state=self.seed).fit(table, labels)

    @one_native_thread()
    def score(self, split):
        """Every baseline's metrics on ``split``'s rows.

        Args:
          split: ``validation`` or ``test`` (or ``train``).

        Returns:
          ``{baseline: {"auc", "gauc"[, "logloss"]}}``.
        """
        if self._models is None:
            self._fit()
        rows = self.data.splits[split]
        labels, users = rows["label"], rows["user"]
        table = rows.map_chunks(features).reshape(-1, len(FEATURES))
        out = {}
        for name, scores in _rule_scores(table).items():
            out[name] = {"auc": M.auc(labels, scores), "gauc": din_metrics.gauc(users, labels, scores)}
        base = min(max(self.data.base_rate, 1e-7), 1 - 1e-7)
        out["base_rate"] = {"logloss": M.logloss(labels, np.full(len(labels), base))}
        for name, model in sorted(self._models.items()):
            probability = np.concatenate([
                model.predict_proba(table[a:a + M.CHUNK])[:, 1]
                for a in range(0, len(table), M.CHUNK)]) if len(table) else np.zeros(0)
            out[name] = {"auc": M.auc(labels, probability),
                         "gauc": din_metrics.gauc(users, labels, probability),
                         "logloss": M.logloss(labels, probability)}
        return out
