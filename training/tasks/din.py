"""DIN as a Task of the shared loop: Amazon Electronics samples, AUC / log loss / GAUC.

Defaults follow the Ascend card (Adam, batch 4096, 5 epochs) except where the card's setting
measured worse on both embedded generators (the figures are in README's DIN tables): batch
1024 instead of 4096 (on the data sets of 70k-140k training rows measured, 4096 leaves 15-20
steps an epoch: MovieLens-100k GAUC -0.007, the transitions generator under in_split
negatives did not learn at all, AUC 0.55 against 0.92; the step costs ~7 % more per sample),
learning rate 0.01 instead of 0.001 (0.001 underfits in the steps the data gives), embeddings
of 32 instead of 8 per item and category (8 cannot hold both the category interest and the item
relations), and up to 10 epochs with early stopping (patience 3) on validation AUC, the best
checkpoint kept (the two generators peak at different epochs). Against id memorisation
(validation AUC peaking early while the training loss keeps falling, most where items have
few events), the paper's mini-batch aware L2 at a small weight (0.01; larger weights cost AUC
where item ids carry the signal) together with the candidate's training popularity as an
input (out of fold on training rows): the item embeddings no longer have to memorise
popularity.
``--preset card`` gives the card's configuration.
Model selection uses validation AUC. Alongside the model, ``baselines`` in metrics.json
hold the simple rules and the learned simple models a practitioner would run first, on the
same rows (:mod:`training.tasks.din_baselines`); the model also receives those simple
features (``model.item_rate``, ``model.user_stats``, ``model.wide``) and each history
event's feedback (``model.feedback``), so that it starts from what they know.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import logging
import os
import typing

import numpy as np
import tensorflow as tf

from datasets import amazon, behaviour, samples
from datasets.behaviour_data import DTYPES, INPUT_KEYS
from datasets.generators import amazon_interests, amazon_longtail, amazon_transitions, common
from datasets.generators import behaviour_oracles
from core import files
from models.din import DIN
from training.infra import metrics as M
from training.tasks import din_metrics
from core.errors import UsageError
from training.tasks import Exporter, Task, din_baselines

log = logging.getLogger("npurec.din")


@dataclasses.dataclass(frozen=True)
class DINModelConfig(object):
    """Attributes:
      embedding_dim: per item and per category (32; the Ascend card: 8, the paper: up to 64).
      attention_units / mlp_units: MLP sizes (80, 40) / (200, 80).
      activation: dice or prelu. attention_softmax: normalise attention (default False).
      pooling: attention (DIN) or sum (the paper's BaseModel).
      mba_l2: mini-batch aware L2 weight on embeddings (0.01; 0 disables, the card preset).
      recency: recency positions the attention unit can tell apart (20; 0 = content only, the
        paper and the card preset); see :class:`models.din.DIN`. It helps on sequential data
        (the ``transitions`` generator) and is neutral elsewhere (README's DIN tables).
      history_stats: the MLP also sees the history length and the mean of the weighted keys
        (True; False = the paper and the card preset); see :class:`models.din.DIN`.
      popularity: the MLP also sees log(1 + the candidate's count of positive training
        events), out of fold on training rows (True; False = the paper and the card
        preset); see :class:`models.din.DIN`.
      static_shapes: the attention unit scores every history slot, padding included (static
        shapes); False runs it on the real positions only (faster). The runtime switches it
        on for NPUs (whole-graph compilation), so it need not be set by hand.
      feedback: each history event's feedback (a rating, stars, a behaviour type) is embedded
        into its key (True; a no-op on data without feedback); see :class:`models.din.DIN`.
      item_rate: the MLP also sees the candidate's positive share over its training rows
        (True); user_stats: and the user's running statistics (True); wide: a linear term
        over those simple features is added to the logit, so the model contains the learned
        simple baseline (True). See :class:`models.din.DIN`.
    """

    embedding_dim: int = 32
    attention_units: typing.Tuple[int, ...] = (80, 40)
    mlp_units: typing.Tuple[int, ...] = (200, 80)
    activation: str = "dice"
    attention_softmax: bool = False
    pooling: str = "attention"
    mba_l2: float = 0.01
    recency: int = 20
    history_stats: bool = True
    popularity: bool = True
    static_shapes: bool = False
    feedback: bool = True
    item_rate: bool = True
    user_stats: bool = True
    wide: bool = True

    def __post_init__(self):
        if self.activation not in ("dice", "prelu"):
            raise UsageError("model.activation ({!r}) must be dice or prelu".format(
                self.activation))
        if self.pooling not in ("attention", "sum"):
            raise UsageError("model.pooling ({!r}) must be attention or sum".format(self.pooling))
        for name in ("attention_units", "mlp_units"):
            units = getattr(self, name)
            if not units or any(u < 1 for u in units):
                raise UsageError("model.{} ({}) must be a non-empty list of sizes >= 1".format(
                    name, list(units)))
        if self.recency < 0:
            raise UsageError("model.recency ({}) must be >= 0".format(self.recency))
        if self.embedding_dim < 1 or self.mba_l2 < 0:
            raise UsageError("model.embedding_dim ({}) must be >= 1 and model.mba_l2 ({}) "
                             ">= 0".format(self.embedding_dim, self.mba_l2))


@dataclasses.dataclass(frozen=True)
class DINEvalConfig(object):
    """How DIN runs are scored (the ``eval`` section: a resumed run may change it).

    Attributes:
      base_run: run directory of a finished BaseModel run (pooling=sum) on the same data;
        when set, validation and test metrics include ``rela_impr`` against its AUC. Read
        when the task is built (before any data), not when the config is.
    """

    base_run: str = ""


@dataclasses.dataclass(frozen=True)
class DINDataConfig(object):
    """Attributes:
      data_dir: Amazon files, remap.pkl or a MovieLens folder (ml-100k, ml-1m, ml-20m,
        ml-25m, ml-latest; detected by its files) ('' = the embedded synthetic default).
      cache_dir: where processed arrays are cached ('' = $NPUREC_CACHE or ~/.cache/npurec).
      maxlen: most recent history items kept (20).
      on_bad_line: error | skip (counted) for malformed lines.
      trust_pickle: load remap.pkl with the unrestricted unpickler (it can run code).
      synthetic_users: users of the synthetic default.
      synthetic_kind: interests (default: users' favourite categories), transitions
        (item-to-item chains: the last history item predicts the target by id) or longtail
        (a sparse log: most items occur once and new items keep arriving).
      negatives: how Amazon-format negatives are drawn: in_split (default: the candidate of
        another row of the same split, so that nothing about the candidate alone separates
        the classes) or uniform (the paper's draw from the catalogue); see
        :func:`datasets.amazon.build_samples`. MovieLens has real negatives.
      min_item_events: drop the events of items with fewer events before the splits (k-core
        on items; 0 = keep all).
    """

    data_dir: str = ""
    cache_dir: str = ""
    maxlen: int = 20
    on_bad_line: str = "error"
    trust_pickle: bool = False
    synthetic_users: int = 6000
    synthetic_kind: str = "interests"
    negatives: str = "in_split"
    min_item_events: int = 0

    def __post_init__(self):
        """Every field checked here, when the config is built: before any data is touched."""
        if self.maxlen < 1:
            raise UsageError("data.maxlen ({}) must be >= 1".format(self.maxlen))
        if self.on_bad_line not in ("error", "skip"):
            raise UsageError("data.on_bad_line ({!r}) must be error or skip".format(
                self.on_bad_line))
        if self.synthetic_users < 1:
            raise UsageError("data.synthetic_users ({}) must be >= 1".format(
                self.synthetic_users))
        if self.synthetic_kind not in _GENERATORS:
            raise UsageError("data.synthetic_kind ({!r}) must be one of {}".format(
                self.synthetic_kind, ", ".join(sorted(_GENERATORS))))
        if self.negatives not in amazon.NEGATIVES:
            raise UsageError("data.negatives ({!r}) must be one of {}".format(
                self.negatives, ", ".join(amazon.NEGATIVES)))
        if self.min_item_events < 0:
            raise UsageError("data.min_item_events ({}) must be >= 0".format(
                self.min_item_events))


_GENERATORS = {
    "interests": (amazon_interests.generate, "Amazon-format data (multi-interest users)"),
    "transitions": (amazon_transitions.generate,
                    "Amazon-format data (item-to-item transitions)"),
    "longtail": (amazon_longtail.generate,
                 "Amazon-format data (a sparse log: most items once, new items arriving)"),
}


def _read_base_run(base_run):
    """The metrics of the BaseModel run that ``rela_impr`` compares with (None: no base run);
    a missing or unreadable file is a UsageError naming it."""
    if not base_run:
        return None
    path = os.path.join(base_run, "metrics.json")
    try:
        metrics = files.load_json(path, "base run metrics")
    except (OSError, ValueError) as err:  # DataError is a ValueError
        raise UsageError("eval.base_run {}: cannot read {} ({}); name the run directory of "
                         "a finished BaseModel run".format(base_run, path, err))
    if not isinstance(metrics, dict):
        raise UsageError("eval.base_run {}: {} is not a run's metrics".format(base_run, path))
    for split in ("validation", "test"):
        value = (metrics.get(split) or {}).get("auc") if isinstance(metrics.get(split),
                                                                    dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not np.isfinite(value) or value <= 0.5:
            raise UsageError("eval.base_run {}: its {} AUC is {!r}; RelaImpr = (AUC - 0.5) / "
                             "(base AUC - 0.5) - 1 needs a base above chance (a number > "
                             "0.5)".format(base_run, split, value))
    model = ((metrics.get("config") or {}).get("model") or {}) \
        if isinstance(metrics.get("config"), dict) else {}
    if not isinstance(model, dict) or model.get("pooling") != "sum":
        raise UsageError("eval.base_run {}: not a BaseModel run (its model.pooling is {!r}); "
                         "RelaImpr is measured against the paper's BaseModel, a run with "
                         "--set model.pooling=sum on the same data".format(
                             base_run, model.get("pooling") if isinstance(model, dict)
                             else None))
    return metrics


def _check_base_data(base_run, base, data):
    """The BaseModel run scored the same rows: its data's sizes and row counts are this
    data's (else RelaImpr compares AUCs of different rows); a UsageError says which differ."""
    described = base.get("data") if isinstance(base.get("data"), dict) else {}
    mine = {"sizes": data.sizes, "rows": {k: v.num_rows for k, v in data.splits.items()}}
    for key, value in sorted(mine.items()):
        if described.get(key) != value:
            raise UsageError("eval.base_run {}: its data's {} are {}, this run's {}; "
                             "RelaImpr needs a BaseModel run on the same data (the same "
                             "files and data settings)".format(base_run, key,
                                                               described.get(key), value))


def _served_inputs(inputs, maxlen, sizes):
    """The raw SavedModel's inputs made what the model was trained on, inside the signature.

    Why: a caller of the signature is not the request parser. ``hist_len=-1`` gave NaN and a
    ``hist_len`` above ``maxlen`` another score: a length is clamped to ``[0, maxlen]`` (a
    longer history is its most recent ``maxlen``, as predict truncates it), counts to
    ``>= 0`` (a category's below the user's), the rate to ``[0, 1]``, non-finite floats to
    0. An id outside the run's vocabulary cannot mean anything: it is refused
    (InvalidArgumentError naming the input), never gathered (a GPU would give zeros).
    """
    out = dict(inputs)
    out["hist_len"] = tf.clip_by_value(inputs["hist_len"], 0, maxlen)
    for name in ("prior_events", "prior_positives", "prior_cat_events", "prior_cat_positives"):
        out[name] = tf.maximum(inputs[name], 0)
    out["prior_positives"] = tf.minimum(out["prior_positives"], out["prior_events"])
    out["prior_cat_events"] = tf.minimum(out["prior_cat_events"], out["prior_events"])
    out["prior_cat_positives"] = tf.minimum(out["prior_cat_positives"],
                                            out["prior_cat_events"])
    for name in ("target_count", "target_rate", "target_feedback"):
        value = inputs[name]
        out[name] = tf.where(tf.math.is_finite(value), value, tf.zeros_like(value))
    out["target_count"] = tf.maximum(out["target_count"], 0.0)
    out["target_rate"] = tf.clip_by_value(out["target_rate"], 0.0, 1.0)
    checks = []
    for name, size in (("hist_items", "items"), ("target_item", "items"),
                       ("hist_cats", "categories"), ("target_cat", "categories"),
                       ("hist_feedback", "feedback")):
        ids = inputs[name]
        checks.append(tf.debugging.assert_non_negative(
            ids, message="{}: ids must be >= 0".format(name)))
        checks.append(tf.debugging.assert_less(
            ids, tf.constant(sizes[size], ids.dtype),
            message="{}: ids must be below {} (the run's {})".format(name, sizes[size], size)))
    with tf.control_dependencies(checks):
        return {k: tf.identity(v) for k, v in out.items()}


def _feedback_codes_used(data, model_config):
    """The feedback codes the model embeds: 0 (none) unless ``model.feedback`` is on and the
    data has at least two feedback values. One value (every generated review has 5 stars)
    says nothing about an event: its embedding would only shift every key alike, a
    redundant bias whose near-zero gradients Adam turns into learning-rate-sized steps (a
    two-worker run then drifted 8e-4 from one process on the same batches, 20x the rounding
    of the rest of the model)."""
    names = data.vocab.get("feedback") if data.vocab is not None else None
    values = len(names) - 1 if names is not None else 0  # code 0 is "none recorded"
    if not getattr(model_config, "feedback", False) or values < 2:
        return 0
    return int(data.sizes.get("feedback", values + 1))


class DINExporter(Exporter):
    """DIN's serving: the raw signature (every model input, checked and clamped inside it)
    and requests that name items by their raw key or ids."""

    def export_module(self, model, data):
        maxlen = data.maxlen
        spec = {name: tf.TensorSpec([None, maxlen] if name in samples.HISTORY else [None],
                                    DTYPES[name], name) for name in INPUT_KEYS}
        module = tf.Module()
        module.model = model

        sizes = {"items": data.sizes["items"], "categories": data.sizes["categories"],
                 "feedback": max(int(data.sizes.get("feedback", 1)), 1)}

        @tf.function(input_signature=[spec])
        def serve(inputs):
            """Click probability of each (history, candidate) row; ids as in the run's data."""
            return {"probability": tf.sigmoid(model(_served_inputs(inputs, maxlen, sizes),
                                                    training=False))}

        module.serve = serve
        return module

    def request_rows(self, data, request):
        """``{"history": [...], "candidates": [...], "feedback": [...]}``; each item is either
        its raw key (the asin, a string: its category comes from the data) or ``[item id,
        category id]`` as in the run's processed data (1..N; 0 is padding). ``feedback``
        (optional) gives each history item's feedback by name as the data writes it (a
        rating ``"4"``, stars ``"5"``; ``null`` = none), as in the run's vocab.json
        ``feedback``. One row per candidate; the user's running statistics are those of the
        whole history given."""
        maxlen = data.maxlen
        history = request.get("history")
        candidates = request.get("candidates")
        if not isinstance(history, list) or not isinstance(candidates, list) or not candidates:
            raise ValueError("expected 'history' (a list of items) and a non-empty "
                             "'candidates' list")
        codes = self._feedback_codes(data, request.get("feedback"), len(history))
        liked = np.asarray(data.vocab["feedback_liked"], np.int64)[codes]
        pairs = np.asarray([self._resolve(data, entry) for entry in history + candidates],
                           dtype=np.int64).reshape(-1, 2)
        n = len(candidates)
        # the running statistics are those of the WHOLE history given, as in training
        everything = pairs[:len(history), 1]
        same = everything[None, :] == pairs[len(history):, 1][:, None]  # [n, history]
        prior = {"prior_events": np.full(n, len(history), np.int32),
                 "prior_positives": np.full(n, int(liked.sum()), np.int32),
                 "prior_cat_events": same.sum(axis=1).astype(np.int32),
                 "prior_cat_positives": (same * liked[None, :]).sum(axis=1).astype(np.int32)}
        warnings = []
        k = len(history)
        if k > maxlen:
            warnings.append("history of {} items truncated to the most recent {}".format(
                k, maxlen))
            pairs, codes, k = np.concatenate([pairs[k - maxlen:k], pairs[k:]]), \
                codes[-maxlen:], maxlen
        hist = np.zeros((n, maxlen), np.int32)
        hcat = np.zeros((n, maxlen), np.int32)
        hfeed = np.zeros((n, maxlen), np.int32)
        hist[:, :k] = pairs[:k, 0]
        hcat[:, :k] = pairs[:k, 1]
        hfeed[:, :k] = codes
        target = pairs[k:, 0]
        batch = {"target_item": target, "user": np.zeros(n, np.int64)}
        splits = data.splits["test"].derived  # not a training row: nothing left out
        prior.update({"hist_items": hist, "hist_cats": hcat, "hist_feedback": hfeed,
                      "hist_len": np.full(n, k, np.int32),
                      "target_item": target.astype(np.int32),
                      "target_cat": pairs[k:, 1].astype(np.int32),
                      "target_count": splits["target_count"](batch).astype(np.float32),
                      "target_rate": splits["target_rate"](batch).astype(np.float32),
                      "target_feedback": splits["target_feedback"](batch).astype(np.float32)})
        return prior, warnings

    @staticmethod
    def _feedback_codes(data, feedback, length):
        """The feedback codes of a request's history (0 = none); ValueError names a value
        that is not one of the data's feedback names."""
        if feedback is None:
            return np.zeros(length, np.int64)
        if not isinstance(feedback, list) or len(feedback) != length:
            raise ValueError("'feedback' must be a list with one entry per history item "
                             "({}), got {!r}".format(length, feedback)[:200])
        names = [str(v) for v in np.asarray(data.vocab["feedback"]).tolist()]
        lookup = {name: code for code, name in enumerate(names) if code}
        codes = []
        for value in feedback:
            if value is None:
                codes.append(0)
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError("feedback {!r}: expected a name such as {}".format(
                    value, ", ".join(names[1:4]) or "(this data has none)")[:200])
            name = samples.feedback_name(value)
            if name not in lookup:
                raise ValueError("unknown feedback {!r} (this data's: {})".format(
                    value, ", ".join(names[1:]) or "none")[:200])
            codes.append(lookup[name])
        return np.asarray(codes, np.int64)

    @staticmethod
    def _resolve(data, entry):
        """(item id, category id) of a request item; ValueError names an unknown one."""
        if isinstance(entry, str):
            if entry not in data.item_index:
                raise ValueError("unknown item {!r}".format(entry))
            item = data.item_index[entry]
            return item, int(data.vocab["item_category"][item])
        if not (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in entry)):
            raise ValueError("an item is a raw key (string) or [item id, category id] (two "
                             "integers), got {!r}".format(entry)[:200])
        item, category = entry
        if not (1 <= item < data.sizes["items"] and 1 <= category < data.sizes["categories"]):
            raise ValueError("unknown id {} (items are 1..{}, categories 1..{})".format(
                [item, category], data.sizes["items"] - 1, data.sizes["categories"] - 1))
        known = int(data.vocab["item_category"][item])
        if category != known:  # another item's category: scored silently wrong otherwise
            raise ValueError("item {} is of category {}, not {} (the run's vocab.json, "
                             "item_category)".format(item, known, category))
        return item, category

    def format_result(self, request, scores):
        scores = [float(s) for s in scores]
        return {"probabilities": scores,
                "ranking": [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]}

    def serving_check(self, model, data, rows):
        """The first ``rows`` validation rows as the serving signature's inputs, and their
        scores by the training code's path.

        Args:
          model: the trained model.
          data: the prepared data.
          rows: how many.

        Returns:
          ``({input: array}, [n] scores)``.
        """
        split = data.splits["validation"]
        batch = split.read_range(0, min(rows, split.num_rows))
        sample = {k: batch[k] for k in INPUT_KEYS}
        return sample, np.asarray(self.task.score(model, data, sample))


class DINTask(Task):
    """DIN on Amazon-format data: the Task the loop trains (see the module docstring)."""
    name = "din"
    model_config_cls = DINModelConfig
    data_config_cls = DINDataConfig
    eval_config_cls = DINEvalConfig
    train_defaults = {"epochs": 10, "patience": 3, "batch_size": 1024, "learning_rate": 1e-2,
                      "optimizer": "adam", "eval_batch_size": 8192}
    presets = {"card": {"model": {"embedding_dim": 8, "recency": 0, "history_stats": False,
                                  "popularity": False, "mba_l2": 0.0, "feedback": False,
                                  "item_rate": False, "user_stats": False, "wide": False},
                        "train": {"learning_rate": 1e-3, "epochs": 5, "patience": 0,
                                  "batch_size": 4096}}}
    monitor = "auc"
    monitor_mode = "max"
    metric_names = ("auc", "logloss", "gauc", "rela_impr")  # rela_impr: with eval.base_run
    device_model_options = {"npu": {"static_shapes": True}}  # whole-graph compilation
    exporter_cls = DINExporter
    autograph = False  # no tensor-dependent Python control flow: Task.autograph

    def __init__(self, model_config=None, data_config=None, eval_config=None):
        super(DINTask, self).__init__(model_config, data_config, eval_config)
        # a subclass on DIN's data may bring an eval config without base_run
        self.base_metrics = _read_base_run(getattr(self.eval_config, "base_run", ""))

    def prepare(self, seed, log_=None):
        log_ = log_ or log
        data_config = self.data_config
        generate, description = _GENERATORS[data_config.synthetic_kind]
        root, is_synthetic, cache = common.resolve_data_dir(
            data_config.data_dir, data_config.cache_dir,
            lambda: generate(n_users=data_config.synthetic_users), description, log_)
        # the format is the provider's to find (datasets/behaviour.py): a reader registered
        # there is read here with no edit to this task
        data = behaviour.load(root, cache, data_config, seed, log_, is_synthetic)
        if self.base_metrics is not None:  # before anything is written
            _check_base_data(self.eval_config.base_run, self.base_metrics, data)
        return data

    def model_bytes(self, data):
        """Every weight (:meth:`models.din.DIN.weight_count`) with its gradient and two Adam
        slots, float32: each size setting is checked before anything is allocated."""
        config = self.model_config
        dim = getattr(config, "embedding_dim", None)
        if dim is None:  # a subclass with another model: no estimate
            return None
        count = DIN.weight_count(
            data.sizes["items"], data.sizes["categories"], dim,
            attention_units=config.attention_units, mlp_units=config.mlp_units,
            recency=config.recency, attention=config.pooling == "attention",
            num_feedback=_feedback_codes_used(data, config) if hasattr(data, "vocab") else 0)
        return count * 4 * 4, "model.embedding_dim={}, attention_units={}, mlp_units={}, " \
            "recency={}".format(dim, list(config.attention_units), list(config.mlp_units),
                                config.recency)

    def build_model(self, data):
        model_config = self.model_config
        model = DIN(data.sizes["items"], data.sizes["categories"],
                    embedding_dim=model_config.embedding_dim,
                    attention_units=model_config.attention_units,
                    mlp_units=model_config.mlp_units, activation=model_config.activation,
                    attention_softmax=model_config.attention_softmax,
                    pooling=model_config.pooling, mba_l2=model_config.mba_l2,
                    recency=model_config.recency,
                    history_stats=model_config.history_stats,
                    popularity=model_config.popularity,
                    static_shapes=model_config.static_shapes,
                    num_feedback=_feedback_codes_used(data, model_config),
                    item_rate=getattr(model_config, "item_rate", False),
                    user_stats=getattr(model_config, "user_stats", False),
                    wide=getattr(model_config, "wide", False))
        model.build()
        model.set_frequencies(data.item_counts, data.category_counts)
        return model

    def loss(self, model, data, batch, training):
        logits = model({k: batch[k] for k in INPUT_KEYS}, training=training)
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=batch["label"], logits=logits)

    def score(self, model, data, batch):
        return tf.sigmoid(model(batch, training=False))

    def metrics(self, data, split, scores):
        rows = data.splits[split]
        labels = rows["label"]
        out = {"auc": M.auc(labels, scores), "logloss": M.logloss(labels, scores),
               "gauc": din_metrics.gauc(rows["user"], labels, scores)}
        base = self.base_metrics
        if base and "auc" in base.get(split, {}):
            out["rela_impr"] = din_metrics.rela_impr(out["auc"], base[split]["auc"])
        return out

    def baselines(self, data, split):
        """The rules, the learned simple models and (on generated data) the ceiling, on the
        model's rows (:mod:`training.tasks.din_baselines`)."""
        if getattr(self, "_baselines", None) is None or self._baselines.data is not data:
            self._baselines = din_baselines.Baselines(data)
        out = self._baselines.score(split)
        oracle = behaviour_oracles.oracle(data.root, data.vocab, data.protocol) \
            if data.vocab else None
        if oracle is not None:  # generated data: the generator's own scorer, the ceiling
            rows = data.splits[split]
            labels, users = rows["label"], rows["user"]
            scores = oracle(rows)
            out["oracle"] = {"auc": M.auc(labels, scores), "gauc": din_metrics.gauc(users, labels, scores)}
        return out

