"""Run in a fresh process (logical CPU devices must be set before TensorFlow starts).

Trains the toy model for 3 steps on the same global batches with one replica and with a
MirroredStrategy over two logical CPUs, from the same initial weights; prints the largest
absolute weight difference as JSON.
"""
import json
import sys

import numpy as np

from tests.toy_task import ToyModelConfig, ToyTask
from training import loop
from training import runtime as rt


def train(runtime, initial, batches):
    task = ToyTask()
    with runtime.strategy.scope():
        model = task.build_model(ToyModelConfig(hidden=8), None)
        optimizer = runtime.make_optimizer("adam", 0.05)
        trainer = loop.Trainer(task, model, optimizer, runtime, 32)
        trainer.build(batches[0])
    if initial is not None:
        model.set_weights(initial)
    start = model.get_weights()
    for batch in trainer.distribute(batches_dataset(batches)):
        trainer.train_step(batch)
    return start, model.get_weights()


def batches_dataset(batches):
    import tensorflow as tf

    ds = None
    for b in batches:
        d = tf.data.Dataset.from_tensors(b)
        ds = d if ds is None else ds.concatenate(d)
    return ds


def main():
    two = rt.configure("cpu", "fp32", cpu_replicas=2)
    assert two.num_replicas == 2, two.num_replicas
    task = ToyTask()
    data = task.prepare(task.data_config_cls(n=128), 0, None)
    batches = list(task.train_dataset(data, 32, 0, 0).take(3))
    start, mirrored = train(two, None, batches)
    one = rt.configure("cpu", "fp32", cpu_replicas=1)
    _, single = train(one, start, batches)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, single))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(mirrored, single))
    json.dump({"max_diff": diff, "moved": moved}, sys.stdout)


if __name__ == "__main__":
    main()
