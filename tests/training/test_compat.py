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


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_fused_updates_match_keras_own_optimizer(name):
    """compat's optimizers (Keras 3: one compiled update for all dense variables; Adam sums
    sparse gradients inside it) take the same steps as Keras' stock optimizer: a dense
    variable, a small table with a sparse gradient (densified) and, for Adam, a large one."""
    rng = np.random.RandomState(2)
    shapes = [(4, 3), (6, 2), (compat.SMALL_VARIABLE // 2 + 7, 2)]
    inits = [rng.normal(size=s).astype(np.float32) for s in shapes]
    if name == "rmsprop":  # large sparse RMSprop tables take the lazy path (tested above)
        inits = inits[:2]
    grads_per_step = []
    for step in range(4):
        rows = tf.constant(rng.randint(len(inits[-1]), size=5).tolist() + [1, 1])
        grads = [tf.constant(rng.normal(size=inits[0].shape).astype(np.float32))]
        for init in inits[1:]:
            r = rows % len(init)
            grads.append(tf.IndexedSlices(tf.constant(rng.normal(size=(7, init.shape[1]))
                                                      .astype(np.float32)), r,
                                          tf.constant(init.shape, tf.int64)))
        grads_per_step.append(grads)
    stock = {"adam": compat.keras.optimizers.Adam,
             "rmsprop": compat.keras.optimizers.RMSprop}[name](0.01)
    ours = _steps(compat.make_optimizer(name, 0.01), [tf.Variable(i) for i in inits],
                  grads_per_step)
    theirs = _steps(stock, [tf.Variable(i) for i in inits],
                    [[tf.convert_to_tensor(g) for g in grads] for grads in grads_per_step])
    for got, want, init in zip(ours, theirs, inits):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, init)
