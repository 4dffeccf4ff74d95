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


class FakeNpuDevice(types.ModuleType):
    """A test double of the npu_device API (no Ascend hardware is available here).

    It records the order of calls, refuses options set after ``open()`` and unknown option
    names (as npu_device does), and its ``all_reduce`` returns NEW tensors (zeros), so a loop
    that ignored the returned tensors would still change the weights.
    """

    def __init__(self):
        super(FakeNpuDevice, self).__init__("npu_device")
        self.calls = []
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
            return [tf.zeros_like(tf.convert_to_tensor(v)) for v in values]

        def broadcast(variables, root_rank=0):
            fake.calls.append("broadcast:{}".format(len(variables)))

        self.open = npu_open
        self.train = types.SimpleNamespace(
            optimizer=types.SimpleNamespace(NpuLossScaleOptimizer=loss_scale_optimizer))
        self.distribute = types.SimpleNamespace(all_reduce=all_reduce, broadcast=broadcast)

    def global_options(self):
        self.calls.append("global_options")
        return self._options


def test_npu_runtime_with_a_test_double(monkeypatch):
    """Options before open, NPU loss-scale optimizer, broadcast once, all_reduce result used.

    Mock: no Ascend NPU or npu_device exists on this machine, so a double stands in for it.
    """
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    monkeypatch.setenv("RANK_SIZE", "2")
    runtime = rt.configure("auto", "mixed", npu_options={"no_such_option": 1,
                                                         "op_debug_level": 0})
    assert runtime.device == "npu" and runtime.num_replicas == 2
    assert fake.calls.index("option:precision_mode=allow_mix_precision") < fake.calls.index("open")
    assert "option:op_debug_level=0" in fake.calls  # known extra option applied
    assert fake.calls.index("open") < fake.calls.index("as_default")

    task = ToyTask()
    data = task.prepare(task.data_config_cls(n=64), 0, None)
    with runtime.strategy.scope():
        model = task.build_model(ToyModelConfig(hidden=4), data)
        optimizer = runtime.make_optimizer("sgd", 0.5)
        trainer = loop.Trainer(task, model, optimizer, runtime, 32)
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
