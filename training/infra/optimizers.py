"""Optimizers by name, and the fused / lazy Keras 3 updates that make them fast.

Why a module of its own: these are training-speed choices (one XLA call for every dense update,
row-wise RMSprop for tables gathered by id), not Keras 2/3 differences, so they live with the
training loop; :mod:`core.compat` keeps only the version differences.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from core import compat


def make_optimizer(name, learning_rate, clipnorm=None):
    """Build a plain Keras optimizer by name with optional global-norm clipping.

    Clipping lives in the optimizer (``global_clipnorm``) because only there does it act on
    UNSCALED gradients in both Keras versions.

    Args:
      name: ``adam``, ``rmsprop``, ``sgd`` or ``adagrad``.
      learning_rate: the learning rate.
      clipnorm: global-norm clipping, or None.

    Returns:
      A Keras optimizer (the fused / lazy subclass under Keras 3).

    Raises:
      ValueError: an unknown name.
    """
    name = name.lower()
    classes = {
        "adam": compat.keras.optimizers.Adam,
        "rmsprop": compat.keras.optimizers.RMSprop,
        "sgd": compat.keras.optimizers.SGD,
        "adagrad": compat.keras.optimizers.Adagrad,
    }
    if name not in classes:
        raise ValueError(
            "optimizer ({!r}) must be one of {}".format(name, ", ".join(sorted(classes)))
        )
    if compat.IS_KERAS3 and name in _LAZY:
        classes[name] = _LAZY[name]
    kwargs = {"learning_rate": learning_rate}
    if clipnorm:
        kwargs["global_clipnorm"] = float(clipnorm)
    return classes[name](**kwargs)


def _dedupe(gradient):
    """Sum the rows of an IndexedSlices gradient that share an index."""
    unique, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(unique)[0])
    return unique, values


@tf.function(jit_compile=True, autograph=False)
def dense_rmsprop(variables, velocities, gradients, learning_rate, rho, epsilon):
    """Keras 3's dense RMSprop step (same formula) for a list of variables, compiled by XLA
    into one call: no full-size temporaries between the velocity and the weight update, and
    one dispatch for all of them instead of one per variable (NGNN has ~15 dense ones)."""
    for variable, velocity, gradient in zip(variables, velocities, gradients):
        new_velocity = rho * velocity + (1.0 - rho) * tf.square(gradient)
        velocity.assign(new_velocity)
        variable.assign_sub(learning_rate * gradient / tf.sqrt(new_velocity + epsilon))


@tf.function(jit_compile=True, autograph=False)
def dense_adam(variables, momentums, velocities, gradients, alpha, beta_1, beta_2, epsilon):
    """Keras 3's Adam step (same formulas; ``alpha`` = lr * sqrt(1 - b2^t) / (1 - b1^t)) for a
    list of variables in one XLA call: one pass over each table instead of ~10 unfused ops.

    Same results as Keras 3 also for a sparse gradient with repeated rows: Keras 3 squares
    its values BEFORE summing the repeats (v moves by sum(g_i^2), not (sum g_i)^2; Keras 2
    and TF's dense Adam square the sum), and this keeps that behaviour (:func:`_densify`).
    """
    for variable, m, v, gradient in zip(variables, momentums, velocities, gradients):
        gradient, squared = _densify(gradient, variable)
        new_m = m + (gradient - m) * (1.0 - beta_1)
        new_v = v + (squared - v) * (1.0 - beta_2)
        m.assign(new_m)
        v.assign(new_v)
        variable.assign_sub((new_m * alpha) / (tf.sqrt(new_v) + epsilon))


def _sparse_parts(gradient, dtype):
    """A gradient for :func:`dense_adam`: an IndexedSlices of static shape as ("rows",
    indices, values), summed inside the compiled update (XLA's scatter-add is several times
    faster on CPU than TF's single-threaded unsorted segment sum, which Keras 3 runs at each
    use of the gradient); anything else as ("dense", gradient, its square as Keras 3 takes
    it)."""
    if isinstance(gradient, tf.IndexedSlices):
        values = tf.cast(gradient.values, dtype)
        if values.shape.is_fully_defined():
            return ("rows", gradient.indices, values)
        return ("dense", tf.convert_to_tensor(tf.IndexedSlices(values, gradient.indices,
                                                               gradient.dense_shape)),
                tf.convert_to_tensor(tf.IndexedSlices(tf.square(values), gradient.indices,
                                                      gradient.dense_shape)))
    gradient = tf.cast(gradient, dtype)
    return ("dense", gradient, tf.square(gradient))


def _densify(gradient, variable):
    """(gradient, squared gradient) as dense tensors, from :func:`_sparse_parts`."""
    kind, first, second = gradient
    if kind == "rows":
        rows = variable.shape[0]
        return (tf.math.unsorted_segment_sum(second, first, rows),
                tf.math.unsorted_segment_sum(tf.square(second), first, rows))
    return first, second


def _plain_variables(variables):
    """True when every variable is a plain (not distributed) one: the compiled updates write
    variables directly, which is only right without tf.distribute's mirroring."""
    return tf.distribute.get_strategy().num_replicas_in_sync == 1 and not any(
        isinstance(compat.tf_variable(v), tf.distribute.DistributedValues) for v in variables)


def _lazy_optimizers():
    """Keras 3 RMSprop that updates only the rows present in a sparse gradient.

    Keras 3 densifies an IndexedSlices gradient (e.g. of an embedding-like table gathered by
    id) and then updates every row: for NGNN's 4M-weight text table that is most of a batch-16
    step. The RMSprop subclass updates the touched rows only ("lazy", like TF1's sparse apply
    and TF Addons' LazyAdam): rows absent from a batch keep their slots unchanged instead of
    decaying; with RMSprop (no momentum) an absent row's weights do not move either way.
    All dense gradients take ONE XLA-compiled update (:func:`dense_rmsprop`).
    Adam stays dense (a lazy Adam measurably hurt DIN's test AUC, since momentum keeps moving
    absent rows; docs/performance.md, "Figures behind design choices") but fused
    (:func:`dense_adam`).
    Both apply only to plain variables on one replica; under tf.distribute Keras' own update
    runs. Keras 2 optimizers apply IndexedSlices sparsely themselves, with TF's fused kernels.
    """

    def lazy_rmsprop(self, grads, trainable_variables, learning_rate):
        """RMSprop: rows of a sparse gradient updated alone, dense ones in one XLA call."""
        if self.momentum > 0 or self.centered or not _plain_variables(trainable_variables):
            return NotImplemented
        dense = ([], [], [])
        for gradient, variable in zip(grads, trainable_variables):
            variable = compat.tf_variable(variable)
            if isinstance(gradient, tf.IndexedSlices):
                _update_rows(self, gradient, variable, learning_rate)
                continue
            dense[0].append(variable)
            dense[1].append(compat.tf_variable(compat.optimizer_slot(self, variable,
                                                                     "velocity")))
            dense[2].append(tf.cast(gradient, variable.dtype))
        if dense[0]:
            dtype = dense[0][0].dtype
            dense_rmsprop(list(dense[0]), list(dense[1]), list(dense[2]),
                          tf.cast(learning_rate, dtype), tf.constant(self.rho, dtype),
                          tf.constant(self.epsilon, dtype))
        return None

    def _update_rows(self, gradient, variable, learning_rate):
        rows, grad = _dedupe(gradient)
        grad = tf.cast(grad, variable.dtype)
        lr = tf.cast(learning_rate, variable.dtype)
        velocity = compat.optimizer_slot(self, variable, "velocity")
        new_v = self.rho * tf.gather(velocity.value, rows) + (1 - self.rho) * tf.square(grad)
        self.assign(velocity, tf.IndexedSlices(new_v, rows))
        step = lr * grad / tf.sqrt(new_v + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step, rows))

    def fused_adam(self, grads, trainable_variables, learning_rate):
        """Dense Adam as above, all variables in one XLA call. Why: Keras 3's Adam converts
        an IndexedSlices gradient to a dense tensor at EACH use (twice per variable, an
        unsorted segment sum over every gathered row each time: over a third of DIN's op time
        per step; BENCHMARKS.md) and runs ~10 separate full-table ops per variable."""
        if self.amsgrad or not _plain_variables(trainable_variables):
            return NotImplemented
        variables = [compat.tf_variable(v) for v in trainable_variables]
        dtype = variables[0].dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.constant(self.beta_1, dtype)
        beta_2 = tf.constant(self.beta_2, dtype)
        alpha = (tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step))
                 / (1 - tf.pow(beta_1, step)))
        dense_adam(variables,
                   [compat.tf_variable(compat.optimizer_slot(self, v, "momentum"))
                    for v in variables],
                   [compat.tf_variable(compat.optimizer_slot(self, v, "velocity"))
                    for v in variables],
                   [_sparse_parts(g, dtype) for g in grads],
                   alpha, beta_1, beta_2, tf.constant(self.epsilon, dtype))
        return None

    return {"rmsprop": compat.with_update_step(compat.keras.optimizers.RMSprop, lazy_rmsprop,
                                               "LazyRMSprop"),
            "adam": compat.with_update_step(compat.keras.optimizers.Adam, fused_adam,
                                            "FusedAdam")}


_LAZY = _lazy_optimizers() if compat.IS_KERAS3 else {}
