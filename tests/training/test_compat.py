"""Keras-version helpers: optimizers by name, sparse (lazy) updates of gathered tables."""
import numpy as np
import pytest
import tensorflow as tf

from core import compat
from training.infra import optimizers


@pytest.mark.parametrize("name", ["rmsprop"])
def test_sparse_gradients_update_only_touched_rows_like_dense(name):
    """A gathered table's update: touched rows move exactly as with a dense gradient on the
    first step; untouched rows do not move."""
    init = np.random.RandomState(0).normal(size=(6, 3)).astype(np.float32)
    sparse_var = tf.Variable(init)
    dense_var = tf.Variable(init)
    opt_sparse = optimizers.make_optimizer(name, 0.1)
    opt_dense = optimizers.make_optimizer(name, 0.1)
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
        optimizers.make_optimizer("lion", 0.1)


def test_keras_version_is_reported():
    assert compat.keras_version()[0] in "23"
    assert compat.IS_KERAS3 == compat.keras_version().startswith("3")


def _reference_rmsprop(inits, grads_per_step, lr=0.01, rho=0.9, eps=1e-7):
    """RMSprop written out in NumPy (Keras' formula, rho 0.9, no momentum): the reference the
    optimizer under test must follow in BOTH Keras versions (comparing with the Keras class
    itself would compare Keras 2 with itself, since make_optimizer returns it there)."""
    weights = [i.astype(np.float64).copy() for i in inits]
    velocity = [np.zeros_like(w) for w in weights]
    for grads in grads_per_step:
        for w, v, g in zip(weights, velocity, grads):
            g = np.asarray(tf.convert_to_tensor(g), np.float64)
            v *= rho
            v += (1 - rho) * g * g
            w -= lr * g / np.sqrt(v + eps)
    return weights


def test_rmsprop_dense_steps_match_the_formula():
    """Three dense steps through make_optimizer's RMSprop (lazy subclass in Keras 3, Keras' own
    in Keras 2) follow RMSprop's formula: a wrong decay, a missing square root or a skipped
    step fails."""
    rng = np.random.RandomState(1)
    init = rng.normal(size=(4, 3)).astype(np.float32)
    grads_per_step = [[tf.constant(rng.normal(size=(4, 3)).astype(np.float32))]
                      for _ in range(3)]
    ours = _steps(optimizers.make_optimizer("rmsprop", 0.01), [tf.Variable(init)],
                  grads_per_step)
    want = _reference_rmsprop([init], grads_per_step)
    np.testing.assert_allclose(ours[0], want[0], rtol=1e-5, atol=1e-6)


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


def _reference_adam(inits, grads_per_step, lr=0.01, beta_1=0.9, beta_2=0.999, eps=1e-7,
                    square_then_sum=True):
    """Adam written out in NumPy (Keras' formula). A sparse gradient's repeated rows are
    summed for the first moment; for the second, Keras 3 sums their SQUARES (each value is
    squared before the scatter-add, ``square_then_sum``) while Keras 2 first merges the
    repeated rows and squares the sum."""
    weights = [i.astype(np.float64).copy() for i in inits]
    moments = [np.zeros_like(w) for w in weights]
    velocity = [np.zeros_like(w) for w in weights]
    for step, grads in enumerate(grads_per_step, start=1):
        alpha = lr * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
        for w, m, v, g in zip(weights, moments, velocity, grads):
            if isinstance(g, tf.IndexedSlices):
                dense = np.zeros_like(w)
                squared = np.zeros_like(w)
                np.add.at(dense, g.indices.numpy(), g.values.numpy())
                np.add.at(squared, g.indices.numpy(), np.square(g.values.numpy(), dtype=np.float64))
                if not square_then_sum:
                    squared = dense * dense
            else:
                dense = g.numpy().astype(np.float64)
                squared = dense * dense
            m += (dense - m) * (1 - beta_1)
            v += (squared - v) * (1 - beta_2)
            w -= m * alpha / (np.sqrt(v) + eps)
    return weights


def test_adam_matches_the_formula_with_dense_and_repeated_sparse_rows():
    """make_optimizer's Adam (Keras 3: one compiled update for all variables, sparse gradients
    summed inside it; Keras 2: Keras' own) follows Adam's formula written out in NumPy, given
    dense and sparse gradients with repeated rows: a dropped bias correction, a repeated row
    counted once or a row squared after summing fails."""
    rng = np.random.RandomState(2)
    inits = [rng.normal(size=s).astype(np.float32) for s in ((4, 3), (6, 2), (70000, 2))]
    grads_per_step = _gradients(rng, inits)
    ours = _steps(optimizers.make_optimizer("adam", 0.01), [tf.Variable(i) for i in inits],
                  grads_per_step)
    want = _reference_adam(inits, grads_per_step, square_then_sum=compat.IS_KERAS3)
    for got, ref, init in zip(ours, want, inits):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, init)


def test_rmsprop_groups_dense_variables_by_the_formula():
    """Several dense variables (of any rank) updated in one compiled call each follow RMSprop's
    formula."""
    rng = np.random.RandomState(3)
    inits = [rng.normal(size=s).astype(np.float32) for s in ((4, 3), (5,), (2, 2, 2))]
    grads_per_step = [[tf.constant(rng.normal(size=i.shape).astype(np.float32)) for i in inits]
                      for _ in range(3)]
    ours = _steps(optimizers.make_optimizer("rmsprop", 0.01), [tf.Variable(i) for i in inits],
                  grads_per_step)
    for got, want in zip(ours, _reference_rmsprop(inits, grads_per_step)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
