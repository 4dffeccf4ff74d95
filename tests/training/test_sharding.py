"""Sharding (the loop owns it): which per-replica batches each input pipeline feeds (pure tf.data, no cluster)."""
import numpy as np
import pytest
import tensorflow as tf

from core.errors import UsageError
from training.infra.sharding import InputShard, epoch_dataset
from datasets.inputs import TaskData, TrainInput


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


class _IndexData(TaskData):
    """A data object's ``train_input`` only: keys are row indices, materialize counts its
    calls."""

    def __init__(self, n=24, drop_remainder=True):
        self.n, self.drop_remainder = n, drop_remainder
        self.materialized = []

    def train_input(self, batch_size, epoch, seed):
        def record(rows):
            self.materialized.append(int(rows[0]))
            return rows

        def materialize(rows):
            first = tf.py_function(record, [rows], tf.int64)
            with tf.control_dependencies([first]):
                return {"rows": tf.identity(rows)}

        keys = tf.data.Dataset.range(self.n).batch(batch_size,
                                                   drop_remainder=self.drop_remainder)
        return TrainInput(keys, materialize)


def test_the_loop_shards_before_materializing_and_workers_add_up_to_the_epoch():
    """The data never sees a shard: each of two pipelines gets its own half of the key
    batches, materializes ONLY those, and together they are the whole epoch in order."""
    whole = [b["rows"].numpy() for b in epoch_dataset(_IndexData(), 3, 0, 0)]
    parts = {}
    for index in (0, 1):
        source = _IndexData()
        parts[index] = [b["rows"].numpy() for b in
                        epoch_dataset(source, 3, 0, 0, InputShard(2, index, 1))]
        assert sorted(source.materialized) == [int(b[0]) for b in parts[index]]
    joined = [batch for pair in zip(parts[0], parts[1]) for batch in pair]
    np.testing.assert_array_equal(np.stack(joined), np.stack(whole))


def test_keys_without_drop_remainder_are_refused_with_the_data_named():
    with pytest.raises(UsageError, match="_IndexData: train_input.*drop_remainder=True"):
        epoch_dataset(_IndexData(n=10, drop_remainder=False), 3, 0, 0)


def test_epochs_run_without_the_autotune_model():
    """Each epoch's pipeline (one worker's or the whole job's) has tf.data's autotuning
    model off: its background optimiser made the end of an epoch wait for its next interval
    (up to tens of seconds; ``datasets.pipeline``). Must hold for every shard, since each
    worker ends its own iterator."""
    for shard in (None, InputShard(2, 1, 1)):
        dataset = epoch_dataset(_IndexData(), 3, 0, 0, shard)
        assert dataset.options().autotune.enabled is False
    plain = tf.data.Dataset.range(3)
    assert plain.options().autotune.enabled is not False  # the control: TF's default is on


def _din_data(tmp_path, n, seed=0):
    """DIN data of ``n`` random rows per split, written as an on-disk sample set."""
    from datasets import behaviour_data, samples  # pylint: disable=import-outside-toplevel

    rng = np.random.RandomState(seed)
    items = 50
    item_cat = np.r_[0, rng.randint(1, 5, size=items)]
    target = rng.randint(1, items + 1, size=n)
    split = samples.records(rng.randint(100, size=n), rng.randint(3, 900, size=n),
                            rng.randint(1, 4, size=n), target, item_cat[target],
                            rng.randint(2, size=n))
    path = str(tmp_path / "set")
    samples.write(path, rng.randint(1, items + 1, size=1000), {k: split for k in samples.SPLITS},
                  {"items": items + 1, "categories": 5}, {},
                  {"items": np.arange(items + 1).astype(str),
                   "categories": np.arange(5).astype(str), "item_category": item_cat}, 3)
    return behaviour_data.BehaviourData(samples.open_set(path), synthetic=True, root="memory")


def test_din_epoch_of_fewer_rows_than_a_chunk_still_has_its_batches(tmp_path):
    """200 training rows (under one 256-row chunk) at batch 64: 3 batches of distinct rows,
    as many as the loop's steps per epoch (rows // batch)."""
    data = _din_data(tmp_path, 200)
    keys = list(data.train_input(64, 0, 0).keys.as_numpy_iterator())
    assert len(keys) == data.num_train_examples() // 64 == 3
    rows = np.concatenate(keys)
    assert len(set(rows.tolist())) == len(rows) and rows.max() < 200


def test_din_workers_read_only_their_own_rows_from_disk(tmp_path):
    """Two workers (one replica each) of a DIN epoch: every training row each one reads from
    the on-disk samples is one of its own batches' rows; together they read each row of the
    single-process epoch once, and the same batches."""
    n = 5000
    data = _din_data(tmp_path, n)
    train = data.splits["train"]
    real_read = train.read
    read = []

    def logged(rows):
        read.append(np.asarray(rows).copy())
        return real_read(rows)

    train.read = logged

    def epoch(batch, shard):
        del read[:]
        labels = [b["label"].numpy() for b in epoch_dataset(data, batch, 0, 3, shard)]
        return np.concatenate(read), np.concatenate(labels)

    single_rows, single_labels = epoch(512, None)
    steps = data.splits["train"].num_rows // 512  # as the loop caps an epoch
    worker_rows = [epoch(256, InputShard(2, i, num_steps=steps)) for i in range(2)]
    assert not set(worker_rows[0][0].tolist()) & set(worker_rows[1][0].tolist())
    both = np.concatenate([worker_rows[0][0], worker_rows[1][0]])
    assert sorted(both.tolist()) == sorted(single_rows.tolist())
    assert len(set(single_rows.tolist())) == len(single_rows) == n // 512 * 512
    # step s: worker 0 holds the first half of the single process's batch s, worker 1 the rest
    halves = np.stack([w[1].reshape(-1, 256) for w in worker_rows], axis=1).reshape(-1)
    np.testing.assert_array_equal(halves, single_labels)
