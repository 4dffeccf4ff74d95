"""Runtimes: CPU policies, data-parallel arithmetic, and the NPU path against a test double."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT
from models import replicas
from models.din import DIN
from tests.toy_task import ToyModelConfig, ToyTask
from core import compat
from training.loop.trainer import Trainer
from training.infra.cluster import Cluster
from training.infra import runtime as rt
from training.infra.sharding import epoch_dataset
from tests.fakes.npu_device import FakeNpuDevice


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


@pytest.mark.slow
def test_mirrored_two_cpus_equals_one_device():
    """Same global batch on 1 replica and on MirroredStrategy over 2 logical CPUs; and on 2
    replicas, KeyRange evaluation keys score as the arrays they stand for."""
    proc = subprocess.run([sys.executable, "-m", "tests.training.mirrored_check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["moved"] > 1e-3  # training did change the weights
    assert result["max_diff"] < 1e-5
    assert result["steps"] == [3, 3]
    assert result["key_range_diff"] < 1e-6


def _toy_trainer(runtime, l2=0.0, learning_rate=0.5):
    """The toy task's model and a Trainer for a global batch of 32 on ``runtime`` (SGD)."""
    task = ToyTask(ToyModelConfig(hidden=4, l2=l2), ToyTask.data_config_cls(n=64))
    data = task.prepare(0)
    with runtime.strategy.scope():
        model = task.build_model(data)
        optimizer = runtime.make_optimizer("sgd", learning_rate)
        trainer = Trainer(task, data, model, optimizer, runtime, 32)
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
    yield table
    rt.reset()  # the layers' replica view must not keep the double's ranks for later tests


def test_npu_runtime_with_a_test_double(monkeypatch, two_npu_ranks):
    """Options before open, NPU loss-scale optimizer, broadcast once, all_reduce result used.

    Mock: no Ascend NPU or npu_device exists on this machine, so a double stands in for it.
    """
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("auto", "mixed", npu_options={"op_debug_level": 0})
    assert runtime.device == "npu" and runtime.num_replicas == 2
    assert fake.calls.index("option:precision_mode=allow_mix_precision") < fake.calls.index("open")
    assert "option:op_debug_level=0" in fake.calls  # known extra option applied
    assert fake.calls.index("open") < fake.calls.index("as_default")

    task, data, model, optimizer, trainer = _toy_trainer(runtime)
    assert "NpuLossScaleOptimizer" in fake.calls
    batch = next(iter(epoch_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    assert [c for c in fake.calls if c.startswith("broadcast")] == [
        "broadcast:{}".format(len(model.variables))]
    before = [v.numpy().copy() for v in model.trainable_variables]
    trainer.train_step(batch)
    assert any(c.startswith("all_reduce") for c in fake.calls)
    for b, v in zip(before, model.trainable_variables):  # zeros from all_reduce were applied
        np.testing.assert_array_equal(b, v.numpy())


def test_tasks_declare_what_the_npu_needs_of_their_models():
    """NGNN's and DIN's static_shapes need not be set by hand for NPUs: each task declares it
    (``device_model_options``) and the driver applies it for the device the run got; other
    devices and tasks that declare nothing keep their config as it is."""
    from training.tasks.din import DINModelConfig, DINTask  # pylint: disable=C0415
    from training.tasks.ngnn import NGNNModelConfig, NGNNTask  # pylint: disable=C0415

    default = NGNNModelConfig()
    assert default.static_shapes is False
    assert NGNNTask.model_config_for(default, "cpu") is default
    adapted = NGNNTask.model_config_for(default, "npu")
    assert adapted.static_shapes is True and adapted.hidden == default.hidden
    assert ToyTask.model_config_for(ToyModelConfig(), "npu") == ToyModelConfig()
    din = DINModelConfig()  # DIN's packed attention is data-dependent too
    assert din.static_shapes is False
    assert DINTask.model_config_for(din, "npu").static_shapes is True
    assert DINTask.model_config_for(din, "gpu") is din


def test_npu_fp32_keeps_dtype(monkeypatch):
    """Mock: no Ascend hardware here; checks the fp32 precision mode sent to npu_device."""
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    monkeypatch.delenv("RANK_SIZE", raising=False)
    runtime = rt.configure("npu", "fp32")
    assert "option:precision_mode=must_keep_origin_dtype" in fake.calls
    assert not runtime.loss_scaling and runtime.num_replicas == 1


def test_npu_ranks_skip_an_overflowing_step_together(monkeypatch, two_npu_ranks):
    """The overflow decision is the float-status flag ALL-REDUCED over the ranks inside the
    optimizer: an overflow on the other rank makes this rank skip the step (its own gradients
    are finite) and lower its scale too.

    Mock: no Ascend cluster here; the double models the flag of "rank 1".
    """
    fake = FakeNpuDevice()
    fake.other_rank_factor = tf.Variable(1.0)  # rank 1 computed the same finite gradient
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("npu", "mixed")
    task, data, model, optimizer, trainer = _toy_trainer(runtime)
    batch = next(iter(epoch_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    scale = float(compat.current_loss_scale(optimizer))
    before = [v.numpy().copy() for v in model.trainable_variables]
    fake.other_rank_status.assign(1.0)  # rank 1 overflowed during this step
    trainer.train_step(batch)
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())
    assert float(compat.current_loss_scale(optimizer)) == scale / 2
    fake.other_rank_status.assign(0.0)
    trainer.train_step(batch)
    assert any(np.any(b != v.numpy()) for b, v in zip(before, model.trainable_variables))


def test_a_stale_overflow_flag_from_evaluation_does_not_skip_the_next_step(
        monkeypatch, two_npu_ranks):
    """An evaluation between steps can overflow in fp16 and set the device flag; the loop must
    start each training step through the optimizer's loss scaling, which clears the flag, so
    the next (finite) step is applied and the scale kept.

    Mock: no Ascend NPU here; the double sets the flag the way the hardware would.
    """
    fake = FakeNpuDevice()
    fake.other_rank_factor = tf.Variable(1.0)
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    runtime = rt.configure("npu", "mixed")
    task, data, model, optimizer, trainer = _toy_trainer(runtime)
    batch = next(iter(epoch_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    trainer.train_step(batch)
    scale = float(compat.current_loss_scale(optimizer))
    trainer.score_arrays(data.eval_arrays("validation"), 32)  # evaluation ...
    fake.float_status.assign(1.0)  # ... that overflowed on the device
    before = [v.numpy().copy() for v in model.trainable_variables]
    trainer.train_step(batch)
    assert any(np.any(b != v.numpy()) for b, v in zip(before, model.trainable_variables))
    assert float(compat.current_loss_scale(optimizer)) == scale
    assert float(fake.float_status.numpy()) == 0.0


def test_npu_options_are_typed_nested_and_never_dropped(monkeypatch):
    """Strings from a config file are coerced to the option's type, sub-configs are set
    through mappings or dotted names, and an option npu_device does not have or refuses stops
    the run. Mock: npu_device double (no Ascend hardware here)."""
    monkeypatch.delenv("RANK_SIZE", raising=False)
    fake = FakeNpuDevice()
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    rt.configure("npu", "fp32", npu_options={"op_debug_level": "2",
                                             "dump_config": {"enable_dump": "true"},
                                             "dump_config.dump_path": "/tmp/dump"})
    options = fake.global_options()
    assert options.op_debug_level.value == 2
    assert options.dump_config.enable_dump.value is True
    assert options.dump_config.dump_path.value == "/tmp/dump"
    for bad, needle in (({"no_such_option": 1}, "no_such_option: npu_device has no such"),
                        ({"op_debug_level": "9"}, "op_debug_level: npu_device refused '9'"),
                        ({"dump_config": {"nope": True}}, "dump_config.nope: npu_device has"),
                        ({"op_debug_level": {"x": 1}}, "op_debug_level: npu_device has no "
                                                       "such group")):
        monkeypatch.setitem(sys.modules, "npu_device", FakeNpuDevice())
        with pytest.raises(rt.RuntimeSetupError, match=needle):
            rt.configure("npu", "fp32", npu_options=bad)


def test_a_broken_npu_device_install_falls_back_with_the_reason(monkeypatch, caplog):
    """npu_device installed without its native libraries fails with OSError, not ImportError.
    Mock: a module finder that raises like such an install (no Ascend software here)."""
    monkeypatch.delenv("RANK_SIZE", raising=False)
    monkeypatch.delitem(sys.modules, "npu_device", raising=False)

    class BrokenFinder(object):
        def find_module(self, name, path=None):
            return self if name == "npu_device" else None

        def load_module(self, name):
            raise OSError("libascendcl.so: cannot open shared object file")

        def find_spec(self, name, path=None, target=None):
            if name != "npu_device":
                return None
            import importlib.util  # pylint: disable=import-outside-toplevel

            return importlib.util.spec_from_loader(name, self)

        def create_module(self, spec):
            raise OSError("libascendcl.so: cannot open shared object file")

        def exec_module(self, module):
            pass

    monkeypatch.setattr(sys, "meta_path", [BrokenFinder()] + sys.meta_path)
    with caplog.at_level("WARNING"):
        runtime = rt.configure("auto", "fp32")
    assert runtime.device in ("cpu", "gpu")
    assert "npu_device is installed but cannot be imported (OSError: libascendcl.so" in \
        caplog.text
    assert "npu_device broken" in runtime.reason or runtime.device == "gpu"
    with pytest.raises(rt.RuntimeSetupError, match="not importable here .OSError: libascendcl"):
        rt.configure("npu", "fp32")


@pytest.mark.parametrize("env, ok", [
    ({"CM_CHIEF_IP": "10.0.0.1", "CM_WORKER_SIZE": "2", "CM_CHIEF_PORT": "29688"}, False),
    ({"CM_CHIEF_IP": "10.0.0.1", "CM_WORKER_SIZE": "1"}, True),
])
def test_the_cm_launcher_is_refused_not_run_as_single_jobs(env, ok):
    from training.infra import cluster  # pylint: disable=import-outside-toplevel

    if ok:
        assert not cluster.detect(env).distributed
    else:
        with pytest.raises(cluster.ClusterError, match="CM launcher is not supported.*RANK_SIZE"):
            cluster.detect(env)


def test_npu_ranks_read_their_own_share_of_each_global_batch(monkeypatch, two_npu_ranks):
    """Rank r trains the r-th half of every global batch, so the two ranks together train
    exactly what one process would. Mock: npu_device double, no Ascend hardware here."""
    task = ToyTask(data_config=ToyTask.data_config_cls(n=128))
    data = task.prepare(0)
    whole = [b["x"].numpy() for b in epoch_dataset(data, 32, 0, 0).take(3)]
    halves = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK_ID", rank)
        monkeypatch.setitem(sys.modules, "npu_device", FakeNpuDevice())  # a fresh process
        runtime = rt.configure("npu", "fp32")
        assert runtime.cluster.worker_id == int(rank) and runtime.is_chief == (rank == "0")

        def make_batches(batch_size, shard):
            return epoch_dataset(data, batch_size, 0, 0, shard)

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
    batch = next(iter(epoch_dataset(data, 16, 0, 0)))
    trainer.build(batch)
    per_example = task.loss(model, data, batch, training=True)
    expected = float(tf.reduce_sum(per_example)) / 32 + float(tf.add_n(model.losses)) / 2
    assert abs(float(trainer.train_step(batch)) - expected) < 1e-5


def _din_step(runtime, batch, global_batch, initial=None):
    """One SGD step of DIN (Dice + mini-batch aware L2) through the loop's Trainer."""
    from training.tasks.din import DINTask  # pylint: disable=import-outside-toplevel

    with runtime.strategy.scope():
        model = DIN(30, 5, embedding_dim=4, attention_units=(8,), mlp_units=(8, 4),
                    activation="dice", mba_l2=0.5)
        model.build()
        model.set_frequencies(np.arange(30) % 4 + 1, np.arange(5) + 1)
        trainer = Trainer(DINTask(), None, model, runtime.make_optimizer("sgd", 0.5),
                               runtime, global_batch)
    trainer.build(batch)
    if initial is not None:
        model.set_weights(initial)
    start = model.get_weights()
    trainer.train_step(batch)
    return start, model.get_weights()


def test_npu_ranks_train_dice_and_mba_on_the_global_batch(monkeypatch, two_npu_ranks):
    """Two NPU ranks, each with batch b, take exactly the step one device takes on [b; b]:
    Dice's statistics and the mini-batch aware penalty are those of the GLOBAL batch (through
    models.replicas, which tf.distribute cannot provide for NPU ranks) and the penalty counts
    once. Mock: npu_device double (no Ascend here) whose all_reduce adds the other rank's
    value; the other rank holds the same batch (other_rank_factor=1)."""
    rng = np.random.RandomState(0)
    lens = rng.randint(1, 7, size=8).astype(np.int32)
    slots = np.arange(6)[None, :] < lens[:, None]
    batch = {"hist_items": np.where(slots, rng.randint(1, 30, (8, 6)), 0).astype(np.int32),
             "hist_cats": np.where(slots, rng.randint(1, 5, (8, 6)), 0).astype(np.int32),
             "hist_len": lens, "target_item": rng.randint(1, 30, 8).astype(np.int32),
             "target_cat": rng.randint(1, 5, 8).astype(np.int32),
             "target_count": rng.randint(0, 9, 8).astype(np.float32),
             "hist_feedback": np.where(slots, rng.randint(1, 3, (8, 6)), 0).astype(np.int32),
             "target_rate": rng.uniform(0.2, 0.8, 8).astype(np.float32),
             "target_feedback": rng.normal(size=8).astype(np.float32),
             "prior_events": (lens + 3).astype(np.int32), "prior_positives": lens,
             "prior_cat_events": (lens // 2).astype(np.int32),
             "prior_cat_positives": (lens // 3).astype(np.int32),
             "label": (rng.uniform(size=8) < 0.5).astype(np.float32)}
    doubled = {k: np.concatenate([v, v]) for k, v in batch.items()}
    one = rt.configure("cpu", "fp32", cluster=Cluster())  # one process, whatever RANK_SIZE says
    start, single = _din_step(one, doubled, 16)

    fake = FakeNpuDevice()
    fake.other_rank_factor = tf.Variable(1.0)
    monkeypatch.setitem(sys.modules, "npu_device", fake)
    ranks = rt.configure("npu", "fp32")
    assert replicas.count() == 2
    _, ranked = _din_step(ranks, batch, 16, initial=start)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, single))
    assert moved > 1e-3
    for a, b in zip(single, ranked):
        np.testing.assert_allclose(a, b, atol=1e-5)
