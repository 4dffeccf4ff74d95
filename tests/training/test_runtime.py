"""Runtimes: CPU policies, data-parallel arithmetic, and the NPU path against a test double."""
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT
from tests.toy_task import ToyModelConfig, ToyTask
from training import compat, loop
from training import runtime as rt


def test_cpu_policies():
    assert rt.configure("cpu", "fp32").compute_dtype == tf.float32
    mixed = rt.configure("cpu", "mixed")
    assert mixed.compute_dtype == tf.float16 and mixed.loss_scaling
    assert compat.is_loss_scale_optimizer(mixed.make_optimizer("adam", 1e-3))
    bf16 = rt.configure("cpu", "bf16")
    assert bf16.compute_dtype == tf.bfloat16 and not bf16.loss_scaling
    assert not compat.is_loss_scale_optimizer(bf16.make_optimizer("adam", 1e-3))


def test_bad_device_and_precision():
    with pytest.raises(rt.RuntimeSetupError, match="--device"):
        rt.configure("tpu")
    with pytest.raises(rt.RuntimeSetupError, match="--precision"):
        rt.configure("cpu", "fp8")


def test_npu_requested_without_npu_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "npu_device", None)  # import fails
    with pytest.raises(rt.RuntimeSetupError, match="needs the npu_device package"):
        rt.configure("npu")


def test_mirrored_two_cpus_equals_one_device():
    """Same global batch on 1 replica and on MirroredStrategy over 2 logical CPUs."""
    proc = subprocess.run([sys.executable, "-m", "tests.training.mirrored_check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["moved"] > 1e-3  # training did change the weights
    assert result["max_diff"] < 1e-5
    assert result["steps"] == [3, 3]


class FakeNpuDevice(types.ModuleType):
    """A test double of the npu_device API (no Ascend hardware is available here).

    It records the order of calls, refuses options set after ``open()`` and unknown option
    names (as npu_device does), and its ``all_reduce`` returns NEW tensors (zeros), so a loop
    that ignored the returned tensors would still change the weights.
    """

    def __init__(self):
        super(FakeNpuDevice, self).__init__("npu_device")
        self.calls = []
        # None: all_reduce returns zeros; a scalar tf.Variable f: it returns g + f * g, i.e. the
        # other rank contributed f times this rank's gradient (a variable, because the
        # compiled step bakes in whatever Python the double runs while tracing)
        self.other_rank_factor = None
        fake = self

        class Options(object):
            _known = ("precision_mode", "op_debug_level")

            def __setattr__(self, name, value):
                if name not in self._known:
                    raise AttributeError("unknown npu option " + name)
                if "open" in fake.calls:
                    raise AssertionError("option set after open()")
                fake.calls.append("option:{}={}".format(name, value))
                object.__setattr__(self, name, value)

        self._options = Options()

        class Device(object):
            def as_default(self):
                fake.calls.append("as_default")

        def npu_open():
            fake.calls.append("open")
            return Device()

        def loss_scale_optimizer(optimizer, dynamic=True):
            fake.calls.append("NpuLossScaleOptimizer")
            return compat.loss_scale_optimizer(optimizer)

        def all_reduce(values, reduction="mean"):
            fake.calls.append("all_reduce:" + reduction)
            values = [tf.convert_to_tensor(v) for v in values]
            if fake.other_rank_factor is None:
                return [tf.zeros_like(v) for v in values]
            return [v + fake.other_rank_factor * v for v in values]

        def broadcast(variables, root_rank=0):
            fake.calls.append("broadcast:{}".format(len(variables)))

        self.open = npu_open
        self.train = types.SimpleNamespace(
            optimizer=types.SimpleNamespace(NpuLossScaleOptimizer=loss_scale_optimizer))
        self.distribute = types.SimpleNamespace(all_reduce=all_reduce, broadcast=broadcast)

    def global_options(self):
        self.calls.append("global_options")
        return self._options


def _toy_trainer(runtime, l2=0.0, learning_rate=0.5):
    """The toy task's model and a Trainer for a global batch of 32 on ``runtime`` (SGD)."""
    task = ToyTask()
    data = task.prepare(task.data_config_cls(n=64), 0, None)
    with runtime.strategy.scope():
        model = task.build_model(ToyModelConfig(hidden=4, l2=l2), data)
        optimizer = runtime.make_optimizer("sgd", learning_rate)
        trainer = loop.Trainer(task, model, optimizer, runtime, 32)
    return task, data, model, optimizer, trainer


@pytest.fixture
def two_npu_ranks(monkeypatch, tmp_path):
    """RANK_SIZE=2 with a rank table in the HCCL format (one server, two devices)."""
    table = tmp_path / "rank_table.json"
    table.write_text(json.dumps({"version": "1.0", "server_count": "1", "status": "completed",
                                 "server_list": [{"server_id": "10.0.0.1", "device": [
                                     {"device_id": "0", "device_ip": "192.168.1.1",
                                      "rank_id": "0"},
                                     {"device_id": "1", "device_ip": "192.168.1.2",
                                      "rank_id": "1"}]}]}))
    monkeypatch.setenv("RANK_SIZE", "2")
    monkeypatch.setenv("RANK_ID", "0")
    monkeypatch.setenv("RANK_TABLE_FILE", str(table))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    return table


def test_npu_runtime_with_a_test_double(monkeypatch, two_npu_ranks):
    """Options before open, NPU loss-scale optimizer, broadcast once, all_reduce result used.

    Mock: no Ascend NPU or npu_device exists on this machine, so a double stands in for it.
    """
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("auto", "mixed", npu_options={"no_such_option": 1,
                                                         "op_debug_level": 0})
    assert runtime.device == "npu" and runtime.num_replicas == 2
    assert fake.calls.index("option:precision_mode=allow_mix_precision") < fake.calls.index("open")
    assert "option:op_debug_level=0" in fake.calls  # known extra option applied
    assert fake.calls.index("open") < fake.calls.index("as_default")

    task, data, model, optimizer, trainer = _toy_trainer(runtime)
    assert "NpuLossScaleOptimizer" in fake.calls
    batch = next(iter(task.train_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    assert [c for c in fake.calls if c.startswith("broadcast")] == [
        "broadcast:{}".format(len(model.variables))]
    before = [v.numpy().copy() for v in model.trainable_variables]
    trainer.train_step(batch)
    assert any(c.startswith("all_reduce") for c in fake.calls)
    for b, v in zip(before, model.trainable_variables):  # zeros from all_reduce were applied
        np.testing.assert_array_equal(b, v.numpy())


def test_npu_fp32_keeps_dtype(monkeypatch):
    """Mock: no Ascend hardware here; checks the fp32 precision mode sent to npu_device."""
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    monkeypatch.delenv("RANK_SIZE", raising=False)
    runtime = rt.configure("npu", "fp32")
    assert "option:precision_mode=must_keep_origin_dtype" in fake.calls
    assert not runtime.loss_scaling and runtime.num_replicas == 1


def test_npu_ranks_skip_an_overflowing_step_together(monkeypatch, two_npu_ranks):
    """The loss-scale decision is taken on the ALL-REDUCED gradients, which every rank shares:
    an overflow on the other rank makes this rank skip the step and lower its scale too.

    Mock: no Ascend cluster here; the double's all_reduce adds what "rank 1" contributes.
    """
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("npu", "mixed")
    task, data, model, optimizer, trainer = _toy_trainer(runtime)
    batch = next(iter(task.train_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    scale = compat.current_loss_scale(optimizer)
    before = [v.numpy().copy() for v in model.trainable_variables]
    fake.other_rank_factor = tf.Variable(float("inf"))  # rank 1 overflowed
    trainer.train_step(batch)
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())
    assert compat.current_loss_scale(optimizer) < scale
    fake.other_rank_factor.assign(1.0)  # rank 1 computed the same finite gradient
    trainer.train_step(batch)
    assert any(np.any(b != v.numpy()) for b, v in zip(before, model.trainable_variables))


def test_npu_ranks_read_their_own_share_of_each_global_batch(monkeypatch, two_npu_ranks):
    """Rank r trains the r-th half of every global batch, so the two ranks together train
    exactly what one process would. Mock: npu_device double, no Ascend hardware here."""
    task = ToyTask()
    data = task.prepare(task.data_config_cls(n=128), 0, None)
    whole = [b["x"].numpy() for b in task.train_dataset(data, 32, 0, 0).take(3)]
    halves = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK_ID", rank)
        monkeypatch.setitem(sys.modules, "npu_device", FakeNpuDevice())  # a fresh process
        runtime = rt.configure("npu", "fp32")
        assert runtime.cluster.worker_id == int(rank) and runtime.is_chief == (rank == "0")

        def make_batches(batch_size, shard):
            return task.train_dataset(data, batch_size, 0, 0, shard=shard)

        halves.append([b["x"].numpy() for b in
                       runtime.distribute_batches(make_batches, 32, first_step=1, num_steps=3)])
    assert [len(h) for h in halves] == [2, 2]  # steps 1 and 2 of 3
    for step in (1, 2):
        joined = np.concatenate([halves[0][step - 1], halves[1][step - 1]])
        np.testing.assert_array_equal(joined, whole[step])


def test_npu_regulariser_counted_once_over_ranks(monkeypatch, two_npu_ranks):
    """Each rank divides its regulariser by the rank count before the gradients are summed.
    Mock: npu_device double (its all_reduce returns the local gradient: one rank's share)."""
    fake = FakeNpuDevice()
    fake.other_rank_factor = tf.Variable(0.0)
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("npu", "fp32")
    task, data, model, _, trainer = _toy_trainer(runtime, l2=1.0, learning_rate=0.1)
    batch = next(iter(task.train_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    per_example = task.loss(model, batch, training=True)
    expected = float(tf.reduce_sum(per_example)) / 32 + float(tf.add_n(model.losses)) / 2
    assert abs(float(trainer.train_step(batch)) - expected) < 1e-5
