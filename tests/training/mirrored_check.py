"""Run in a fresh process (logical CPU devices must be set before TensorFlow starts).

Trains the toy model for 3 steps on the same global batches with one replica and with a
MirroredStrategy over two logical CPUs, from the same initial weights; prints the largest
absolute weight difference as JSON, and how far the two-replica scores of :class:`KeyRange`
evaluation keys are from those of the arrays they stand for. The batches go through
``Runtime.distribute_batches``, as in the loop, so the input sharding is part of what is
checked.
"""
import json
import sys

import numpy as np

from tests.toy_task import ToyKeyData, ToyModelConfig, ToyTask
from training.loop.trainer import Trainer
from training.infra import runtime as rt
from training.infra.sharding import epoch_dataset

GLOBAL_BATCH = 32


def train(runtime, initial, data):
    task = ToyTask(ToyModelConfig(hidden=8))
    per_replica = GLOBAL_BATCH // runtime.num_replicas
    with runtime.strategy.scope():
        model = task.build_model(data)
        optimizer = runtime.make_optimizer("adam", 0.05)
        trainer = Trainer(task, data, model, optimizer, runtime, GLOBAL_BATCH)
        trainer.build(next(iter(epoch_dataset(data, per_replica, 0, 0))))
    if initial is not None:
        model.set_weights(initial)
    start = model.get_weights()

    def make_batches(batch_size, shard):
        return epoch_dataset(data, batch_size, 0, 0, shard)

    for batch in runtime.distribute_batches(make_batches, GLOBAL_BATCH, num_steps=3):
        trainer.train_step(batch)
    return start, model.get_weights(), trainer


def key_range_diff(trainer, data):
    """Largest difference between the scores of :class:`KeyRange` keys and of the arrays
    they stand for, on ``trainer``'s replicas (24: a batch that needs padding)."""
    runtime = trainer.runtime
    key_data = ToyKeyData.view(data)
    with runtime.strategy.scope():
        keys = Trainer(ToyTask(ToyModelConfig(hidden=8)), key_data, trainer.model,
                       trainer.optimizer, runtime, GLOBAL_BATCH)
    return max(float(np.max(np.abs(
        keys.score_arrays(key_data.eval_arrays(split), 24)
        - trainer.score_arrays(data.eval_arrays(split), 24))))
        for split in ("validation", "test"))


def main():
    two = rt.configure("cpu", "fp32", cpu_replicas=2)
    assert two.num_replicas == 2, two.num_replicas
    task = ToyTask(data_config=ToyTask.data_config_cls(n=128))
    data = task.prepare(0)
    start, mirrored, trainer_two = train(two, None, data)
    key_diff = key_range_diff(trainer_two, data)
    steps_two = int(trainer_two.step.numpy())
    one = rt.configure("cpu", "fp32", cpu_replicas=1)
    _, single, trainer_one = train(one, start, data)
    steps_one = int(trainer_one.step.numpy())
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, single))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(mirrored, single))
    json.dump({"max_diff": diff, "moved": moved, "steps": [steps_two, steps_one],
               "key_range_diff": key_diff}, sys.stdout)


if __name__ == "__main__":
    main()
