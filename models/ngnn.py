"""NGNN: Node-wise Graph Neural Network for outfit compatibility (Cui et al., WWW 2019).

An outfit is a graph whose nodes are its items' categories (at most 8 per outfit). Each
modality (visual: 2048-d inception-v3 vectors; textual: 2757-d multi-hot names) has its own
branch: per-category input projection + tanh -> ``steps`` rounds of node-wise message passing
with a GRU update -> readout. The outfit score is ``beta * visual + (1 - beta) * textual``
(beta = 0.2), or one branch alone with ``modalities="visual"|"textual"``.

Inputs (a dict; every tensor has a static [B, N] prefix, N = 8 with a node mask)::

    visual     float [B, N, F]      item image vectors
    text_ids   int   [B, N, W]      word ids of the multi-hot text
    text_mask  float [B, N, W]      1 for real words
    cats       int   [B, N]         dense category index 0..C-1
    mask       float [B, N]         1 for real items

``call`` returns the float32 score [B]; :meth:`NGNN.score_with_states` also returns the initial
node states of both branches, which the modality-consistency loss compares.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from models.ngnn_layers import (CategoryBagProjection, CategoryPairs, CategoryProjection,
                           CooccurrencePrior, NodeWiseGGNN, OutfitReadout, category_counts)
from core.compat import keras, policy_of, register_serializable

MODALITIES = ("visual", "textual", "both")


@register_serializable()
class NGNN(keras.Model):
    """Args:
      num_categories: C, the number of node types (120 in the paper's split).
      visual_dim: F of the image vectors (2048). vocab_size: V of the text vectors (2757).
      hidden: node state size H (12 in the paper). steps: message-passing rounds (3).
      beta: weight of the visual score. modalities: ``both``, ``visual`` or ``textual``.
      edges: ``binary`` (the original code, default) or ``cooccurrence`` (the paper's text);
        see :class:`models.ngnn_layers.NodeWiseGGNN`.
      static_shapes: use the static-shape input projection (for NPUs).
      category_pairs: add a learned category-compatibility term to the score
        (:class:`models.ngnn_layers.CategoryPairs`; not in the paper).
      readout: ``sum`` over nodes (the paper) or ``mean`` (comparable across outfit sizes;
        see :class:`models.ngnn_layers.OutfitReadout`).
      cooccurrence_prior: add the category co-occurrence rule as a score term with a learned
        weight (:class:`models.ngnn_layers.CooccurrencePrior`; counts set with
        :meth:`set_cooccurrence`; not in the paper).
      shared_projection: both input projections add a map shared by every category and start
        their per-category part at zero (see :class:`models.ngnn_layers.CategoryProjection`;
        :meth:`projection_penalty` is the per-category part's L2; not in the paper).
      input_dropout: in training, drop this share of the image vector's coordinates and of an
        item's words before the projections (scaled; not in the paper). With a ``seed`` ([2]
        int) the masks are stateless functions of it, so a resumed run draws what an
        uninterrupted one would.
    """

    def __init__(self, num_categories, visual_dim=2048, vocab_size=2757, hidden=12, steps=3,
                 beta=0.2, modalities="both", edges="binary", static_shapes=False,
                 category_pairs=False, readout="sum", cooccurrence_prior=False,
                 shared_projection=False, input_dropout=0.0, **kwargs):
        super(NGNN, self).__init__(**kwargs)
        if modalities not in MODALITIES:
            raise ValueError("modalities ({!r}) must be one of {}".format(
                modalities, ", ".join(MODALITIES)))
        if not 0.0 <= beta <= 1.0:
            raise ValueError("beta ({}) must be in [0, 1]".format(beta))
        self.num_categories = int(num_categories)
        self.visual_dim = int(visual_dim)
        self.vocab_size = int(vocab_size)
        self.hidden = int(hidden)
        self.steps = int(steps)
        self.beta = float(beta)
        self.modalities = modalities
        self.edges = edges
        self.static_shapes = bool(static_shapes)
        self.category_pairs = bool(category_pairs)
        self.readout = readout
        self.cooccurrence_prior = bool(cooccurrence_prior)
        self.shared_projection = bool(shared_projection)
        if not 0.0 <= input_dropout < 1.0:
            raise ValueError("input_dropout ({}) must be in [0, 1)".format(input_dropout))
        self.input_dropout = float(input_dropout)
        self.use_visual = modalities in ("visual", "both")
        self.use_text = modalities in ("textual", "both")
        policy = policy_of(self)  # sublayers compute like the model, not like the global policy
        if self.use_visual:
            self.visual_projection = CategoryProjection(
                num_categories, visual_dim, hidden, static_shapes=static_shapes,
                shared=shared_projection, name="visual_projection", dtype=policy)
            self.visual_ggnn = NodeWiseGGNN(num_categories, hidden, steps, edges,
                                            name="visual_ggnn", dtype=policy)
            self.visual_readout = OutfitReadout(hidden, readout, name="visual_readout",
                                                dtype=policy)
        if self.use_text:
            self.text_projection = CategoryBagProjection(num_categories, vocab_size, hidden,
                                                         shared=shared_projection,
                                                         name="text_projection", dtype=policy)
            self.text_ggnn = NodeWiseGGNN(num_categories, hidden, steps, edges, name="text_ggnn",
                                          dtype=policy)
            self.text_readout = OutfitReadout(hidden, readout, name="text_readout",
                                              dtype=policy)
        # created last, so the paper's weights keep their order in get_weights()
        self.pairs = CategoryPairs(num_categories, name="category_pairs", dtype=policy) \
            if category_pairs else None
        self.prior = CooccurrencePrior(num_categories, name="cooccurrence_prior", dtype=policy) \
            if cooccurrence_prior else None

    def build(self, input_shape=None):
        """All weights depend on the config only, so build needs no example input."""
        for layer in self._branch_layers():
            if not layer.built:
                layer.build(None)
        self.built = True

    def _branch_layers(self):
        layers = []
        if self.use_visual:
            layers += [self.visual_projection, self.visual_ggnn, self.visual_readout]
        if self.use_text:
            layers += [self.text_projection, self.text_ggnn, self.text_readout]
        if self.pairs is not None:
            layers.append(self.pairs)
        if self.prior is not None:
            layers.append(self.prior)
        return layers

    def set_edge_weights(self, matrix):
        """Co-occurrence edge weights [C, C] for both branches (edges='cooccurrence').

        Args:
          matrix: [C, C] float edge weights (row: receiving category).
        """
        if not self.built:
            self.build()
        for ggnn in ([self.visual_ggnn] if self.use_visual else []) + (
                [self.text_ggnn] if self.use_text else []):
            ggnn.set_edge_weights(matrix)

    def projection_penalty(self):
        """Sum of squares of the per-category input projections of both branches.

        Returns:
          A float32 scalar (0.0 when neither branch is on).
        """
        total = 0.0
        if self.use_visual:
            total += self.visual_projection.category_penalty()
        if self.use_text:
            total += self.text_projection.category_penalty()
        return total

    def set_cooccurrence(self, counts, frequency, outfits):
        """The training outfits' category co-occurrence counts [C, C], how many contain each
        category [C] and how many there are (cooccurrence_prior).

        Args:
          counts: [C, C] co-occurrence counts (diagonal: a repeated category).
          frequency: [C] training outfits containing each category.
          outfits: the number of training outfits.

        Raises:
          ValueError: the model was built without ``cooccurrence_prior``.
        """
        if self.prior is None:
            raise ValueError("set_cooccurrence needs cooccurrence_prior=True")
        if not self.built:
            self.build()
        self.prior.set_counts(counts, frequency, outfits)

    def _dropout(self, x, seed, stream):
        """Inverted dropout of ``x`` at ``input_dropout``; stateless when ``seed`` is given."""
        rate = self.input_dropout
        if seed is None:
            return tf.nn.dropout(x, rate)
        seed = tf.cast(seed, tf.int64) + tf.constant([0, stream], tf.int64)
        keep = tf.random.stateless_uniform(tf.shape(x), seed) >= rate
        return x * tf.cast(keep, x.dtype) / (1.0 - rate)

    def _project(self, inputs, cats, mask, training=False, seed=None):
        """Initial node states (h0) of each branch, padding nodes 0 and not computed."""
        node_mask = tf.cast(mask, self.compute_dtype)[..., None]
        h0_visual = h0_text = None
        rate = self.input_dropout if training else 0.0
        if self.use_visual:
            visual = inputs["visual"]
            if rate:
                visual = self._dropout(tf.cast(visual, self.compute_dtype), seed, 1)
            h0_visual = tf.tanh(self.visual_projection(visual, cats, mask)) * node_mask
        if self.use_text:
            words = inputs["text_mask"]
            if rate:
                words = self._dropout(tf.cast(words, tf.float32), seed, 2)
            h0_text = tf.tanh(self.text_projection(inputs["text_ids"], words,
                                                   cats)) * node_mask
        return h0_visual, h0_text

    def _propagate(self, h0_visual, h0_text, cats, mask, own=None):
        score = 0.0
        if self.use_visual:
            hv = self.visual_ggnn(h0_visual, cats, mask)
            score += (self.beta if self.use_text else 1.0) * self.visual_readout(hv, mask)
        if self.use_text:
            ht = self.text_ggnn(h0_text, cats, mask)
            score += ((1.0 - self.beta) if self.use_visual else 1.0) * self.text_readout(ht, mask)
        if self.pairs is not None:
            score += self.pairs(cats, mask)
        if self.prior is not None:
            score += self.prior(cats, mask, own)
        return score

    def score_with_states(self, inputs, training=False):
        """(score [B] float32, h0_visual or None, h0_text or None).

        Args:
          inputs: the model's input dict (item features, ``cats``, ``mask``).
          training: training mode (input dropout).

        Returns:
          ``(score, h0_visual, h0_text)``: [B] float32 scores and each branch's initial node
          states (None for a branch that is off), for the consistency term.
        """
        cats, mask = inputs["cats"], inputs["mask"]
        h0_visual, h0_text = self._project(inputs, cats, mask, training)
        return self._propagate(h0_visual, h0_text, cats, mask), h0_visual, h0_text

    def score_pairs(self, inputs, replacement, slot, training=False, leave_one_out=False,
                    seed=None):
        """Scores of outfits and of the same outfits with one item replaced, in one pass.

        The two outfits share every node but ``slot``, so each input projection (the bulk
        of the work) runs once per shared node plus once per replacement node.

        Args:
          inputs: the positive outfits (see the module docstring), [B, N, ...].
          replacement: the replacement items' ``visual`` [B, F], ``text_ids``/``text_mask``
            [B, W] and ``cats`` [B].
          slot: [B] int, the position that is replaced.
          leave_one_out: the positives are TRAINING outfits: the co-occurrence prior leaves
            each one's own pairs out of its counts, for the positive and its negative.
          seed: [2] int, the input dropout's seed in training (None: TensorFlow's stateful
            random ops).
        Returns:
          (positive scores [B], negative scores [B], h0_visual, h0_text of the positives).
        """
        cats, mask = inputs["cats"], inputs["mask"]
        n = tf.shape(cats)[1]
        joined = {key: tf.concat([inputs[key], tf.expand_dims(replacement[key], 1)], axis=1)
                  for key in ("visual", "text_ids", "text_mask", "cats") if key in replacement}
        joined_mask = tf.concat([tf.cast(mask, tf.float32),
                                 tf.ones_like(tf.cast(slot, tf.float32))[:, None]], axis=1)
        h0v_all, h0t_all = self._project(joined, joined["cats"], joined_mask, training, seed)
        swap = tf.equal(tf.range(n)[None, :], tf.cast(slot, tf.int32)[:, None])
        neg_cats = tf.where(swap, tf.cast(replacement["cats"], cats.dtype)[:, None], cats)

        def split(h0):
            if h0 is None:
                return None, None
            pos = h0[:, :-1]
            return pos, tf.where(swap[..., None], h0[:, -1:], pos)

        h0v_pos, h0v_neg = split(h0v_all)
        h0t_pos, h0t_neg = split(h0t_all)
        both = lambda a, b: None if a is None else tf.concat([a, b], axis=0)  # noqa: E731
        own = None
        if leave_one_out and self.prior is not None:
            own = category_counts(cats, mask, self.num_categories)
            own = tf.concat([own, own], axis=0)
        score = self._propagate(both(h0v_pos, h0v_neg), both(h0t_pos, h0t_neg),
                                tf.concat([cats, neg_cats], axis=0),
                                tf.concat([mask, mask], axis=0), own)
        pos_score, neg_score = tf.split(score, 2)
        return pos_score, neg_score, h0v_pos, h0t_pos

    def call(self, inputs, training=False):
        return self.score_with_states(inputs, training=training)[0]

    def get_config(self):
        return {"num_categories": self.num_categories, "visual_dim": self.visual_dim,
                "vocab_size": self.vocab_size, "hidden": self.hidden, "steps": self.steps,
                "beta": self.beta, "modalities": self.modalities, "edges": self.edges,
                "static_shapes": self.static_shapes, "category_pairs": self.category_pairs,
                "readout": self.readout, "cooccurrence_prior": self.cooccurrence_prior,
                "shared_projection": self.shared_projection,
                "input_dropout": self.input_dropout, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def ranking_loss(pos_score, neg_score, kind="sigmoid"):
    """Per-pair ranking loss.

    ``sigmoid``: -sigmoid(s_pos - s_neg), the NGNN paper's and code's objective (bounded: a
    pair far on the right side gives no more gradient). ``bpr``: -log sigmoid(s_pos - s_neg).

    Args:
      pos_score, neg_score: [B] scores of the true and the corrupted outfit.
      kind: ``sigmoid`` or ``bpr``.

    Returns:
      [B] float32 losses.

    Raises:
      ValueError: an unknown ``kind``.
    """
    diff = tf.cast(pos_score, tf.float32) - tf.cast(neg_score, tf.float32)
    if kind == "sigmoid":
        return -tf.sigmoid(diff)
    if kind == "bpr":
        return tf.nn.softplus(-diff)
    raise ValueError("ranking loss ({!r}) must be 'sigmoid' or 'bpr'".format(kind))


def consistency_loss(h0_visual, h0_text, mask):
    """Per-outfit mean over real nodes of ||h0_visual - h0_text||^2 (the paper's term).

    The original code compares the positive and the negative outfit's VISUAL projections
    instead, which is not what the paper describes; npurec follows the paper.

    Args:
      h0_visual, h0_text: [B, N, H] initial node states of the two branches.
      mask: [B, N] 1 for a real node, 0 for padding.

    Returns:
      [B] float32 losses.
    """
    diff = tf.cast(h0_visual, tf.float32) - tf.cast(h0_text, tf.float32)
    per_node = tf.reduce_sum(tf.square(diff), axis=-1)
    mask = tf.cast(mask, tf.float32)
    return tf.reduce_sum(per_node * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
