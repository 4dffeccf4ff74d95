"""``benchmarks.kernel_update`` times the two updates it claims to: the lazy ("touched") one
must BE the lazy RMSprop step (the same weights as the dense step on the categories present,
absent ones not moved, their velocity not decayed), or its timing says nothing about the
option it stands for."""
import numpy as np
import pytest

from benchmarks import kernel_update as ku

tf = pytest.importorskip("tensorflow")


def test_touched_update_is_the_dense_step_on_the_categories_present():
    rng = np.random.RandomState(3)
    groups = ku.category_draws(rng, 1)["uniform"][0]
    rows = len(groups)
    x = tf.constant(rng.rand(rows, ku.IN_DIM).astype(np.float32))
    dy = tf.constant(rng.randn(rows, ku.UNITS).astype(np.float32))
    start = rng.randn(ku.CATEGORIES, ku.IN_DIM, ku.UNITS).astype(np.float32)
    velocity = rng.rand(ku.CATEGORIES, ku.IN_DIM, ku.UNITS).astype(np.float32) + 0.5
    updates = ku.make_updates(tf)
    after = {}
    for kind, fn in updates.items():
        state = (tf.Variable(start), tf.Variable(velocity))
        fn(state[0], state[1], x, dy, tf.constant(groups))
        after[kind] = (state[0].numpy(), state[1].numpy())
    present = np.unique(groups[groups < ku.CATEGORIES])
    absent = np.setdiff1d(np.arange(ku.CATEGORIES), present)
    assert 0 < len(present) < ku.CATEGORIES
    dense_w, dense_v = after["dense"]
    lazy_w, lazy_v = after["touched"]
    np.testing.assert_allclose(lazy_w[present], dense_w[present], rtol=0, atol=1e-5)
    np.testing.assert_allclose(lazy_v[present], dense_v[present], rtol=1e-5)
    assert np.abs(dense_w[present] - start[present]).max() > 1e-4  # the step moved them
    np.testing.assert_array_equal(lazy_w[absent], start[absent])
    np.testing.assert_array_equal(dense_w[absent], start[absent])  # RMSprop: g = 0, no move
    np.testing.assert_array_equal(lazy_v[absent], velocity[absent])  # lazy: no decay
    np.testing.assert_allclose(dense_v[absent], 0.9 * velocity[absent], rtol=1e-6)


def test_real_draws_follow_the_outfit_lists_when_present():
    draws = ku.category_draws(np.random.RandomState(0), 3)
    for groups in draws["uniform"]:
        assert groups.shape == (ku.PAIRS * (ku.SLOTS + 1),)
        assert (groups <= ku.CATEGORIES).all() and (groups < ku.CATEGORIES).sum() >= 4 * ku.PAIRS
    if "real" not in draws:
        pytest.skip("the real outfit lists (../shared/data/polyvore) are not beside the "
                    "repository; the uniform draws were checked")
    for groups in draws["real"]:
        real = groups[groups < ku.CATEGORIES]
        assert 3 * ku.PAIRS <= len(real) <= ku.SLOTS * ku.PAIRS + ku.PAIRS
