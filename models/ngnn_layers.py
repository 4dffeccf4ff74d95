"""Keras layers of NGNN (Cui et al., WWW 2019, "Dressing as a Whole").

* :class:`CategoryProjection` - node-wise input projection of dense features, one F->H matrix
  per category.
* :class:`CategoryBagProjection` - the same for multi-hot text, as a gather-sum of weight rows.
* :class:`NodeWiseGGNN` - node-wise gated graph message passing with a GRU update.
* :class:`OutfitReadout` - sum over nodes of sigmoid(w_conf . h) * leaky_relu(w_score . h).
* :class:`CategoryPairs` - a learned category-compatibility table (option).
* :class:`CooccurrencePrior` - the co-occurrence rule as a score term, leave-one-out in training.

All layers are policy-correct: variables are float32, computation runs in ``compute_dtype``
and scores leave in float32. Keras 2/3 differences go through :mod:`core.compat`.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from core.compat import add_weight, gather, keras, register_serializable


def _gather_cast(table, indices, dtype):
    """Gather rows first, cast after: the gradient stays sparse (IndexedSlices)."""
    return tf.cast(gather(table, indices), dtype)


@tf.function(jit_compile=True, autograph=False)
def category_outer_sum(x, dy, groups, num_groups):
    """``sum over rows r of group c of outer(x[r], dy[r])`` -> [C, F, H] (rows of group C
    dropped): the dense kernel gradient written once by one compiled loop."""
    outer = x[:, :, None] * dy[:, None, :]
    return tf.math.unsorted_segment_sum(outer, groups, num_groups)


# Up to this many rows (nodes) the kernel gradient is the compiled outer-product sum; above,
# one matmul per group (the [rows, F, H] outer products would outweigh the dense gradient).
OUTER_SUM_ROWS = 256


def _partitioned_matmul(x, groups, kernel):
    """``y[r] = x[r] @ kernel[groups[r]]`` for x [R, F], groups [R] (C: a padding row, zeros
    out) and kernel [C, F, H]: one matmul per group.

    Why the custom gradient: autodiff would compute the kernel's gradient as one matmul per
    group and then stack C [F, H] pieces, most of them zeros at small batches; with few rows
    (``OUTER_SUM_ROWS``, static) it is instead one compiled outer-product sum. 1.14x at
    NGNN's batch 16 (the fixed per-step cost). Above it, the backward pass reuses the
    forward's partitions of ``x`` and of the row positions instead of partitioning again.
    The input's gradient is built only if used.
    """
    num_groups = int(kernel.shape[0])
    rows = x.shape[0]
    positions = tf.dynamic_partition(tf.range(tf.shape(groups)[0]), groups, num_groups + 1)

    def per_group(parts, kernels):
        """One matmul per group, stitched back into row order; padding rows are zeros."""
        outputs = [tf.matmul(part, w) for part, w in zip(parts, kernels)]
        outputs.append(tf.zeros([tf.shape(positions[-1])[0], kernels[0].shape[-1]],
                                parts[0].dtype))
        return tf.dynamic_stitch(positions, outputs)

    @tf.custom_gradient
    def forward(x, kernel):
        x_parts = tf.dynamic_partition(x, groups, num_groups + 1)
        y = per_group(x_parts, tf.unstack(kernel, axis=0))

        def grad(dy):
            dy = tf.cast(dy, x.dtype)
            dy_parts = tf.dynamic_partition(dy, groups, num_groups + 1)
            dx = per_group(dy_parts, tf.unstack(tf.transpose(kernel, [0, 2, 1])))
            if rows is not None and rows <= OUTER_SUM_ROWS:
                return dx, category_outer_sum(x, dy, groups, num_groups)
            return dx, tf.stack([tf.matmul(a, b, transpose_a=True)
                                 for a, b in zip(x_parts[:-1], dy_parts[:-1])])

        return y, grad

    return forward(x, kernel)


@register_serializable()
class CategoryProjection(keras.layers.Layer):
    """Per-category linear map of dense node features: ``x_i -> x_i W[c_i] + b[c_i]``.

    Two implementations with identical results:

    * ``static_shapes=False`` (default, CPU/GPU): nodes are partitioned by category and each
      category does ONE matmul against its slice of an unstacked weight (~F*H FLOPs per node,
      no [nodes, F, H] tensor). The partitions have data-dependent sizes.
    * ``static_shapes=True`` (NPU: whole-graph compilation wants static shapes): each node's
      weight matrix is gathered and applied with einsum; more memory traffic, static shapes.

    ``shared=True`` adds one projection ``x_i W_shared`` that every category uses, and the
    per-category kernels start at ZERO: a shared map with a per-category part that only
    grows where the data supports it (with an L2 penalty, :meth:`category_penalty`). Why:
    120 categories x 2048 x H weights learnt from a few thousand outfits memorise in two
    epochs, while what makes items match (colour, style) is largely the same for every
    category.

    Args:
      num_categories: C. in_dim: F. units: H. shared: see above.
    Shapes: x [B, N, F], cats [B, N] int -> [B, N, H].
    """

    def __init__(self, num_categories, in_dim, units, static_shapes=False, shared=False,
                 **kwargs):
        super(CategoryProjection, self).__init__(**kwargs)
        self.num_categories = int(num_categories)
        self.in_dim = int(in_dim)
        self.units = int(units)
        self.static_shapes = bool(static_shapes)
        self.shared = bool(shared)

    def build(self, input_shape=None):
        glorot = keras.initializers.GlorotUniform()
        self.kernel = add_weight(self, "kernel", (self.num_categories, self.in_dim, self.units),
                                 "zeros" if self.shared else glorot)
        self.bias = add_weight(self, "bias", (self.num_categories, self.units), "zeros")
        if self.shared:
            self.shared_kernel = add_weight(self, "shared_kernel", (self.in_dim, self.units),
                                            glorot)
        self.built = True

    def category_penalty(self):
        """Sum of squares of the per-category kernels (float32 scalar).

        Returns:
          A float32 scalar.
        """
        return tf.reduce_sum(tf.square(self.kernel))

    def _shared_term(self, x):
        if not self.shared:
            return 0.0
        return tf.einsum("bnf,fh->bnh", x, tf.cast(self.shared_kernel, self.compute_dtype))

    def call(self, x, cats, mask=None):
        """``mask`` [B, N] (optional): nodes with 0 are not computed and come out as zeros."""
        x = tf.cast(x, self.compute_dtype)
        cats = tf.cast(cats, tf.int32)
        bias = tf.cast(gather(self.bias, cats), self.compute_dtype) + self._shared_term(x)
        if self.static_shapes:
            kernel = tf.cast(gather(self.kernel, cats), self.compute_dtype)
            y = tf.einsum("bnf,bnfh->bnh", x, kernel) + bias
            return y if mask is None else y * tf.cast(mask, y.dtype)[..., None]
        shape = tf.shape(cats)
        flat_x = tf.reshape(x, [-1, self.in_dim])
        flat_c = tf.reshape(cats, [-1])
        if mask is not None:  # padding nodes go to an extra partition that is never multiplied
            flat_c = tf.where(tf.reshape(mask, [-1]) > 0, flat_c, self.num_categories)
        flat_y = _partitioned_matmul(flat_x, flat_c, tf.cast(self.kernel, self.compute_dtype))
        y = tf.reshape(flat_y, tf.concat([shape, [self.units]], axis=0))
        if mask is None:
            return y + bias
        return (y + bias) * tf.cast(mask, y.dtype)[..., None]

    def get_config(self):
        config = super(CategoryProjection, self).get_config()
        config.update(num_categories=self.num_categories, in_dim=self.in_dim, units=self.units,
                      static_shapes=self.static_shapes, shared=self.shared)
        return config


@register_serializable()
class CategoryBagProjection(keras.layers.Layer):
    """Per-category projection of a multi-hot text vector given as word ids.

    ``sum_w multi_hot[w] * W[c][w]`` is a sum of the rows of the words present, so the
    weights are one flat table ``[C * V, H]`` and the projection is a masked gather-sum of rows
    ``c * V + w``: no 2757-wide matmul, and a sparse gradient touching only the rows used.

    ``shared=True``: a word table ``[V, H]`` shared by every category is added, and the
    per-category table starts at zero (see :class:`CategoryProjection`; "black" or
    "leather" mean much the same on a shoe and on a bag).

    Shapes: word_ids [B, N, W] int, word_mask [B, N, W], cats [B, N] -> [B, N, H].
    """

    def __init__(self, num_categories, vocab_size, units, shared=False, **kwargs):
        super(CategoryBagProjection, self).__init__(**kwargs)
        self.num_categories = int(num_categories)
        self.vocab_size = int(vocab_size)
        self.units = int(units)
        self.shared = bool(shared)

    def build(self, input_shape=None):
        # Glorot for a vocab_size -> units matrix per category
        limit = (6.0 / (self.vocab_size + self.units)) ** 0.5
        glorot = keras.initializers.RandomUniform(-limit, limit)
        self.table = add_weight(self, "table", (self.num_categories * self.vocab_size, self.units),
                                "zeros" if self.shared else glorot, autocast=False)
        self.bias = add_weight(self, "bias", (self.num_categories, self.units), "zeros")
        if self.shared:
            self.shared_table = add_weight(self, "shared_table", (self.vocab_size, self.units),
                                           glorot, autocast=False)
        self.built = True

    def category_penalty(self):
        """Sum of squares of the per-category word tables (float32 scalar).

        Returns:
          A float32 scalar.
        """
        return tf.reduce_sum(tf.square(self.table))

    def call(self, word_ids, word_mask, cats):
        cats = tf.cast(cats, tf.int32)
        word_ids = tf.cast(word_ids, tf.int32)
        rows = cats[:, :, None] * self.vocab_size + word_ids
        vectors = _gather_cast(self.table, rows, self.compute_dtype)  # [B, N, W, H]
        if self.shared:
            vectors += _gather_cast(self.shared_table, word_ids, self.compute_dtype)
        weights = tf.cast(word_mask, self.compute_dtype)[..., None]
        bias = tf.cast(gather(self.bias, cats), self.compute_dtype)
        return tf.reduce_sum(vectors * weights, axis=2) + bias

    def get_config(self):
        config = super(CategoryBagProjection, self).get_config()
        config.update(num_categories=self.num_categories, vocab_size=self.vocab_size,
                      units=self.units, shared=self.shared)
        return config


@register_serializable()
class NodeWiseGGNN(keras.layers.Layer):
    """Node-wise gated graph neural network (NGNN's message passing), vectorised.

    For ``steps`` rounds, with per-category output/input matrices and a shared GRU:

        out_j = W_out[c_j] h_j + b_out[c_j]
        a_i   = sum_{j != i} A_ij out_j
        m_i   = W_in[c_i] a_i + b_in[c_i]
        h_i   = GRU(m_i, h_i)

    ``edges="binary"``: A_ij = 1 between the items present (the original code). The graph is
    complete, so a_i = (masked sum over all nodes) - out_i: O(N), not O(N^2).
    ``edges="cooccurrence"``: A_ij = E[c_i, c_j], a [C, C] matrix of category co-occurrence
    weights (the paper's description), set with :meth:`set_edge_weights`; O(N^2) with N <= 8.

    Shapes: h [B, N, H], cats [B, N] int, mask [B, N] -> [B, N, H] (padding rows stay 0).
    """

    def __init__(self, num_categories, units, steps=3, edges="binary", **kwargs):
        super(NodeWiseGGNN, self).__init__(**kwargs)
        if edges not in ("binary", "cooccurrence"):
            raise ValueError("edges ({!r}) must be 'binary' or 'cooccurrence'".format(edges))
        if steps < 1:
            raise ValueError("steps ({}) must be >= 1".format(steps))
        self.num_categories = int(num_categories)
        self.units = int(units)
        self.steps = int(steps)
        self.edges = edges

    def build(self, input_shape=None):
        c, h = self.num_categories, self.units
        glorot = keras.initializers.GlorotUniform()
        self.w_out = add_weight(self, "w_out", (c, h, h), glorot)
        self.b_out = add_weight(self, "b_out", (c, h), "zeros")
        self.w_in = add_weight(self, "w_in", (c, h, h), glorot)
        self.b_in = add_weight(self, "b_in", (c, h), "zeros")
        self.gru_kernel = add_weight(self, "gru_kernel", (h, 3 * h), glorot)
        self.gru_recurrent = add_weight(self, "gru_recurrent", (h, 3 * h),
                                        keras.initializers.Orthogonal())
        self.gru_bias = add_weight(self, "gru_bias", (3 * h,), "zeros")
        if self.edges == "cooccurrence":
            self.edge_weights = add_weight(self, "edge_weights", (c, c), "ones", trainable=False)
        self.built = True

    def set_edge_weights(self, matrix):
        """Set the [C, C] co-occurrence edge weights (edges='cooccurrence' only).

        Args:
          matrix: [C, C] float edge weights.

        Raises:
          ValueError: the layer was built with binary edges.
        """
        if self.edges != "cooccurrence":
            raise ValueError("set_edge_weights needs edges='cooccurrence'")
        if not self.built:
            self.build()
        self.edge_weights.assign(tf.cast(matrix, tf.float32))

    def _gru(self, m, h):
        dt = self.compute_dtype
        x = tf.matmul(m, tf.cast(self.gru_kernel, dt)) + tf.cast(self.gru_bias, dt)
        r_x = tf.matmul(h, tf.cast(self.gru_recurrent, dt))
        xz, xr, xh = tf.split(x, 3, axis=-1)
        rz, rr, rh = tf.split(r_x, 3, axis=-1)
        z = tf.sigmoid(xz + rz)
        r = tf.sigmoid(xr + rr)
        candidate = tf.tanh(xh + r * rh)
        return (1.0 - z) * h + z * candidate

    def call(self, h, cats, mask):
        dt = self.compute_dtype
        h = tf.cast(h, dt)
        cats = tf.cast(cats, tf.int32)
        node_mask = tf.cast(mask, dt)[..., None]
        w_out = tf.cast(gather(self.w_out, cats), dt)  # [B, N, H, H]
        b_out = tf.cast(gather(self.b_out, cats), dt)
        w_in = tf.cast(gather(self.w_in, cats), dt)
        b_in = tf.cast(gather(self.b_in, cats), dt)
        if self.edges == "cooccurrence":
            pair = tf.stack([tf.tile(cats[:, :, None], [1, 1, tf.shape(cats)[1]]),
                             tf.tile(cats[:, None, :], [1, tf.shape(cats)[1], 1])], axis=-1)
            adjacency = tf.cast(tf.gather_nd(self.edge_weights, pair), dt)
            n = tf.shape(cats)[1]
            off_diagonal = 1.0 - tf.eye(n, dtype=dt)
            adjacency = adjacency * off_diagonal * node_mask * tf.transpose(node_mask, [0, 2, 1])
        for _ in range(self.steps):  # unrolled once when the graph is built
            out = (tf.reduce_sum(h[..., None] * w_out, axis=-2) + b_out) * node_mask
            if self.edges == "binary":
                incoming = tf.reduce_sum(out, axis=1, keepdims=True) - out
            else:
                incoming = tf.einsum("bij,bjh->bih", adjacency, out)
            message = tf.reduce_sum(incoming[..., None] * w_in, axis=-2) + b_in
            h = self._gru(message, h) * node_mask
        return h

    def get_config(self):
        config = super(NodeWiseGGNN, self).get_config()
        config.update(num_categories=self.num_categories, units=self.units, steps=self.steps,
                      edges=self.edges)
        return config


@register_serializable()
class OutfitReadout(keras.layers.Layer):
    """Outfit score = sum over real nodes of sigmoid(w_conf . h_i) * leaky_relu(w_score . h_i).

    ``reduce="mean"`` divides by the number of real nodes. Why it matters: training pairs
    always compare outfits of one size, so a SUM readout never learns to compare outfits of
    different sizes, and its scores grow with the size; a compatibility AUC over outfits of
    3-8 items then partly ranks by size. The paper (and default) is ``sum``.

    Shapes: h [B, N, H], mask [B, N] -> float32 [B].
    """

    def __init__(self, units, reduce="sum", **kwargs):
        super(OutfitReadout, self).__init__(**kwargs)
        if reduce not in ("sum", "mean"):
            raise ValueError("reduce ({!r}) must be 'sum' or 'mean'".format(reduce))
        self.units = int(units)
        self.reduce = reduce

    def build(self, input_shape=None):
        glorot = keras.initializers.GlorotUniform()
        self.w_conf = add_weight(self, "w_conf", (self.units, 1), glorot)
        self.b_conf = add_weight(self, "b_conf", (1,), "zeros")
        self.w_score = add_weight(self, "w_score", (self.units, 1), glorot)
        self.b_score = add_weight(self, "b_score", (1,), "zeros")
        self.built = True

    def call(self, h, mask):
        dt = self.compute_dtype
        h = tf.cast(h, dt)
        conf = tf.sigmoid(tf.matmul(h, tf.cast(self.w_conf, dt)) + tf.cast(self.b_conf, dt))
        score = tf.nn.leaky_relu(tf.matmul(h, tf.cast(self.w_score, dt))
                                 + tf.cast(self.b_score, dt))
        per_node = tf.cast(tf.squeeze(conf * score, -1), tf.float32)
        mask = tf.cast(mask, tf.float32)
        total = tf.reduce_sum(per_node * mask, axis=1)
        if self.reduce == "mean":
            total = total / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        return total

    def get_config(self):
        config = super(OutfitReadout, self).get_config()
        config.update(units=self.units, reduce=self.reduce)
        return config


@register_serializable()
class CategoryPairs(keras.layers.Layer):
    """Outfit score term from the categories alone: the mean over item pairs of a learned,
    symmetric category-compatibility table ``P[c_i, c_j]`` (the diagonal scores a category
    that appears twice).

    Why: NGNN's node-wise weights say how each category transforms its item, but nothing in
    the paper's model scores WHICH categories go together; a count table of co-occurrences
    (the category co-occurrence rule) beats it on that alone. This term lets the graph over
    categories learn it directly (C x C weights, zeros at first, so training starts from the
    paper's model). Shapes: cats [B, N] int, mask [B, N] -> float32 [B].
    """

    def __init__(self, num_categories, **kwargs):
        super(CategoryPairs, self).__init__(**kwargs)
        self.num_categories = int(num_categories)

    def build(self, input_shape=None):
        self.table = add_weight(self, "table", (self.num_categories, self.num_categories),
                                "zeros", autocast=False)
        self.built = True

    def call(self, cats, mask):
        table = 0.5 * (self.table + tf.transpose(self.table))
        cats = tf.cast(cats, tf.int32)
        rows = tf.gather(table, cats)  # [B, N, C]
        pair = tf.gather(rows, cats, axis=2, batch_dims=1)  # [B, N, N]
        mask = tf.cast(mask, tf.float32)
        n = tf.shape(cats)[1]
        valid = mask[:, :, None] * mask[:, None, :] * (1.0 - tf.eye(n, dtype=tf.float32))
        count = tf.maximum(tf.reduce_sum(valid, axis=[1, 2]), 1.0)
        return tf.reduce_sum(pair * valid, axis=[1, 2]) / count

    def get_config(self):
        config = super(CategoryPairs, self).get_config()
        config.update(num_categories=self.num_categories)
        return config


class CooccurrencePrior(keras.layers.Layer):
    """Outfit score term that starts as the category co-occurrence rule and learns to refine it.

    Three statistics of the TRAINING outfits' categories, each with a learned weight:

    * the rule itself: mean over item pairs of ``log(1 + count[c_i, c_j])`` (weight 1 at first,
      so the model starts exactly as the rule scores);
    * the mean over pairs of the smoothed pointwise mutual information
      ``log(p(c_i, c_j) / (p(c_i) p(c_j)))`` (weight 0 at first);
    * the mean over items of ``log(1 + frequency[c_i])`` (weight 0 at first).

    The rule's log-count mixes "these categories are common" with "these two go together"; a
    learned mix of the last two separates them (on the real outfit lists, PMI + frequency
    alone reaches FITB 0.70 where the rule reaches 0.66). ``counts`` [C, C], ``frequency`` [C]
    (training outfits with the category) and ``outfits`` (their number) are non-trainable
    weights set with :meth:`set_counts` and saved with the model, so serving scores as
    training did.

    Why: on real outfit lists which categories go together is a strong signal that a count
    table captures better than NGNN's per-category weights learn it from a few thousand
    outfits (the rule beat the model on compat AUC). Starting from the rule and learning only
    what the item features add keeps the model from falling below it when data is scarce, the
    way DIN's popularity input did for DIN.

    Leave one out: a training outfit's own pairs are in the tables, so scoring it with them
    says "seen" for every pair of every positive, which no test outfit gets; the weights would
    learn to trust the tables too much. ``own`` ([B, C] counts of the categories of the
    training outfit a row comes from) is taken off every statistic (``own[c_i] * own[c_j]``
    from a pair's count, ``own[c] * (own[c] - 1)`` for two items of one category,
    ``own[c_i]`` from a frequency, one from ``outfits``).

    Shapes: cats [B, N] int, mask [B, N], own [B, C] or None -> float32 [B].
    """

    def __init__(self, num_categories, **kwargs):
        super(CooccurrencePrior, self).__init__(**kwargs)
        self.num_categories = int(num_categories)

    def build(self, input_shape=None):
        c = self.num_categories
        self.counts = add_weight(self, "counts", (c, c), "zeros", trainable=False,
                                 autocast=False)
        self.frequency = add_weight(self, "frequency", (c,), "zeros", trainable=False,
                                    autocast=False)
        self.outfits = add_weight(self, "outfits", (), "ones", trainable=False, autocast=False)
        self.mix = add_weight(self, "mix", (3,), keras.initializers.Constant([1.0, 0.0, 0.0]),
                              autocast=False)
        self.built = True

    def set_counts(self, counts, frequency, outfits):
        """The training outfits' co-occurrence counts [C, C] (diagonal: a repeated category),
        how many contain each category [C], and how many there are.

        Args:
          counts: [C, C] co-occurrence counts.
          frequency: [C] training outfits containing each category.
          outfits: the number of training outfits.
        """
        if not self.built:
            self.build()
        self.counts.assign(tf.cast(counts, tf.float32))
        self.frequency.assign(tf.cast(frequency, tf.float32))
        self.outfits.assign(tf.cast(max(float(outfits), 1.0), tf.float32))

    def call(self, cats, mask, own=None):
        cats = tf.cast(cats, tf.int32)
        rows = tf.gather(self.counts, cats)  # [B, N, C]
        pair = tf.gather(rows, cats, axis=2, batch_dims=1)  # [B, N, N]
        freq = tf.gather(self.frequency, cats)  # [B, N]
        total = self.outfits
        if own is not None:
            own_node = tf.gather(tf.cast(own, tf.float32), cats, axis=1, batch_dims=1)
            # the outfit's own ordered pairs of distinct slots: n_i * n_j, n * (n - 1) when
            # both slots hold one category (the counts' diagonal)
            same = tf.cast(tf.equal(cats[:, :, None], cats[:, None, :]), tf.float32)
            own_pairs = own_node[:, :, None] * (own_node[:, None, :] - same)
            pair = tf.maximum(pair - own_pairs, 0.0)
            freq = tf.maximum(freq - tf.minimum(own_node, 1.0), 0.0)  # outfits holding c
            total = tf.maximum(total - 1.0, 1.0)
        mask = tf.cast(mask, tf.float32)
        n = tf.shape(cats)[1]
        valid = mask[:, :, None] * mask[:, None, :] * (1.0 - tf.eye(n, dtype=tf.float32))
        pairs = tf.maximum(tf.reduce_sum(valid, axis=[1, 2]), 1.0)
        p = (freq + 1.0) / (total + float(self.num_categories))  # smoothed p(c)
        joint = (pair + p[:, :, None] * p[:, None, :]) / total
        pmi = tf.math.log(joint) - tf.math.log(p)[:, :, None] - tf.math.log(p)[:, None, :]
        rule = tf.reduce_sum(tf.math.log1p(pair) * valid, axis=[1, 2]) / pairs
        association = tf.reduce_sum(pmi * valid, axis=[1, 2]) / pairs
        common = tf.reduce_sum(tf.math.log1p(freq) * mask, axis=1) / tf.maximum(
            tf.reduce_sum(mask, axis=1), 1.0)
        return self.mix[0] * rule + self.mix[1] * association + self.mix[2] * common

    def get_config(self):
        config = super(CooccurrencePrior, self).get_config()
        config.update(num_categories=self.num_categories)
        return config


def category_counts(cats, mask, num_categories):
    """[B, C] how many times each category occurs in each outfit (padding not counted).

    Args:
      cats: [B, N] category ids.
      mask: [B, N] 1 for a real node.
      num_categories: C.

    Returns:
      [B, C] float32 counts.
    """
    onehot = tf.one_hot(tf.cast(cats, tf.int32), num_categories, dtype=tf.float32)
    return tf.reduce_sum(onehot * tf.cast(mask, tf.float32)[..., None], axis=1)
