"""The ONLY module that knows about npu_device, GPUs, dtype policies and tf.distribute.

Call :func:`configure` once at the entry point, BEFORE any model or optimizer exists. It returns
a :class:`Runtime` holding the strategy, the compute dtype and an optimizer factory; the loop
uses it for the three mixed-precision touch points (policy here, optimizer wrapping in
:meth:`Runtime.make_optimizer`, loss scaling in the step through :mod:`core.compat`).

Devices:

* ``npu``: ``import npu_device`` lazily; set ``npu_device.global_options()`` (precision mode)
  BEFORE ``npu_device.open().as_default()``; loss scaling through
  ``npu_device.train.optimizer.NpuLossScaleOptimizer``; with several NPUs (``RANK_SIZE`` > 1)
  variables are broadcast once after build and gradients ``all_reduce``-d (the call returns new
  tensors, which are the ones applied). The NPU compiles whole graphs, so shapes stay static.
* ``gpu``: ``mixed_float16`` policy with dynamic loss scaling, or ``mixed_bfloat16`` without it;
  ``MirroredStrategy`` over several GPUs.
* ``cpu``: fp32 by default; ``mixed``/``bf16`` are allowed so tests can exercise those paths.
* ``auto``: NPU if npu_device imports, else GPU if one is visible, else CPU.

Clusters (:mod:`training.infra.cluster`): a ``TF_CONFIG`` naming several workers gives a
``MultiWorkerMirroredStrategy`` on CPU or GPU (created first: it waits for every worker);
``RANK_SIZE`` > 1 gives one NPU rank per process. Either way :meth:`Runtime.distribute_batches`
hands each input pipeline its own share of every global batch (see
:class:`training.infra.sharding.InputShard`).
"""
from __future__ import absolute_import, division, print_function

import logging
import signal
import threading
import re

import tensorflow as tf

from core import compat
from models import replicas
from core.precision import DEVICES, KERAS_POLICY, NPU_PRECISION_MODE, PRECISIONS
from training.infra import optimizers
from training.infra.cluster import Cluster, detect, wait_for_peers
from core.errors import UsageError
from training.infra.sharding import InputShard

log = logging.getLogger("npurec.runtime")



class RuntimeSetupError(UsageError):
    """A runtime that cannot be set up as asked (bad device/precision, missing npu_device)."""


class Runtime(object):
    """What the loop needs to know about the machine.

    Attributes:
      device: the device actually chosen (``npu``, ``gpu`` or ``cpu``).
      precision: ``fp32``, ``mixed`` or ``bf16``.
      policy: the Keras global dtype policy name that was set.
      strategy: the ``tf.distribute`` strategy (default strategy on one device).
      loss_scaling: whether losses are scaled (fp16 on GPU/CPU, or mixed on NPU).
      reason: why this device was chosen (logged and written to ``metrics.json``).
      cluster: the :class:`training.infra.cluster.Cluster` this process belongs to.
    """

    def __init__(self, device, precision, policy, strategy, loss_scaling, reason,
                 npu=None, cluster=None):
        self.device = device
        self.precision = precision
        self.policy = policy
        self.strategy = strategy
        self.loss_scaling = loss_scaling
        self.reason = reason
        self._npu = npu
        self.cluster = cluster or Cluster()
        self.deterministic = False

    @property
    def npu_rank_size(self):
        """NPU processes whose gradients are all-reduced by npu_device (1 elsewhere)."""
        return self.cluster.num_workers if self.cluster.engine == "npu" else 1

    @property
    def is_chief(self):
        """True for the process that writes the run directory."""
        return self.cluster.is_chief

    @property
    def compute_dtype(self):
        """The compute dtype of the global policy (float32, float16 or bfloat16)."""
        return tf.as_dtype(compat.keras.mixed_precision.global_policy().compute_dtype)

    @property
    def num_replicas(self):
        """Replicas whose batches form one global batch (strategy replicas x NPU ranks)."""
        return self.strategy.num_replicas_in_sync * self.npu_rank_size

    def make_optimizer(self, name, learning_rate, clipnorm=None):
        """Build the optimizer, wrapped for loss scaling when this runtime needs it.

        Must be called under ``strategy.scope()`` (the loop does) so slots are mirrored.

        Args:
          name: the optimizer's name (:func:`training.infra.optimizers.make_optimizer`).
          learning_rate: the learning rate.
          clipnorm: global-norm clipping, or None.

        Returns:
          The optimizer (loss-scale wrapped on ``mixed``; the NPU's own wrapper there).
        """
        optimizer = optimizers.make_optimizer(name, learning_rate, clipnorm=clipnorm)
        if not self.loss_scaling:
            return optimizer
        if self.device == "npu":
            return self._npu.train.optimizer.NpuLossScaleOptimizer(optimizer, dynamic=True)
        return compat.loss_scale_optimizer(optimizer)

    def reduce_gradients(self, grads):
        """All-reduce (sum) gradients over NPU ranks. Uses the RETURNED tensors.

        Each rank's loss is already divided by the GLOBAL batch, so the sum is the mean
        gradient of the global batch. Under a tf.distribute strategy the optimizer
        aggregates itself, so this is the identity there.

        Args:
          grads: this rank's gradients.

        Returns:
          The summed gradients (the input unchanged off the NPU).
        """
        if self._npu is not None and self.npu_rank_size > 1:
            return self._npu.distribute.all_reduce(grads, "sum")
        return grads

    def distribute_batches(self, make_batches, global_batch_size, first_step=0, num_steps=None):
        """What this process iterates over to feed its replicas ``global_batch_size`` per step.

        ``make_batches(per_replica_batch_size, shard)`` must return the per-replica batches
        in the task's global order, keeping only those ``shard`` (an :class:`InputShard`)
        selects. Under a strategy this goes through ``distribute_datasets_from_function``
        (one input pipeline per worker, told its place by the ``InputContext``); on NPU
        ranks each rank reads its own shard as a plain dataset. Either way global step ``s``
        trains exactly the examples a single process would train at step ``s``.

        Args:
          make_batches: ``(per_replica_batch, shard) -> tf.data.Dataset`` of this shard's batches.
          global_batch_size: the batch summed over replicas.
          first_step: steps of the epoch already done (a resume).
          num_steps: steps of the epoch.

        Returns:
          An iterable of per-replica batches.
        """
        per_replica = global_batch_size // self.num_replicas
        if self.npu_rank_size > 1:
            shard = InputShard(self.npu_rank_size, self.cluster.worker_id, 1,
                               first_step, num_steps)
            return make_batches(per_replica, shard)

        def dataset_fn(context):
            return make_batches(per_replica,
                                InputShard.from_context(context, first_step, num_steps))

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def gather_from_workers(self, value):
        """``value`` (a number) from every worker of a tf.distribute cluster, as a list.

        Lets workers check that they agree (e.g. on the step they resumed from) before the first
        collective training step would hang on a disagreement. One process: ``[value]``.

        Args:
          value: a number.

        Returns:
          A list, one value per worker (``[value]`` with one worker).
        """
        if not (self.cluster.engine == "tf" and self.cluster.distributed):
            return [value]
        local = tf.constant([float(value)], tf.float64)
        gathered = self.strategy.gather(self.strategy.run(lambda: tf.identity(local)), axis=0)
        return [float(v) for v in gathered.numpy()]

    def broadcast_variables(self, variables):
        """Make every NPU rank start from rank 0's weights (once, after the model is built).

        Args:
          variables: the model's variables.
        """
        if self._npu is not None and self.npu_rank_size > 1:
            self._npu.distribute.broadcast(list(variables), root_rank=0)

    def describe(self):
        """The runtime as a JSON-able dict for ``metrics.json`` (device, precision, policy, replicas, ...).

        Returns:
          A dict.
        """
        return {
            "device": self.device,
            "precision": self.precision,
            "policy": self.policy,
            "strategy": type(self.strategy).__name__,
            "replicas": self.num_replicas,
            "loss_scaling": self.loss_scaling,
            "reason": self.reason,
            "cluster": self.cluster.describe(),
            "deterministic": self.deterministic,
        }


_NPU_IMPORT_FAILURE = []  # why an installed npu_device could not be imported (for messages)


def _import_npu_device():
    """Import npu_device lazily; None when it is absent or broken.

    An installed npu_device whose native libraries (CANN, libascendcl) are missing or of
    another version fails with OSError, RuntimeError, an undefined symbol... not only
    ImportError; that is a reason to fall back (``--device auto``) or to refuse
    (``--device npu``) with the cause, never a traceback.
    """
    del _NPU_IMPORT_FAILURE[:]
    try:
        import npu_device  # pylint: disable=import-error,import-outside-toplevel
    except ImportError as err:
        if getattr(err, "name", None) != "npu_device":  # installed, but something it needs
            _NPU_IMPORT_FAILURE.append("{}: {}".format(type(err).__name__, err))
        return None
    except Exception as err:  # pylint: disable=broad-except
        _NPU_IMPORT_FAILURE.append("{}: {}".format(type(err).__name__, err))
        return None
    return npu_device


def _option_value(current):
    """An npu_device option's value (its OptionValue-like wrapper's ``.value``, or itself)."""
    return getattr(current, "value", current)


def _coerce_npu_value(current, value, where):
    """A value given as text in a config file, as the option's type (bool/int/float)."""
    if not isinstance(value, str):
        return value
    allowed = list(getattr(current, "optional", None) or [])
    kinds = {type(v) for v in allowed + [_option_value(current)] if v is not None}
    text = value.strip().lower()
    if bool in kinds and text in ("true", "false", "1", "0"):
        return text in ("true", "1")
    if int in kinds and re.match(r"^[+-]?\d+$", text):
        return int(text)
    if float in kinds:
        try:
            return float(text)
        except ValueError:
            raise RuntimeSetupError("runtime.npu_options.{}: {!r} is not a number".format(
                where, value))
    return value


def _set_npu_option(options, name, value, prefix=""):
    """Set one npu_device global option, or a mapping of them on a sub-config
    (``dump_config``, ``profiling_config``...), and read it back.

    Unknown names, values npu_device refuses and values that do not read back as set are a
    :class:`RuntimeSetupError` naming the option: an option that was asked for and not
    applied must not look applied.
    """
    where = prefix + name
    if "." in name:
        head, rest = name.split(".", 1)
        return _set_npu_option(_npu_child(options, head, prefix), rest, value,
                               prefix + head + ".")
    if isinstance(value, dict):
        child = _npu_child(options, name, prefix)
        for key, item in sorted(value.items()):
            _set_npu_option(child, key, item, where + ".")
        return
    current = getattr(options, name, _MISSING)
    if current is _MISSING:
        raise RuntimeSetupError("runtime.npu_options.{}: npu_device has no such option".format(
            where))
    coerced = _coerce_npu_value(current, value, where)
    try:
        setattr(options, name, coerced)
    except Exception as err:  # pylint: disable=broad-except
        allowed = getattr(current, "optional", None)
        raise RuntimeSetupError("runtime.npu_options.{}: npu_device refused {!r} ({}){}".format(
            where, value, err, "; allowed: {}".format(allowed) if allowed else ""))
    applied = _option_value(getattr(options, name, _MISSING))
    if applied != coerced:
        raise RuntimeSetupError("runtime.npu_options.{}: set to {!r} but npu_device reads back "
                                "{!r}; not applied".format(where, coerced, applied))


_MISSING = object()


def _npu_child(options, name, prefix):
    child = getattr(options, name, _MISSING)
    if child is _MISSING or isinstance(_option_value(child), (bool, int, float, str)) \
            or child is None:
        raise RuntimeSetupError("runtime.npu_options.{}{}: npu_device has no such group of "
                                "options".format(prefix, name))
    return child


def _visible_gpus():
    return tf.config.list_physical_devices("GPU")


def _resolve_device(device):
    if device == "auto":
        if _import_npu_device() is not None:
            return "npu", "auto: npu_device imported"
        if _NPU_IMPORT_FAILURE:
            log.warning("npu_device is installed but cannot be imported (%s): not using the "
                        "NPU", _NPU_IMPORT_FAILURE[0])
        gpus = _visible_gpus()
        if gpus:
            return "gpu", "auto: {} GPU(s) visible, npu_device not installed".format(len(gpus))
        return "cpu", "auto: {} and no visible GPU".format(
            "npu_device broken ({})".format(_NPU_IMPORT_FAILURE[0][:120])
            if _NPU_IMPORT_FAILURE else "no npu_device")
    return device, "requested --device {}".format(device)


def configure(device="auto", precision="fp32", npu_options=None, cpu_replicas=1, cluster=None,
              deterministic=False):
    """Set up the process for ``device`` and ``precision``; return a :class:`Runtime`.

    Args:
      device: ``auto``, ``npu``, ``gpu`` or ``cpu``.
      precision: ``fp32``, ``mixed`` (fp16 compute, dynamic loss scaling) or ``bf16``
        (bfloat16 compute, no loss scaling needed).
      npu_options: extra ``npu_device.global_options()`` fields to set (name -> value).
      cpu_replicas: on CPU, split the CPU into this many logical devices and mirror over them
        (used by tests to check data-parallel arithmetic without GPUs). Must be called before
        TensorFlow initialises its devices.
      cluster: the :class:`training.infra.cluster.Cluster` of this process (default: read from the
        environment by :func:`training.infra.cluster.detect`).
        A multi-worker ``tf`` cluster blocks here until every worker has started.
      deterministic: bit-identical reruns of the same seed: one inter-op thread (independent
        ops of a step then run in a fixed order; with several, the order in which the
        gradient pieces of a variable used several times are produced changes the float
        rounding of their sum) plus TensorFlow's op determinism. Must come before TensorFlow
        creates its context (the first op).

    Returns:
      A :class:`Runtime`.

    Raises:
      RuntimeSetupError: with a message naming what is wrong and what to do.
    """
    if device not in DEVICES:
        raise RuntimeSetupError(
            "--device ({!r}) must be one of {}".format(device, ", ".join(DEVICES)))
    if precision not in PRECISIONS:
        raise RuntimeSetupError(
            "--precision ({!r}) must be one of {}".format(precision, ", ".join(PRECISIONS)))
    cluster = detect() if cluster is None else cluster
    if deterministic:
        _make_deterministic()
    device, reason = _resolve_device(device)
    _check_engine(device, cluster, cpu_replicas)
    if device == "npu":
        runtime = _configure_npu(precision, npu_options or {}, reason, cluster)
    elif cluster.engine == "tf" and cluster.distributed:
        runtime = _configure_multi_worker(device, precision, reason, cluster)
    elif device == "gpu":
        runtime = _configure_gpu(precision, reason)
    else:
        runtime = _configure_cpu(precision, reason, cpu_replicas)
    runtime.deterministic = bool(deterministic)
    _register_outer_replicas(runtime)
    log.info("runtime: %s", runtime.describe())
    return runtime


def _register_outer_replicas(runtime):
    """Tell the layers' replica view (:mod:`models.replicas`) about NPU ranks, which
    tf.distribute cannot see, so Dice and DIN's regulariser use the global batch there too."""
    npu = runtime._npu  # pylint: disable=protected-access
    if npu is not None and runtime.npu_rank_size > 1:
        replicas.use_outer_group(runtime.npu_rank_size,
                                 lambda values: npu.distribute.all_reduce(values, "sum"))
    else:
        replicas.use_outer_group(1)


def _make_deterministic():
    try:
        if tf.config.threading.get_inter_op_parallelism_threads() != 1:
            tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as err:  # TensorFlow already started: the setting cannot change now
        raise RuntimeSetupError(
            "runtime.deterministic needs one inter-op thread, which must be set before "
            "TensorFlow runs its first op ({}); configure the runtime first".format(err))
    compat.enable_determinism()


def _policy_for(precision):
    return KERAS_POLICY[precision]


def _check_engine(device, cluster, cpu_replicas):
    """Each cluster engine runs on its own devices; say which when they are mixed up."""
    if not cluster.distributed:
        return
    if cluster.engine == "npu" and device != "npu":
        raise RuntimeSetupError(
            "RANK_SIZE={} launches Ascend NPU ranks, but the device is {}: use --device npu "
            "(npu_device installed), or TF_CONFIG for CPU/GPU workers".format(
                cluster.num_workers, device))
    if cluster.engine == "tf" and device == "npu":
        raise RuntimeSetupError(
            "TF_CONFIG describes {} workers, but the device is npu: Ascend clusters are "
            "launched with RANK_SIZE, RANK_ID and RANK_TABLE_FILE (HCCL), one process per "
            "device; unset TF_CONFIG".format(cluster.num_workers))
    if cluster.engine == "tf" and cpu_replicas > 1:
        raise RuntimeSetupError("runtime.cpu_replicas={} cannot be combined with a TF_CONFIG "
                                "cluster; use one or the other".format(cpu_replicas))


def _configure_multi_worker(device, precision, reason, cluster):
    """MultiWorkerMirroredStrategy from TF_CONFIG, created before anything else touches TF."""
    policy = _policy_for(precision)
    if device == "gpu":
        _prepare_gpus()
        implementation = tf.distribute.experimental.CommunicationImplementation.NCCL
    else:
        implementation = tf.distribute.experimental.CommunicationImplementation.RING
    log.info("waiting for the %d workers of %s (worker %d) ...", cluster.num_workers,
             cluster.source, cluster.worker_id)
    wait_for_peers(cluster)  # interruptible and bounded: TF's own wait is neither
    # TF's rendezvous holds the interpreter: a Python Ctrl-C handler could not run in it, so
    # for its (now short) span Ctrl-C ends the process at once (the shell sees 130)
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=implementation))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if strategy.num_replicas_in_sync % cluster.num_workers:
        raise RuntimeSetupError("workers have different numbers of devices ({} replicas over "
                                "{} workers)".format(strategy.num_replicas_in_sync,
                                                     cluster.num_workers))
    compat.set_global_policy(policy)
    return Runtime(device, precision, policy, strategy,
                   loss_scaling=precision == "mixed",
                   reason="{}; {} workers from TF_CONFIG".format(reason, cluster.num_workers),
                   cluster=cluster)


def _configure_npu(precision, extra_options, reason, cluster):
    npu = _import_npu_device()
    if npu is None:
        raise RuntimeSetupError(
            "--device npu needs the npu_device package (Ascend TF adapter for TF 2.6.5, "
            "Python 3.7-3.9), which is not importable here{}. Install the CANN toolkit and "
            "npu_device (and source CANN's set_env.sh), or use --device auto/gpu/cpu.".format(
                " ({})".format(_NPU_IMPORT_FAILURE[0]) if _NPU_IMPORT_FAILURE else ""))
    options = npu.global_options()
    # Options MUST be set before open(): npu_device reads them when the device is created.
    _set_npu_option(options, "precision_mode", NPU_PRECISION_MODE[precision])
    for name, value in sorted(extra_options.items()):
        _set_npu_option(options, name, value)
    npu.open().as_default()
    # The NPU does its own mixed precision from the graph (precision_mode); Keras keeps fp32
    # variables and compute. Loss scaling guards fp16 gradients in "mixed"/"bf16".
    compat.set_global_policy("float32")
    return Runtime("npu", precision, "float32", tf.distribute.get_strategy(),
                   loss_scaling=precision != "fp32", reason=reason, npu=npu,
                   cluster=cluster if cluster.engine == "npu" else Cluster())


def _prepare_gpus():
    """The visible GPUs, with memory growth on; refuse when there are none."""
    gpus = _visible_gpus()
    if not gpus:
        raise RuntimeSetupError(
            "--device gpu but TensorFlow sees no GPU (check CUDA drivers and that the "
            "tensorflow build has GPU support), or use --device cpu.")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (ValueError, RuntimeError):  # already initialised: keep going
            pass
    return gpus


def _configure_gpu(precision, reason):
    gpus = _prepare_gpus()
    policy = _policy_for(precision)
    compat.set_global_policy(policy)
    strategy = (tf.distribute.MirroredStrategy() if len(gpus) > 1
                else tf.distribute.get_strategy())
    return Runtime("gpu", precision, policy, strategy,
                   loss_scaling=precision == "mixed", reason=reason)


def _configure_cpu(precision, reason, cpu_replicas):
    policy = _policy_for(precision)
    compat.set_global_policy(policy)
    if cpu_replicas > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        except RuntimeError:  # devices already initialised; fine if the split already exists
            pass
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < cpu_replicas:
            raise RuntimeSetupError(
                "cpu_replicas={} but only {} logical CPU devices exist; configure the runtime "
                "before TensorFlow runs any op".format(cpu_replicas, len(logical)))
        strategy = tf.distribute.MirroredStrategy(
            [d.name for d in logical[:cpu_replicas]])
    else:
        strategy = tf.distribute.get_strategy()
    return Runtime("cpu", precision, policy, strategy,
                   loss_scaling=precision == "mixed", reason=reason)


def reset():
    """Restore the float32 policy and a single replica group (tests and notebooks that
    configure several times)."""
    compat.set_global_policy("float32")
    replicas.use_outer_group(1)
