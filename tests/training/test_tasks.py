"""InputShard: which per-replica batches each input pipeline feeds (pure tf.data, no cluster)."""
import numpy as np
import pytest
import tensorflow as tf

from training.tasks import InputShard


def _batches(n):
    return tf.data.Dataset.range(n * 3).batch(3, drop_remainder=True)  # batch i = 3i .. 3i+2


def _firsts(dataset):
    return [int(b.numpy()[0]) // 3 for b in dataset]


def test_two_workers_with_two_replicas_each_split_every_global_step():
    """4 per-replica batches per step; worker p feeds batches 2p and 2p+1 of each step."""
    seen = {p: _firsts(InputShard(2, p, 2).select(_batches(12))) for p in (0, 1)}
    assert seen[0] == [0, 1, 4, 5, 8, 9]
    assert seen[1] == [2, 3, 6, 7, 10, 11]
    # step s of the job (worker-major, replica order) is exactly batches 4s .. 4s+3
    for step in range(3):
        job = seen[0][2 * step:2 * step + 2] + seen[1][2 * step:2 * step + 2]
        assert job == list(range(4 * step, 4 * step + 4))


def test_resume_and_cap_count_global_steps():
    shard = InputShard(2, 1, 1, first_step=2, num_steps=4)  # steps 2 and 3 of 4
    assert _firsts(shard.select(_batches(20))) == [5, 7]
    assert _firsts(InputShard(first_step=1, num_steps=3).select(_batches(20))) == [1, 2]


def test_one_pipeline_is_the_identity():
    batches = _batches(5)
    assert InputShard().select(batches) is batches


@pytest.mark.parametrize("args", [(2, 2, 1), (1, 0, 0), (0, 0, 1)])
def test_bad_layout(args):
    with pytest.raises(ValueError, match="bad input shard"):
        InputShard(*args)


def test_shapes_stay_static():
    shard = InputShard(3, 2, 1).select(_batches(9))
    assert shard.element_spec.shape.as_list() == [3]
    assert np.array_equal(next(iter(shard)).numpy(), [6, 7, 8])
