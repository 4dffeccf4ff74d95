"""Keras-version helpers: optimizers by name, sparse (lazy) updates of gathered tables."""
import numpy as np
import pytest
import tensorflow as tf

from training import compat


@pytest.mark.parametrize("name", ["rmsprop"])
def test_sparse_gradients_update_only_touched_rows_like_dense(name):
    """A gathered table's update: touched rows move exactly as with a dense gradient on the
    first step; untouched rows do not move."""
    init = np.random.RandomState(0).normal(size=(6, 3)).astype(np.float32)
    sparse_var = tf.Variable(init)
    dense_var = tf.Variable(init)
    opt_sparse = compat.make_optimizer(name, 0.1)
    opt_dense = compat.make_optimizer(name, 0.1)
    rows = tf.constant([1, 4, 1])  # a duplicate row: its gradients add up
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(tf.gather(sparse_var, rows)))
    grad = tape.gradient(loss, sparse_var)
    assert isinstance(grad, tf.IndexedSlices)
    compat.apply_gradients(opt_sparse, [grad], [sparse_var])
    compat.apply_gradients(opt_dense, [tf.convert_to_tensor(grad)], [dense_var])
    touched = [1, 4]
    untouched = [0, 2, 3, 5]
    np.testing.assert_allclose(sparse_var.numpy()[touched], dense_var.numpy()[touched],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sparse_var.numpy()[untouched], init[untouched])
    assert not np.allclose(sparse_var.numpy()[touched], init[touched])


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer \\('lion'\\) must be one of"):
        compat.make_optimizer("lion", 0.1)


def test_keras_version_is_reported():
    assert compat.keras_version()[0] in "23"
    assert compat.IS_KERAS3 == compat.keras_version().startswith("3")


def test_rmsprop_dense_steps_match_keras():
    """Three dense steps through compat's RMSprop (lazy subclass in Keras 3) equal Keras' own
    RMSprop: only sparse gradients take the lazy path."""
    init = np.random.RandomState(1).normal(size=(4, 3)).astype(np.float32)
    ours, theirs = tf.Variable(init), tf.Variable(init)
    opt_ours = compat.make_optimizer("rmsprop", 0.01)
    opt_theirs = compat.keras.optimizers.RMSprop(0.01)
    for step in range(3):
        grad = tf.constant(np.random.RandomState(step).normal(size=(4, 3)).astype(np.float32))
        compat.apply_gradients(opt_ours, [grad], [ours])
        opt_theirs.apply_gradients([(grad, theirs)])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-7)
