"""Keras layers of DIN (Zhou et al., KDD 2018): :class:`Dice` and :class:`LocalActivationUnit`.

All layers are policy-correct: variables are float32, computation runs in ``compute_dtype``
and scores leave in float32. Keras 2/3 differences go through :mod:`core.compat`.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from models import replicas as replicas_lib
from core.compat import add_weight, keras, policy_of, register_serializable


@register_serializable()
class Dice(keras.layers.Layer):
    """Dice activation (DIN paper, eq. 9), data-adaptive PReLU.

        p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)),  out = p * s + (1 - p) * alpha * s

    Batch statistics while training, running averages (``momentum``) at inference; ``training``
    must be threaded through. ``alpha`` and the statistics are float32 whatever the policy.
    With several replicas (tf.distribute or NPU ranks, :mod:`models.replicas`) the batch
    statistics are those of the global batch (synchronised like SyncBatchNormalization: two
    small all-reduces per call).
    """

    def __init__(self, epsilon=1e-8, momentum=0.99, **kwargs):
        super(Dice, self).__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)

    def build(self, input_shape):
        units = int(input_shape[-1])
        # float32 and never autocast: statistics and alpha stay exact under mixed policies
        self.alpha = add_weight(self, "alpha", (units,), "zeros", autocast=False)
        self.moving_mean = add_weight(self, "moving_mean", (units,), "zeros", trainable=False,
                                      autocast=False)
        self.moving_variance = add_weight(self, "moving_variance", (units,), "ones",
                                          trainable=False, autocast=False)
        self.built = True

    def call(self, inputs, training=False):
        x = tf.cast(inputs, tf.float32)
        axes = list(range(len(x.shape) - 1))
        if training:
            mean, variance = self._batch_moments(x, axes)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
            self.moving_variance.assign(self.momentum * self.moving_variance
                                        + (1 - self.momentum) * variance)
        else:
            mean, variance = tf.convert_to_tensor(self.moving_mean), tf.convert_to_tensor(
                self.moving_variance)
        p = tf.sigmoid((x - mean) / tf.sqrt(variance + self.epsilon))
        alpha = tf.cast(self.alpha, tf.float32)
        return tf.cast(p * x + (1.0 - p) * alpha * x, inputs.dtype)

    @staticmethod
    def _batch_moments(x, axes):
        replicas = replicas_lib.count()
        if replicas == 1:
            return tf.nn.moments(x, axes=axes)
        # every replica has the same static batch shape (drop_remainder), so the global count
        # needs no collective; two-pass like tf.nn.moments for the same rounding behaviour
        count = float(replicas)
        for axis in axes:
            count *= int(x.shape[axis])
        mean = replicas_lib.total(tf.reduce_sum(x, axis=axes)) / count
        centred = tf.square(x - tf.stop_gradient(mean))
        variance = replicas_lib.total(tf.reduce_sum(centred, axis=axes)) / count
        return mean, variance

    def get_config(self):
        config = super(Dice, self).get_config()
        config.update(epsilon=self.epsilon, momentum=self.momentum)
        return config


def make_activation(name, dtype=None):
    """``dice`` or ``prelu`` (DIN's two options) or any Keras activation name.

    Args:
      name: ``dice``, ``prelu`` or a Keras activation name.
      dtype: the dtype policy of the layer (the caller's).

    Returns:
      A Keras layer.
    """
    if name == "dice":
        return Dice(dtype=dtype)
    if name == "prelu":
        return keras.layers.PReLU(dtype=dtype)
    return keras.layers.Activation(name, dtype=dtype)


@register_serializable()
class LocalActivationUnit(keras.layers.Layer):
    """DIN's attention: a weight per history position from [q, k, q - k, q * k] through an MLP.

    Masked positions weigh exactly 0. By default the weights are NOT softmax-normalised (the
    paper: keep the intensity of the user's interest); ``softmax=True`` normalises over the real
    positions (in float32; an empty history gives all-zero weights, never NaN).

    ``packed=True`` (CPU/GPU) runs the MLP on the REAL positions only, gathered into one
    [positions, D] matrix, and scatters their logits back: the same weights (each position's
    MLP is independent of the others), without the padding's share of the unit's work (about
    half of it when history lengths spread evenly up to L). Its matrices have data-dependent
    sizes, so ``packed=False`` (NPU: static shapes) scores every position. Only a unit with a
    plain activation (the default sigmoid) is packed: with ``dice`` the MLP is not
    position-wise (Dice normalises by batch statistics, which the padding enters), and Keras'
    ``prelu`` learns a slope per slot (its weights have the [L, units] shape).

    Shapes: query [B, D], keys [B, L, D], mask [B, L] -> weights [B, L] (float32).
    """

    def __init__(self, units=(80, 40), activation="sigmoid", softmax=False, packed=False,
                 **kwargs):
        super(LocalActivationUnit, self).__init__(**kwargs)
        self.units = tuple(int(u) for u in units)
        self.activation = activation
        self.softmax = bool(softmax)
        self.packed = bool(packed) and activation not in ("dice", "prelu")
        # Sublayers are attributes, not a list: Keras 3 keeps lists in its own tracker, which
        # tf.train.Checkpoint does not see (their weights would silently not be saved).
        names = []
        for i, u in enumerate(self.units):
            setattr(self, "dense_%d" % i, keras.layers.Dense(u, name="dense_%d" % i,
                                                             dtype=policy_of(self)))
            setattr(self, "activation_%d" % i, make_activation(activation, policy_of(self)))
            names += ["dense_%d" % i, "activation_%d" % i]
        self._hidden_names = tuple(names)
        self.out = keras.layers.Dense(1, name="weight", dtype=policy_of(self))

    @property
    def hidden(self):
        """The unit's hidden Dense layers in order (attributes, so that checkpoints track them)."""
        return [getattr(self, name) for name in self._hidden_names]

    def build(self, input_shape=None):
        self.built = True

    def _first_layer(self, q, keys, positions=None):
        """``Dense([q, k, q - k, q * k])`` without building the [B, L, 4D] input.

        With W = [W_q; W_k; W_d; W_p]: q W_q + k W_k + (q - k) W_d + (q * k) W_p
        = q (W_q + W_d) + k (W_k - W_d) + (q * k) W_p. The q term is computed once per row
        instead of once per history position: half the first layer's FLOPs, same result.
        ``positions`` [n, 2] (row, slot): only those, as [n, units]; else [B, L, units].
        """
        dense = self.hidden[0]
        dim = keys.shape[-1]
        if not dense.built:
            dense.build((None, 4 * dim))
        dt = self.compute_dtype
        w_q, w_k, w_d, w_p = tf.split(tf.cast(dense.kernel, dt), 4, axis=0)
        per_row = tf.matmul(q, w_q + w_d) + tf.cast(dense.bias, dt)
        # [k, q * k] against [W_k - W_d; W_p]: one matmul of depth 2D over all positions
        # (faster than two einsums of depth D and their sum, forward and backward:
        # docs/performance.md, "Figures behind design choices")
        pair_kernel = tf.concat([w_k - w_d, w_p], axis=0)
        if positions is not None:
            k = tf.gather_nd(keys, positions)
            pairs = tf.concat([k, tf.gather(q, positions[:, 0]) * k], axis=-1)
            return tf.matmul(pairs, pair_kernel) + tf.gather(per_row, positions[:, 0])
        length = keys.shape[1] or tf.shape(keys)[1]
        pairs = tf.reshape(tf.concat([keys, q[:, None, :] * keys], axis=-1), [-1, 2 * dim])
        per_position = tf.matmul(pairs, pair_kernel)
        per_position = tf.reshape(per_position, tf.stack([tf.shape(keys)[0], length, -1]))
        return per_position + per_row[:, None, :]

    def call(self, query, keys, mask, training=False):
        dt = self.compute_dtype
        keys = tf.cast(keys, dt)
        mask = tf.cast(mask, tf.float32)
        positions = tf.where(mask > 0) if self.packed else None  # [n, 2] (row, slot)
        x = self._first_layer(tf.cast(query, dt), keys, positions)
        for layer in self.hidden[1:]:
            x = layer(x, training=training) if isinstance(layer, Dice) else layer(x)
        logits = tf.cast(tf.squeeze(self.out(x), -1), tf.float32)
        if positions is not None:  # padding positions: logit 0, as 0 * logit below gives
            logits = tf.scatter_nd(positions, logits, tf.shape(mask, out_type=tf.int64))
        if self.softmax:
            logits = tf.where(mask > 0, logits, tf.fill(tf.shape(logits), -1e9))
            return tf.nn.softmax(logits, axis=-1) * mask
        return logits * mask

    def get_config(self):
        config = super(LocalActivationUnit, self).get_config()
        config.update(units=list(self.units), activation=self.activation, softmax=self.softmax,
                      packed=self.packed)
        return config
