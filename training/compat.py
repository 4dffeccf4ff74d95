"""The ONLY module that knows the differences between Keras 2 and Keras 3.

Why this exists: Huawei's ``npu_device`` is built for TensorFlow 2.6.5 with Keras 2.6 on
Python 3.7-3.9, while current TensorFlow ships Keras 3 (and Keras 2 as ``tf_keras`` when
``TF_USE_LEGACY_KERAS=1``). Everything else in npurec imports ``keras`` from here and calls the
helpers below, so a Keras difference is fixed in one place.

The differences handled here:

* loss scaling: Keras 2 ``LossScaleOptimizer.get_scaled_loss`` / ``get_unscaled_gradients``,
  then ``apply_gradients`` skips non-finite steps; Keras 3 ``scale_loss`` only, and ``apply``
  unscales and skips non-finite steps itself (unscaling twice would be a silent bug);
* the current loss scale variable (``loss_scale`` vs ``dynamic_scale``);
* building optimizer slots before a checkpoint restore (``build`` vs ``_create_all_weights``);
* the global dtype policy and serialisation registration;
* gathering rows of a variable (:func:`gather`): Keras 3 variables are not TF resource
  variables, so ``tf.gather`` on one reads the whole variable first.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

IS_KERAS3 = hasattr(tf.keras, "ops")

if IS_KERAS3:
    # tf.keras is a compatibility namespace of Keras 3; use the package itself.
    import keras  # pylint: disable=wrong-import-position
else:
    keras = tf.keras  # tf_keras (TF_USE_LEGACY_KERAS=1) or TF <= 2.15's Keras 2


def keras_version():
    """Version string of the Keras in use (``keras.version()`` / ``__version__``)."""
    if IS_KERAS3:
        return keras.version()
    try:  # tf_keras (TF >= 2.16 with TF_USE_LEGACY_KERAS=1)
        import tf_keras

        return tf_keras.__version__
    except ImportError:  # TF 2.6-2.15: Keras 2 bundled as tensorflow.keras / keras
        import keras as _k

        return getattr(_k, "__version__", "unknown")


def set_global_policy(name):
    """Set the global dtype policy (``float32``, ``mixed_float16``, ``mixed_bfloat16``)."""
    keras.mixed_precision.set_global_policy(name)


def policy_of(layer):
    """``layer``'s dtype policy, to hand to the sublayers it creates: otherwise they take the
    GLOBAL policy, and a model built with ``dtype="mixed_float16"`` under a float32 global
    policy would compute only its own ops in float16."""
    policy = getattr(layer, "dtype_policy", None)
    return policy if policy is not None else layer._dtype_policy  # pylint: disable=protected-access


def global_policy_name():
    return keras.mixed_precision.global_policy().name


def register_serializable(package="npurec"):
    """Decorator registering a layer/model class for ``get_config``/``from_config`` loading."""
    if IS_KERAS3:
        return keras.saving.register_keras_serializable(package=package)
    return keras.utils.register_keras_serializable(package=package)


def loss_scale_optimizer(optimizer, dynamic=True, initial_scale=2.0 ** 15):
    """Wrap ``optimizer`` in Keras' dynamic loss-scale optimizer."""
    if IS_KERAS3:
        return keras.mixed_precision.LossScaleOptimizer(optimizer, initial_scale=initial_scale)
    return keras.mixed_precision.LossScaleOptimizer(
        optimizer, dynamic=dynamic, initial_scale=initial_scale
    )


def is_loss_scale_optimizer(optimizer):
    """True for Keras' (or NPU's, a subclass in Keras 2) loss-scale optimizer."""
    return isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer) or hasattr(
        optimizer, "get_scaled_loss"
    )


def scale_loss(optimizer, loss):
    """Multiply ``loss`` by the current loss scale (identity without loss scaling)."""
    if not is_loss_scale_optimizer(optimizer):
        return loss
    if IS_KERAS3:
        return optimizer.scale_loss(loss)
    return optimizer.get_scaled_loss(loss)


def apply_gradients(optimizer, grads, variables):
    """Apply ``grads`` (of a loss that went through :func:`scale_loss`).

    Keras 2 needs the gradients unscaled here; Keras 3's ``apply`` unscales and skips a
    non-finite step itself. In both, a step whose gradients are not finite is skipped and the
    dynamic loss scale halves.
    """
    if is_loss_scale_optimizer(optimizer) and not IS_KERAS3:
        grads = optimizer.get_unscaled_gradients(grads)
    optimizer.apply_gradients(zip(grads, variables))


def current_loss_scale(optimizer):
    """The current dynamic loss scale as a float32 tensor, or None without loss scaling."""
    if not is_loss_scale_optimizer(optimizer):
        return None
    if IS_KERAS3:
        return tf.convert_to_tensor(optimizer.dynamic_scale)
    return tf.convert_to_tensor(optimizer.loss_scale)


def build_optimizer(optimizer, variables):
    """Create the optimizer's slot variables now, so that a checkpoint restores them eagerly.

    Keras 3 and the Keras 2.11+ optimizer have ``build``; TF 2.6's OptimizerV2 has
    ``_create_all_weights`` (and restores deferred slots on first use anyway).
    """
    variables = list(variables)
    if hasattr(optimizer, "build") and not hasattr(optimizer, "_create_all_weights"):
        optimizer.build(variables)
    elif hasattr(optimizer, "_create_all_weights"):
        optimizer._create_all_weights(variables)  # pylint: disable=protected-access


def make_optimizer(name, learning_rate, clipnorm=None):
    """Build a plain Keras optimizer by name with optional global-norm clipping.

    Clipping lives in the optimizer (``global_clipnorm``) because only there does it act on
    UNSCALED gradients in both Keras versions.
    """
    name = name.lower()
    classes = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
        "adagrad": keras.optimizers.Adagrad,
    }
    if name not in classes:
        raise ValueError(
            "optimizer ({!r}) must be one of {}".format(name, ", ".join(sorted(classes)))
        )
    if IS_KERAS3 and name in _LAZY:
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


@tf.function(jit_compile=True)
def _dense_rmsprop(variables, velocities, gradients, learning_rate, rho, epsilon):
    """Keras 3's dense RMSprop step (same formula) for a list of variables, compiled by XLA
    into one call: no full-size temporaries between the velocity and the weight update, and
    one dispatch for all of them instead of one per variable (NGNN has ~15 dense ones)."""
    for variable, velocity, gradient in zip(variables, velocities, gradients):
        new_velocity = rho * velocity + (1.0 - rho) * tf.square(gradient)
        velocity.assign(new_velocity)
        variable.assign_sub(learning_rate * gradient / tf.sqrt(new_velocity + epsilon))


@tf.function(jit_compile=True)
def _dense_adam(variables, momentums, velocities, gradients, alpha, beta_1, beta_2, epsilon):
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
    """A gradient for :func:`_dense_adam`: an IndexedSlices of static shape as ("rows",
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
        isinstance(_tf_variable(v), tf.distribute.DistributedValues) for v in variables)


def gather(variable, indices, axis=0):
    """Rows of a variable, read by TF's resource gather (``ResourceGather``) op.

    Why: ``tf.gather`` on a Keras 3 variable first converts the WHOLE variable to a tensor
    (``ReadVariableOp``), and once a variable has been updated sparsely (the lazy RMSprop's
    scatter updates) TF copies it on every such read to keep the read safe from later
    scatters: for NGNN's 4M-weight text table that copy was 14 ms of a 43 ms batch-16 step
    (profiled).
    The resource gather reads only the rows asked for, and its gradient is the same
    IndexedSlices. Keras 2 variables are resource variables already (``tf.gather`` calls
    their ``sparse_read``); Keras 2's AutoCastVariable casts after the gather.
    """
    if IS_KERAS3 and isinstance(variable, keras.Variable):
        inner = getattr(variable, "_value", None)  # `.value` may be an autocast copy
        if isinstance(inner, tf.Variable):
            return tf.gather(inner, indices, axis=axis)
    return tf.gather(variable, indices, axis=axis)


def _tf_variable(variable):
    """The tf.Variable behind a Keras 3 variable (Keras 3 also accepts plain tf.Variables)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _lazy_optimizers():
    """Keras 3 RMSprop that updates only the rows present in a sparse gradient.

    Keras 3 densifies an IndexedSlices gradient (e.g. of an embedding-like table gathered by
    id) and then updates every row: for NGNN's 4M-weight text table that is most of a batch-16
    step. The RMSprop subclass updates the touched rows only ("lazy", like TF1's sparse apply
    and TF Addons' LazyAdam): rows absent from a batch keep their slots unchanged instead of
    decaying; with RMSprop (no momentum) an absent row's weights do not move either way.
    All dense gradients take ONE XLA-compiled update (:func:`_dense_rmsprop`).
    Adam stays dense (a lazy Adam measurably hurt DIN: embedded default test AUC 0.938 ->
    0.915, since momentum keeps moving absent rows) but fused (:func:`_dense_adam`).
    Both apply only to plain variables on one replica; under tf.distribute Keras' own update
    runs. Keras 2 optimizers apply IndexedSlices sparsely themselves, with TF's fused kernels.
    """

    class LazyRMSprop(keras.optimizers.RMSprop):
        def _backend_update_step(self, grads, trainable_variables, learning_rate):
            if self.momentum > 0 or self.centered or not _plain_variables(trainable_variables):
                return super(LazyRMSprop, self)._backend_update_step(
                    grads, trainable_variables, learning_rate)
            dense = ([], [], [])
            for gradient, variable in zip(grads, trainable_variables):
                variable = _tf_variable(variable)
                if isinstance(gradient, tf.IndexedSlices):
                    self._update_rows(gradient, variable, learning_rate)
                    continue
                velocity = self._velocities[self._get_variable_index(variable)]
                dense[0].append(variable)
                dense[1].append(_tf_variable(velocity))
                dense[2].append(tf.cast(gradient, variable.dtype))
            if dense[0]:
                dtype = dense[0][0].dtype
                _dense_rmsprop(list(dense[0]), list(dense[1]), list(dense[2]),
                               tf.cast(learning_rate, dtype), tf.constant(self.rho, dtype),
                               tf.constant(self.epsilon, dtype))

        def _update_rows(self, gradient, variable, learning_rate):
            rows, grad = _dedupe(gradient)
            grad = tf.cast(grad, variable.dtype)
            lr = tf.cast(learning_rate, variable.dtype)
            velocity = self._velocities[self._get_variable_index(variable)]
            new_v = self.rho * tf.gather(velocity.value, rows) + (1 - self.rho) * tf.square(grad)
            self.assign(velocity, tf.IndexedSlices(new_v, rows))
            step = lr * grad / tf.sqrt(new_v + self.epsilon)
            self.assign_sub(variable, tf.IndexedSlices(step, rows))

    class FusedAdam(keras.optimizers.Adam):
        """Dense Adam as above, all variables in one XLA call. Why: Keras 3's Adam converts
        an IndexedSlices gradient to a dense tensor at EACH use (twice per variable, an
        unsorted segment sum over every gathered row each time: 250 of DIN's 680 ms of op
        time per batch-4096 step) and runs ~10 separate full-table ops per variable."""

        def _backend_update_step(self, grads, trainable_variables, learning_rate):
            if self.amsgrad or not _plain_variables(trainable_variables):
                return super(FusedAdam, self)._backend_update_step(
                    grads, trainable_variables, learning_rate)
            variables = [_tf_variable(v) for v in trainable_variables]
            dtype = variables[0].dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1 = tf.constant(self.beta_1, dtype)
            beta_2 = tf.constant(self.beta_2, dtype)
            alpha = (tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step))
                     / (1 - tf.pow(beta_1, step)))
            index = [self._get_variable_index(v) for v in variables]
            _dense_adam(variables, [_tf_variable(self._momentums[i]) for i in index],
                        [_tf_variable(self._velocities[i]) for i in index],
                        [_sparse_parts(g, dtype) for g in grads],
                        alpha, beta_1, beta_2, tf.constant(self.epsilon, dtype))

    return {"rmsprop": LazyRMSprop, "adam": FusedAdam}


_LAZY = _lazy_optimizers() if IS_KERAS3 else {}


def save_model(model, path):
    """Save a whole model in the native format of the Keras in use.

    Keras 3: a ``.keras`` archive. Keras 2: a TensorFlow SavedModel directory (HDF5 cannot
    hold subclassed models); registered classes are revived through ``from_config``, and the
    model must have been called once (Keras 2 saves the traced call signature).
    """
    if IS_KERAS3:
        model.save(path)
    else:
        model.save(path, save_format="tf")


def load_model(path, custom_objects=None):
    return keras.models.load_model(path, custom_objects=custom_objects, compile=False)


def model_file_suffix():
    """``.keras`` for Keras 3; a SavedModel directory (no suffix) for Keras 2."""
    return ".keras" if IS_KERAS3 else "_savedmodel"


def set_seed(seed):
    """Seed Python, NumPy, TensorFlow (and Keras 3's own generator) in one call."""
    import random  # pylint: disable=import-outside-toplevel

    import numpy as np  # pylint: disable=import-outside-toplevel

    if hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


def enable_determinism():
    """Deterministic kernels where TensorFlow offers them (TF >= 2.9); a no-op before."""
    experimental = getattr(tf.config, "experimental", None)
    if experimental is not None and hasattr(experimental, "enable_op_determinism"):
        experimental.enable_op_determinism()


def add_weight(layer, name, shape, initializer, trainable=True, autocast=True):
    """``layer.add_weight`` with one spelling for both Keras versions.

    ``autocast=False`` keeps a float32 variable from being cast whole to the compute dtype
    under a mixed policy: a gather from it then stays a sparse (IndexedSlices) gradient.
    """
    kwargs = dict(name=name, shape=tuple(shape), initializer=initializer, trainable=trainable,
                  dtype="float32")
    if IS_KERAS3:
        kwargs["autocast"] = autocast
    else:
        kwargs["experimental_autocast"] = autocast
    return layer.add_weight(**kwargs)
