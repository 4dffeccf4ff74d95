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


def _graph_op_types(fn, *args):
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()}


def test_gather_reads_only_the_rows_asked_for():
    """compat.gather uses the resource gather op: no read of the whole variable (a sparsely
    updated variable is COPIED by every whole read), same values, IndexedSlices gradient."""
    layer = compat.keras.layers.Dense(3)
    layer.build((None, 5))
    table = layer.kernel  # a Keras variable of the Keras in use
    rows = tf.constant([4, 0, 4])
    np.testing.assert_array_equal(compat.gather(table, rows).numpy(),
                                  tf.gather(tf.convert_to_tensor(table), rows).numpy())
    types = _graph_op_types(lambda r: compat.gather(table, r), rows)
    assert "ResourceGather" in types and "ReadVariableOp" not in types, types
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(compat.gather(table, rows))
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    np.testing.assert_array_equal(tf.convert_to_tensor(grad).numpy()[:, 0], [1, 0, 0, 0, 2])


def _steps(optimizer, variables, grads_per_step):
    for grads in grads_per_step:
        compat.apply_gradients(optimizer, grads, variables)
    return [v.numpy() for v in variables]


def _gradients(rng, inits, steps=4):
    """Per step: a dense gradient for the first variable, sparse ones with repeated rows for
    the others (a table gathered by id)."""
    out = []
    for _ in range(steps):
        grads = [tf.constant(rng.normal(size=inits[0].shape).astype(np.float32))]
        for init in inits[1:]:
            rows = tf.constant((rng.randint(len(init), size=5).tolist() + [1, 1]))
            grads.append(tf.IndexedSlices(
                tf.constant(rng.normal(size=(7, init.shape[1])).astype(np.float32)), rows,
                tf.constant(init.shape, tf.int64)))
        out.append(grads)
    return out


def test_fused_adam_matches_keras_own_adam():
    """compat's Adam (Keras 3: one compiled update for all variables, sparse gradients summed
    inside it) takes the same steps as the Keras in use's own Adam, given the same dense and
    sparse gradients, repeated rows included."""
    rng = np.random.RandomState(2)
    inits = [rng.normal(size=s).astype(np.float32) for s in ((4, 3), (6, 2), (70000, 2))]
    grads_per_step = _gradients(rng, inits)
    ours = _steps(compat.make_optimizer("adam", 0.01), [tf.Variable(i) for i in inits],
                  grads_per_step)
    theirs = _steps(compat.keras.optimizers.Adam(0.01), [tf.Variable(i) for i in inits],
                    grads_per_step)
    for got, want, init in zip(ours, theirs, inits):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, init)


def test_rmsprop_groups_dense_variables_like_keras():
    """Several dense variables (of any rank) updated in one compiled call equal Keras' own
    RMSprop."""
    rng = np.random.RandomState(3)
    inits = [rng.normal(size=s).astype(np.float32) for s in ((4, 3), (5,), (2, 2, 2))]
    grads_per_step = [[tf.constant(rng.normal(size=i.shape).astype(np.float32)) for i in inits]
                      for _ in range(3)]
    ours = _steps(compat.make_optimizer("rmsprop", 0.01), [tf.Variable(i) for i in inits],
                  grads_per_step)
    theirs = _steps(compat.keras.optimizers.RMSprop(0.01), [tf.Variable(i) for i in inits],
                    grads_per_step)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
