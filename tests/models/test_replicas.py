"""models.replicas: the layers' view of the replicas that share a global batch."""
import pytest
import tensorflow as tf

from models import replicas


@pytest.fixture
def three_ranks():
    """An outer group of three ranks that hold identical values (a stand-in for NPU ranks:
    no Ascend hardware here), so the all-reduce is 3 x the local value; like a collective op
    without a registered gradient, it passes none (models.replicas must supply it)."""
    replicas.use_outer_group(3, lambda values: [tf.stop_gradient(3.0 * v) for v in values])
    yield
    replicas.use_outer_group(1)


def test_one_process_is_one_replica_and_total_is_the_identity():
    assert replicas.count() == 1
    x = tf.constant([1.0, 2.0])
    assert replicas.total(x) is x


def test_total_sums_values_and_gradients_over_the_outer_group(three_ranks):
    assert replicas.count() == 3
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = replicas.total(x) * x  # one device on the three copies: L = (3x) * x
    assert float(y) == pytest.approx(12.0)
    # dL/dx = 6x = 12: the upstream gradient of the total is summed over the ranks
    assert float(tape.gradient(y, x)) == pytest.approx(12.0)


def test_an_outer_group_needs_its_all_reduce():
    with pytest.raises(ValueError, match="needs an all_reduce"):
        replicas.use_outer_group(2)
    assert replicas.count() == 1
