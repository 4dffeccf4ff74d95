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
  variables, so ``tf.gather`` on one reads the whole variable first;
* Keras 3's PRIVATE optimizer internals that the fused updates need (the whole-list update
  step, the slot variables): :func:`with_update_step` and :func:`optimizer_slot` are the only
  places they are named, so a Keras release that renames them breaks these two functions and
  the tests that call them, not the training code.
"""
from __future__ import absolute_import, division, print_function

import contextlib

import tensorflow as tf

IS_KERAS3 = hasattr(tf.keras, "ops")

if IS_KERAS3:
    # tf.keras is a compatibility namespace of Keras 3; use the package itself.
    import keras  # pylint: disable=wrong-import-position
else:
    keras = tf.keras  # tf_keras (TF_USE_LEGACY_KERAS=1) or TF <= 2.15's Keras 2


def keras_version():
    """Version string of the Keras in use (``keras.version()`` / ``__version__``).

    Returns:
      e.g. ``"3.15.1"`` or ``"2.21.0"``; ``"unknown"`` if an old Keras 2 does not say.
    """
    if IS_KERAS3:
        return keras.version()
    try:  # tf_keras (TF >= 2.16 with TF_USE_LEGACY_KERAS=1)
        import tf_keras

        return tf_keras.__version__
    except ImportError:  # TF 2.6-2.15: Keras 2 bundled as tensorflow.keras / keras
        import keras as _k

        return getattr(_k, "__version__", "unknown")


def set_global_policy(name):
    """Set the global dtype policy (``float32``, ``mixed_float16``, ``mixed_bfloat16``).

    Args:
      name: a Keras policy name.
    """
    keras.mixed_precision.set_global_policy(name)


def policy_of(layer):
    """``layer``'s dtype policy, to hand to the sublayers it creates: otherwise they take the
    GLOBAL policy, and a model built with ``dtype="mixed_float16"`` under a float32 global
    policy would compute only its own ops in float16.

    Args:
      layer: a Keras layer.

    Returns:
      Its ``DTypePolicy`` (the public attribute in Keras 3, the private one in Keras 2).
    """
    policy = getattr(layer, "dtype_policy", None)
    return policy if policy is not None else layer._dtype_policy  # pylint: disable=protected-access


@contextlib.contextmanager
def global_policy(name):
    """Set the global dtype policy for the ``with`` block only, then put the previous one back
    (even on an error): for models built for a side job, such as the featurizer's backbone.

    Args:
      name: a Keras policy name (``float32``, ``mixed_float16``, ``mixed_bfloat16``).

    Yields:
      Nothing; the policy is set inside the block.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def global_policy_name():
    """The name of the global dtype policy in use (``float32``, ``mixed_float16``, ...).

    Returns:
      The policy name.
    """
    return keras.mixed_precision.global_policy().name


def register_serializable(package="npurec"):
    """Decorator registering a layer/model class for ``get_config``/``from_config`` loading.

    Args:
      package: the registration namespace (``npurec>ClassName``).

    Returns:
      The class decorator of the Keras in use.
    """
    if IS_KERAS3:
        return keras.saving.register_keras_serializable(package=package)
    return keras.utils.register_keras_serializable(package=package)


def loss_scale_optimizer(optimizer, dynamic=True, initial_scale=2.0 ** 15):
    """Wrap ``optimizer`` in Keras' dynamic loss-scale optimizer.

    Args:
      optimizer: the inner optimizer.
      dynamic: the scale adapts (Keras 2 only; Keras 3's is always dynamic).
      initial_scale: the first loss scale.

    Returns:
      The wrapped optimizer.
    """
    if IS_KERAS3:
        return keras.mixed_precision.LossScaleOptimizer(optimizer, initial_scale=initial_scale)
    return keras.mixed_precision.LossScaleOptimizer(
        optimizer, dynamic=dynamic, initial_scale=initial_scale
    )


def is_loss_scale_optimizer(optimizer):
    """True for Keras' (or NPU's, a subclass in Keras 2) loss-scale optimizer.

    Args:
      optimizer: any optimizer.

    Returns:
      True when ``optimizer`` scales the loss (it has ``get_scaled_loss`` or is Keras' class).
    """
    return isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer) or hasattr(
        optimizer, "get_scaled_loss"
    )


def scale_loss(optimizer, loss):
    """Multiply ``loss`` by the current loss scale (identity without loss scaling).

    Args:
      optimizer: the optimizer that will apply the gradients.
      loss: a float32 scalar.

    Returns:
      The loss to differentiate.
    """
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

    Args:
      optimizer: the optimizer (loss-scaled or not).
      grads: the gradients of the scaled loss, in the order of ``variables``.
      variables: the trainable variables.
    """
    if is_loss_scale_optimizer(optimizer) and not IS_KERAS3:
        grads = optimizer.get_unscaled_gradients(grads)
    optimizer.apply_gradients(zip(grads, variables))


def current_loss_scale(optimizer):
    """The current dynamic loss scale as a float32 tensor, or None without loss scaling.

    Args:
      optimizer: any optimizer.

    Returns:
      A float32 scalar tensor, or None.
    """
    if not is_loss_scale_optimizer(optimizer):
        return None
    if IS_KERAS3:
        return tf.convert_to_tensor(optimizer.dynamic_scale)
    return tf.convert_to_tensor(optimizer.loss_scale)


def build_optimizer(optimizer, variables):
    """Create the optimizer's slot variables now, so that a checkpoint restores them eagerly.

    Keras 3 and the Keras 2.11+ optimizer have ``build``; TF 2.6's OptimizerV2 has
    ``_create_all_weights`` (and restores deferred slots on first use anyway).

    Args:
      optimizer: the optimizer.
      variables: the variables it will update.
    """
    variables = list(variables)
    if hasattr(optimizer, "build") and not hasattr(optimizer, "_create_all_weights"):
        optimizer.build(variables)
    elif hasattr(optimizer, "_create_all_weights"):
        optimizer._create_all_weights(variables)  # pylint: disable=protected-access


def gather(variable, indices, axis=0):
    """Rows of a variable, read by TF's resource gather (``ResourceGather``) op.

    Why: ``tf.gather`` on a Keras 3 variable first converts the WHOLE variable to a tensor
    (``ReadVariableOp``), and once a variable has been updated sparsely (the lazy RMSprop's
    scatter updates) TF copies it on every such read to keep the read safe from later
    scatters: for NGNN's 4M-weight text table that copy was a third of a batch-16 step
    (docs/performance.md, "Figures behind design choices").
    The resource gather reads only the rows asked for, and its gradient is the same
    IndexedSlices. Keras 2 variables are resource variables already (``tf.gather`` calls
    their ``sparse_read``); Keras 2's AutoCastVariable casts after the gather.

    Args:
      variable: a Keras or TF variable (a table).
      indices: int tensor of rows.
      axis: the axis to gather along.

    Returns:
      The gathered rows (a tensor; its gradient is an IndexedSlices).
    """
    if IS_KERAS3 and isinstance(variable, keras.Variable):
        inner = getattr(variable, "_value", None)  # `.value` may be an autocast copy
        if isinstance(inner, tf.Variable):
            return tf.gather(inner, indices, axis=axis)
    return tf.gather(variable, indices, axis=axis)


def tf_variable(variable):
    """The tf.Variable behind a Keras 3 variable (Keras 3 also accepts plain tf.Variables).

    Args:
      variable: a Keras 3 variable or a tf.Variable.

    Returns:
      The underlying ``tf.Variable``.
    """
    return variable.value if isinstance(variable, keras.Variable) else variable


def save_model(model, path):
    """Save a whole model in the native format of the Keras in use.

    Keras 3: a ``.keras`` archive. Keras 2: a TensorFlow SavedModel directory (HDF5 cannot
    hold subclassed models); registered classes are revived through ``from_config``, and the
    model must have been called once (Keras 2 saves the traced call signature).

    Args:
      model: a built Keras model (registered classes only).
      path: the file (Keras 3, ``.keras``) or directory (Keras 2) to write.
    """
    if IS_KERAS3:
        model.save(path)
    else:
        model.save(path, save_format="tf")


def load_model(path, custom_objects=None):
    """A model saved by :func:`save_model`, uncompiled.

    Args:
      path: what :func:`save_model` wrote.
      custom_objects: classes not registered with :func:`register_serializable`.

    Returns:
      The Keras model.
    """
    return keras.models.load_model(path, custom_objects=custom_objects, compile=False)


def model_file_suffix():
    """``.keras`` for Keras 3; a SavedModel directory (no suffix) for Keras 2.

    Returns:
      The suffix to add to a model path for the Keras in use.
    """
    return ".keras" if IS_KERAS3 else "_savedmodel"


def set_seed(seed):
    """Seed Python, NumPy, TensorFlow (and Keras 3's own generator) in one call.

    Args:
      seed: an int.
    """
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

    Args:
      layer: the layer that owns the weight.
      name, shape, initializer, trainable: as for ``add_weight``.
      autocast: whether a mixed policy may cast the variable to the compute dtype.

    Returns:
      The float32 variable.
    """
    kwargs = dict(name=name, shape=tuple(shape), initializer=initializer, trainable=trainable,
                  dtype="float32")
    if IS_KERAS3:
        kwargs["autocast"] = autocast
    else:
        kwargs["experimental_autocast"] = autocast
    return layer.add_weight(**kwargs)


_SLOT_LISTS = {"momentum": "_momentums", "velocity": "_velocities"}


def optimizer_slot(optimizer, variable, kind):
    """Keras 3: the optimizer's ``kind`` slot variable of ``variable``.

    Keras 3 keeps slots in private lists indexed by a private method (``_momentums``,
    ``_velocities``, ``_get_variable_index``); they are read here only.

    Args:
      optimizer: a built Keras 3 optimizer.
      variable: one of its trainable variables.
      kind: ``momentum`` or ``velocity``.

    Returns:
      The slot variable.
    """
    index = optimizer._get_variable_index(variable)  # pylint: disable=protected-access
    return getattr(optimizer, _SLOT_LISTS[kind])[index]


def with_update_step(base, update, name):
    """Keras 3: a subclass of the optimizer class ``base`` whose update of ALL variables at
    once is ``update(optimizer, grads, variables, learning_rate)``; where ``update`` returns
    ``NotImplemented`` (e.g. under tf.distribute) Keras' own update runs.

    The hook is Keras 3's private ``_backend_update_step`` (named here only), the one place
    where a step sees every gradient together, which a fused update needs.

    Args:
      base: a Keras 3 optimizer class.
      update: the update function.
      name: the subclass's name.

    Returns:
      The subclass.
    """
    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if update(self, grads, trainable_variables, learning_rate) is NotImplemented:
            return super(subclass, self)._backend_update_step(  # pylint: disable=protected-access
                grads, trainable_variables, learning_rate)
        return None

    subclass = type(name, (base,), {"_backend_update_step": _backend_update_step,
                                    "__doc__": update.__doc__,
                                    "__module__": update.__module__})
    return subclass
