"""NGNN as a Task of the shared loop: Polyvore data, pairwise training, FITB and compatibility.

Defaults: RMSprop, learning rate 0.001, batch 16, up to 15 epochs with early stopping
(patience 3), hidden 12, 3 message-passing steps, beta 0.2 (the paper's), with changes that
make the model learn, each measured in README's tables: a BPR ranking loss (-log sigmoid)
instead of the bounded -sigmoid, no modality-consistency term (weight 0 instead of 5), a MEAN
readout instead of the sum (a sum's scores grow with the outfit's size, which compatibility
AUC over outfits of 3-8 items then ranks by), the co-occurrence rule inside the score (a
learned mix of training-outfit statistics, leave-one-out in training), input projections
shared by every category with a per-category part that starts at zero, and input dropout
0.6 (the per-category projections memorised a few thousand outfits in two epochs).
``--preset paper`` restores the published configuration. Model selection and early stopping use
``mrr_auc`` on validation: the mean of FITB mean reciprocal rank (smoother than FITB accuracy
on a few hundred questions) and compatibility AUC. FITB compares candidates within one outfit,
AUC ranks whole outfits against each other; selecting on FITB alone once kept a checkpoint
whose AUC had fallen below the rule's while its FITB still rose.

Item features are not in the model (a checkpoint stays small and the model takes features as
input): training and evaluation batches gather them from the feature store on the host, in the
input pipeline (:func:`datasets.tables.host_lookup`); a serving export carries them as
variables.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import logging

import numpy as np
import tensorflow as tf

from datasets import outfits, outfits_release
from datasets import outfit_data
from datasets import tables
from datasets.generators import common, polyvore_compatibility, polyvore_style, real_outfits
from datasets.generators import outfit_oracles
from models.ngnn import NGNN, consistency_loss, ranking_loss
from training.infra import metrics as M
from training.tasks import ngnn_metrics
from core.errors import UsageError
from training.tasks import Exporter, Task, ngnn_baselines

log = logging.getLogger("npurec.ngnn")


@dataclasses.dataclass(frozen=True)
class NGNNModelConfig(object):
    """Attributes:
      hidden: node state size (12). steps: message-passing rounds (3).
      beta: weight of the visual score (0.2). modalities: both, visual or textual.
      edges: binary (original code, default) or cooccurrence (the paper's description).
      consistency_weight: weight of ||h0_visual - h0_text||^2 (0 = off; the paper: 5).
      ranking_loss: bpr (-log sigmoid(s_pos - s_neg), default) or sigmoid (the paper's and
        original code's -sigmoid(s_pos - s_neg), bounded: far-apart pairs stop teaching).
      static_shapes: static-shape input projection; slower on CPU/GPU. The runtime switches it
        on for NPUs (whole-graph compilation), so it need not be set by hand.
      category_pairs: add a learned category-compatibility term (not in the paper).
      readout: mean over nodes (default: comparable across outfit sizes) or sum (the paper).
      cooccurrence_prior: the co-occurrence rule of the training outfits inside the score, as
        a learned mix of the rule, PMI and category frequency, leave-one-out in training
        (default: on; the paper: off).
      prior_init: where that mix starts: ``rule`` (default: 1, 0, 0, the co-occurrence rule)
        or ``fitted`` (the weights the learned category-statistics baseline fits on the
        training pairs, so the model starts as that baseline). Measured once each, 4 epochs:
        ``style`` test FITB / AUC 0.630 / 0.985 fitted against 0.54 / 0.943; the real outfit
        lists at 800 outfits 0.675 / 0.944 against 0.678 / 0.947. Not better everywhere, so
        not the default.
      shared_projection: input projections shared by every category plus a per-category
        part that starts at zero (the paper: per-category only).
      category_l2: L2 weight on the per-category input projections (0 = none).
      input_dropout: share of image coordinates and words dropped in training (0 = none).
    The paper's configuration is the preset ``paper`` (``--preset paper``).
    """

    hidden: int = 12
    steps: int = 3
    beta: float = 0.2
    modalities: str = "both"
    edges: str = "binary"
    consistency_weight: float = 0.0
    ranking_loss: str = "bpr"
    static_shapes: bool = False
    category_pairs: bool = False
    readout: str = "mean"
    cooccurrence_prior: bool = True
    prior_init: str = "rule"
    shared_projection: bool = True
    category_l2: float = 0.0
    input_dropout: float = 0.6

    def __post_init__(self):
        if self.hidden < 1 or self.steps < 1:
            raise UsageError("model.hidden ({}) and model.steps ({}) must be >= 1".format(
                self.hidden, self.steps))
        if self.modalities not in ("both", "visual", "textual"):
            raise UsageError("model.modalities ({!r}) must be both, visual or textual".format(
                self.modalities))
        if self.edges not in ("binary", "cooccurrence"):
            raise UsageError("model.edges ({!r}) must be binary or cooccurrence".format(
                self.edges))
        if self.ranking_loss not in ("sigmoid", "bpr"):
            raise UsageError("model.ranking_loss ({!r}) must be sigmoid or bpr".format(
                self.ranking_loss))
        if self.readout not in ("sum", "mean"):
            raise UsageError("model.readout ({!r}) must be sum or mean".format(self.readout))
        if not 0.0 <= self.beta <= 1.0:
            raise UsageError("model.beta ({}) must be in [0, 1]".format(self.beta))
        if not 0.0 <= self.input_dropout < 1.0:
            raise UsageError("model.input_dropout ({}) must be in [0, 1)".format(
                self.input_dropout))
        if self.prior_init not in ("fitted", "rule"):
            raise UsageError("model.prior_init ({!r}) must be fitted or rule".format(
                self.prior_init))
        if not 0.0 <= self.category_l2 < float("inf"):
            raise UsageError("model.category_l2 ({}) must be a finite number >= 0".format(
                self.category_l2))


@dataclasses.dataclass(frozen=True)
class NGNNDataConfig(object):
    """Attributes:
      data_dir: Polyvore directory ('' = the embedded synthetic default).
      cache_dir: where feature stores go ('' = $NPUREC_CACHE or ~/.cache/npurec).
      on_bad: error | skip-outfit, for outfits of a bad size or with an unknown category.
      on_missing: error | skip-outfit, for outfits with an item lacking a feature file.
      visual_dim / vocab_size: lengths of the per-item JSON image and text vectors (2048 /
        2757); a packed store (``datasets.featurize`` output) brings its own.
      synthetic_outfits: training outfits of the synthetic default.
      synthetic_kind: style (the default: outfits share a latent style, categories at random),
        compatibility (one category per group chosen by the style, like real outfits;
        :mod:`datasets.generators.polyvore_compatibility`) or outfits (the REAL outfit
        lists and categories of the paper's split, generated item vectors;
        :mod:`datasets.generators.real_outfits`).
      structure_dir: the real outfit lists for ``synthetic_kind=outfits`` ('' =
        $NPUREC_POLYVORE_STRUCTURE, else ../shared/data/polyvore beside the repository).
      synthetic_layout: zip | dir, how the synthetic default stores per-item files.
      distinct_categories: wrong FITB candidates / random outfits avoid categories already in
        the outfit (harder; default False = the original protocol).
      split: nondisjoint | disjoint, the Polyvore Outfits split a ``featurize
        polyvore-outfits`` folder is trained and scored on (its official questions).
      min_category_items: Polyvore Outfits' node rule: a category_id with this many training
        items is a node of its own, the others join their semantic category's node
        (:mod:`datasets.polyvore_outfits`).
    """

    data_dir: str = ""
    cache_dir: str = ""
    on_bad: str = "error"
    on_missing: str = "error"
    visual_dim: int = 2048
    vocab_size: int = 2757
    synthetic_outfits: int = 1000
    synthetic_kind: str = "style"
    structure_dir: str = ""
    synthetic_layout: str = "zip"
    distinct_categories: bool = False
    split: str = "nondisjoint"
    min_category_items: int = 100

    def __post_init__(self):
        """Every field checked here, when the config is built: before any data is touched."""
        if self.synthetic_kind not in _GENERATORS:
            raise UsageError("data.synthetic_kind ({!r}) must be one of {}".format(
                self.synthetic_kind, ", ".join(sorted(_GENERATORS))))
        for name in ("on_bad", "on_missing"):
            if getattr(self, name) not in ("error", "skip-outfit"):
                raise UsageError("data.{} ({!r}) must be error or skip-outfit".format(
                    name, getattr(self, name)))
        if self.synthetic_layout not in ("zip", "dir"):
            raise UsageError("data.synthetic_layout ({!r}) must be zip or dir".format(
                self.synthetic_layout))
        if self.split not in outfits_release.SPLITS:
            raise UsageError("data.split ({!r}) must be one of {}".format(
                self.split, ", ".join(outfits_release.SPLITS)))
        for name in ("visual_dim", "vocab_size", "synthetic_outfits", "min_category_items"):
            if getattr(self, name) < 1:
                raise UsageError("data.{} ({}) must be >= 1".format(name, getattr(self, name)))


_GENERATORS = {
    "style": (polyvore_style.generate, "Polyvore-format data (outfits share a latent style)"),
    "compatibility": (polyvore_compatibility.generate,
                      "Polyvore-format data (style-dependent category compatibility)"),
    "outfits": (real_outfits.generate,
                "Polyvore-format data (the real outfit structure, generated item vectors)"),
}


def _model_inputs(features, cats, mask):
    """The model's input dict from gathered item features and the outfits' categories/mask."""
    out = {key: features[key] for key in tables.FEATURE_KEYS}
    out.update(cats=cats, mask=mask)
    return out


class NGNNExporter(Exporter):
    """NGNN's serving: outfits of store rows and categories in, scores out, the feature
    tables inside the SavedModel; requests score an outfit or a fill-in-the-blank question."""

    def export_module(self, model, data):
        """Serving: store rows, dense categories and a mask [B, width] -> outfit score (width:
        8, or the largest outfit of a Polyvore Outfits split). The feature
        tables travel inside the SavedModel as variables (not graph constants: the real visual
        table is ~0.8 GB, and a graph proto is limited to 2 GB)."""
        spec = {name: tf.TensorSpec([None, data.width], dtype, name) for name, dtype in
                (("items", tf.int32), ("cats", tf.int32), ("mask", tf.float32))}
        module = tf.Module()
        module.model = model
        module.tables = tables.device_tables(data.store)

        @tf.function(input_signature=[spec])
        def serve(inputs):
            """Compatibility score of each outfit."""
            features = tables.gather_tables(module.tables, inputs["items"])
            return {"score": model(_model_inputs(features, inputs["cats"], inputs["mask"]),
                                   training=False)}

        module.serve = serve
        return module

    def request_rows(self, data, request):
        """``{"outfit": [{"item": "<set>_<index>", "category": id}, ...]}`` scores an outfit
        (2 to the data's width: 8, or the largest outfit of a Polyvore Outfits split); with
        ``"candidates": [...]`` (same item form) it is a fill-in-the-blank
        question: each candidate completes the outfit (1-7 items) and is scored."""
        outfit = request.get("outfit")
        candidates = request.get("candidates") or []
        if not isinstance(outfit, list) or not isinstance(candidates, list):
            raise ValueError("expected 'outfit' (a list of {item, category}) and optionally "
                             "'candidates'")
        size = len(outfit) + (1 if candidates else 0)
        if not 2 <= size <= data.width:
            raise ValueError("an outfit must have 2 to {} items, got {}".format(
                data.width, size))

        def resolve(entry):
            key = entry.get("item") if isinstance(entry, dict) else None
            category = entry.get("category") if isinstance(entry, dict) else None
            if not isinstance(key, str) or not isinstance(category, int) or isinstance(
                    category, bool):
                raise ValueError("each item is {{\"item\": a key like \"123_1\", \"category\": "
                                 "an integer id}}, got {!r}".format(entry)[:200])
            if key not in data.store:
                raise ValueError("unknown item {!r}".format(key))
            if category not in data.category_map:
                raise ValueError("unknown category id {}".format(category))
            row, dense = int(data.store.rows([key])[0]), data.category_map[category]
            known = int(data.item_categories[row])
            if known >= 0 and known != dense:
                raw = {v: k for k, v in data.category_map.items()}
                raise ValueError("item {!r} is of category {}, not {} (the outfit lists say "
                                 "so)".format(key, raw.get(known, known), category))
            return row, dense

        base = [resolve(e) for e in outfit]
        options = [resolve(e) for e in candidates] or [None]
        rows = {"items": np.zeros((len(options), data.width), np.int32),
                "cats": np.zeros((len(options), data.width), np.int32),
                "mask": np.zeros((len(options), data.width), np.float32)}
        for r, extra in enumerate(options):
            members = base + ([extra] if extra else [])
            rows["items"][r, :len(members)] = [m[0] for m in members]
            rows["cats"][r, :len(members)] = [m[1] for m in members]
            rows["mask"][r, :len(members)] = 1.0
        return rows, []

    def format_result(self, request, scores):
        scores = [float(s) for s in scores]
        if request.get("candidates"):
            return {"candidate_scores": scores, "answer": int(np.argmax(scores))}
        return {"score": scores[0]}


class NGNNTask(Task):
    """NGNN on Polyvore-format data: the Task the loop trains (see the module docstring)."""
    name = "ngnn"
    model_config_cls = NGNNModelConfig
    data_config_cls = NGNNDataConfig
    train_defaults = {"epochs": 15, "patience": 3, "batch_size": 16, "learning_rate": 1e-3,
                      "optimizer": "rmsprop", "eval_batch_size": 512}
    presets = {"paper": {"model": {"ranking_loss": "sigmoid", "consistency_weight": 5.0,
                                   "readout": "sum", "category_pairs": False,
                                   "cooccurrence_prior": False, "shared_projection": False,
                                   "category_l2": 0.0, "input_dropout": 0.0},
                         "train": {"patience": 0}}}
    monitor = "mrr_auc"
    monitor_mode = "max"
    metric_names = ("fitb_accuracy", "fitb_mrr", "compat_auc", "pairwise_accuracy", "mrr_auc")
    device_model_options = {"npu": {"static_shapes": True}}  # whole-graph compilation
    exporter_cls = NGNNExporter
    autograph = False  # no tensor-dependent Python control flow: Task.autograph

    # -- data -----------------------------------------------------------------------------
    def prepare(self, seed, log_=None):
        log_ = log_ or log
        data_config = self.data_config
        generate, description = _GENERATORS[data_config.synthetic_kind]
        extra = {"structure": data_config.structure_dir} \
            if data_config.synthetic_kind == "outfits" else {}
        def make_default():
            return generate(n_train=data_config.synthetic_outfits,
                            visual_dim=data_config.visual_dim,
                            vocab_size=data_config.vocab_size,
                            layout=data_config.synthetic_layout, **extra)

        root, is_synthetic, cache = common.resolve_data_dir(
            data_config.data_dir, data_config.cache_dir, make_default, description, log_)
        # the layout is the provider's to find (datasets/outfits.py): a reader registered
        # there is read here with no edit to this task
        return outfits.load(root, cache, data_config, seed, log_, is_synthetic)

    # -- model ----------------------------------------------------------------------------
    def model_bytes(self, data):
        """The input projections (per category and shared, image and text) with their
        gradients and RMSprop slots, float32: the part of NGNN that grows with a setting."""
        hidden = getattr(self.model_config, "hidden", None)
        if hidden is None:  # a subclass with another model: no estimate
            return None
        inputs = data.store.visual_dim + data.store.vocab_size
        return (data.num_categories + 1) * inputs * hidden * 4 * 3, "model.hidden={}".format(
            hidden)

    def build_model(self, data):
        model_config = self.model_config
        model = NGNN(data.num_categories, visual_dim=data.store.visual_dim,
                     vocab_size=data.store.vocab_size, hidden=model_config.hidden,
                     steps=model_config.steps, beta=model_config.beta,
                     modalities=model_config.modalities, edges=model_config.edges,
                     static_shapes=model_config.static_shapes,
                     category_pairs=model_config.category_pairs,
                     readout=model_config.readout,
                     cooccurrence_prior=model_config.cooccurrence_prior,
                     shared_projection=model_config.shared_projection,
                     input_dropout=model_config.input_dropout)
        model.build()
        if model_config.cooccurrence_prior:
            train = data.splits["train"]
            model.set_cooccurrence(data.cooc, outfit_data.category_frequency(train, data.num_categories),
                                   len(train["cats"]))
            if getattr(model_config, "prior_init", "rule") == "fitted":
                mix = ngnn_baselines.fitted_prior_mix(data)
                if mix is not None:
                    model.prior.mix.assign(mix)
        if model_config.edges == "cooccurrence":
            model.set_edge_weights(edge_weights(data.cooc))
        return model

    def loss(self, model, data, batch, training):
        """Per-pair loss: ranking(s_pos, s_neg) + w * consistency(h0_visual, h0_text).

        The positive and its negative (one slot swapped) share all other nodes, so the model
        scores both in one pass (:meth:`models.ngnn.NGNN.score_pairs`).
        """
        cfg = self.model_config
        mask = batch["mask"]
        inputs = _model_inputs(batch, batch["cats"], mask)
        replacement = {key: batch["neg_" + key] for key in tables.FEATURE_KEYS}
        replacement["cats"] = batch["neg_cat"]
        pos, neg, h0_visual, h0_text = model.score_pairs(
            inputs, replacement, batch["slot"], training=training, leave_one_out=True,
            seed=tf.stack([batch["noise"][0], batch["noise"][-1]]) if "noise" in batch else None)
        loss = ranking_loss(pos, neg, cfg.ranking_loss)
        if cfg.consistency_weight and h0_visual is not None and h0_text is not None:
            loss += cfg.consistency_weight * consistency_loss(h0_visual, h0_text, mask)
        if cfg.category_l2:  # once in the mean over the batch
            loss += cfg.category_l2 * tf.cast(model.projection_penalty(), tf.float32)
        return loss

    # -- evaluation -----------------------------------------------------------------------
    def model_inputs(self, data, batch):
        """The model's inputs for outfit rows (``items``, ``cats``, ``mask``; eagerly, e.g.
        in a notebook): the items' vectors read from ``data``'s feature store.

        Args:
          data: the prepared data.
          batch: a batch of store rows, categories and mask.

        Returns:
          The model's input dict (features gathered from the tables).
        """
        features = tables.host_lookup(data.store)(batch["items"])
        return _model_inputs(features, batch["cats"], batch["mask"])

    def score(self, model, data, batch):
        return model(_model_inputs(batch, batch["cats"], batch["mask"]), training=False)

    def metrics(self, data, split, scores):
        fitb = data.fitb[split]
        n_fitb = len(fitb["items"])
        return question_metrics(scores[:n_fitb], scores[n_fitb:], data.compat[split]["label"],
                                answer=fitb.get("answer"), paired=not data.official)

    def baselines(self, data, split):
        """The co-occurrence rules of the training outfits (``data.rules``: of the nodes; on
        Polyvore Outfits of ``category_id`` and of ``semantic_category``) and the learned
        simple model on their statistics (``category_statistics``,
        :mod:`training.tasks.ngnn_baselines`) score the same questions; on generated data,
        the generator's own scorer adds the ceiling (``oracle``)."""
        fitb, compat = data.fitb[split], data.compat[split]
        out = {}
        for name, (mapping, counts) in sorted(data.rules.items()):
            scorer = cooccurrence_scores(counts)

            def cats_of(rows, mapping=mapping):
                return rows["cats"] if mapping is None else mapping[rows["items"]]

            out[name] = question_metrics(
                scorer(cats_of(fitb), fitb["mask"]), scorer(cats_of(compat), compat["mask"]),
                compat["label"], answer=fitb.get("answer"), paired=not data.official)
        if getattr(self, "_learned", None) is None or self._learned.data is not data:
            self._learned = ngnn_baselines.CategoryStatistics(data)
        learned = self._learned
        out["category_statistics"] = question_metrics(
            learned.score(fitb), learned.score(compat), compat["label"],
            answer=fitb.get("answer"), paired=not data.official)
        oracle = outfit_oracles.oracle(data.root, data.store.keys, data.num_categories,
                                           data.distinct_categories)
        if oracle is not None:
            out["oracle"] = question_metrics(
                oracle(fitb["items"], fitb["cats"], fitb["mask"]),
                oracle(compat["items"], compat["cats"], compat["mask"]), compat["label"])
        return out


def question_metrics(fitb_scores, compat_scores, compat_labels, answer=None, paired=True):
    """FITB accuracy and MRR, compatibility ROC AUC and pairwise accuracy of one scorer, ties
    counted at their expected value under a random tie-break for every scorer, models and
    rules alike (:mod:`training.infra.metrics`).

    Args:
      fitb_scores: [Q * 4] FITB candidate scores, question by question.
      compat_scores: scores of the compatibility outfits.
      compat_labels: 1 true, 0 corrupted.
      answer: [Q] the true candidate's column (None: column 0, as drawn here).
      paired: the compatibility outfits are n true ones then their n partners (drawn here);
        a release's own lists are not, and have no pairwise accuracy.

    Returns:
      ``{fitb_accuracy, fitb_mrr, compat_auc, pairwise_accuracy (paired only), mrr_auc}``.
    """
    fitb_scores = np.asarray(fitb_scores).reshape(-1, 4)
    if answer is not None:  # the true answer first, the others in their order
        answer = np.asarray(answer, np.int64)
        others = np.argsort(np.arange(4)[None, :] == answer[:, None], axis=1, kind="stable")
        order = np.concatenate([answer[:, None], others[:, :3]], axis=1)
        fitb_scores = np.take_along_axis(fitb_scores, order, axis=1)
    out = {"fitb_accuracy": ngnn_metrics.fitb_accuracy(fitb_scores),
           "fitb_mrr": ngnn_metrics.fitb_mrr(fitb_scores),
           "compat_auc": M.auc(compat_labels, compat_scores)}
    if paired:
        n = len(compat_labels) // 2
        out["pairwise_accuracy"] = ngnn_metrics.pairwise_accuracy(compat_scores[:n], compat_scores[n:])
    out["mrr_auc"] = 0.5 * (out["fitb_mrr"] + out["compat_auc"])
    return out


def edge_weights(cooc):
    """The paper's edge weights: count(c_i, c_j) / count(c_j), from training co-occurrence.

    Args:
      cooc: [C, C] co-occurrence counts.

    Returns:
      [C, C] float32 edge weights.
    """
    totals = np.maximum(cooc.sum(axis=0, keepdims=True), 1.0)
    return (cooc / totals).astype(np.float32)


def cooccurrence_scores(cooc):
    """Outfit score = mean over item pairs of log(1 + co-occurrence count), vectorised.

    Args:
      cooc: [C, C] co-occurrence counts.

    Returns:
      A scorer ``(cats, mask) -> scores``.
    """
    log_counts = np.log1p(cooc)

    def scorer(cats, mask):
        mask = mask > 0
        pair = log_counts[cats[:, :, None], cats[:, None, :]]
        valid = mask[:, :, None] & mask[:, None, :] & ~np.eye(cats.shape[1], dtype=bool)
        return (pair * valid).sum(axis=(1, 2)) / np.maximum(valid.sum(axis=(1, 2)), 1)

    return scorer
