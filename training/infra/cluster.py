"""Who else is training: the cluster a process belongs to, read from its environment.

Two launchers exist and npurec follows each one's own convention (no home-made rendezvous):

* ``TF_CONFIG`` (JSON) for CPU/GPU clusters, trained with ``MultiWorkerMirroredStrategy``::

      {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
       "task": {"type": "worker", "index": 0}}

  (an optional single ``chief`` job is worker 0; ``ps`` and ``evaluator`` jobs are refused:
  npurec trains by all-reduce, with no parameter servers or side-car evaluators).
* ``RANK_SIZE`` / ``RANK_ID`` / ``RANK_TABLE_FILE`` for Ascend NPUs, one process per device,
  gradients all-reduced over HCCL by ``npu_device.distribute``.

This module is pure Python and touches no TensorFlow state, so a bad environment is refused
(exit code 2) before any worker starts waiting for its peers: every worker reads the same
environment layout and reaches the same verdict.
"""
from __future__ import absolute_import, division, print_function

import errno
import json
import os
import socket
import time

from core import files
from core.errors import DataError, UsageError, WorkerLostError
from core.numbers import parse_whole

ENGINES = ("single", "tf", "npu")
_TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                      '"task": {"type": "worker", "index": 0}}')


class ClusterError(UsageError):
    """A cluster environment (TF_CONFIG, RANK_*) that cannot be trained on as given."""


class Cluster(object):
    """The processes of one training job, as seen by this process.

    Attributes:
      engine: ``single`` (one process), ``tf`` (TF_CONFIG, MultiWorkerMirroredStrategy) or
        ``npu`` (RANK_* variables, npu_device collectives).
      num_workers: processes in the job.
      worker_id: this process's place in ``0 .. num_workers - 1``; 0 is the chief.
      source: the variables it was read from (for messages and metrics.json).
    """

    def __init__(self, engine="single", num_workers=1, worker_id=0, source="",
                 rank_table=None, addresses=()):
        self.addresses = tuple(addresses)  # TF_CONFIG: every worker's host:port, in id order
        self.engine = engine
        self.num_workers = int(num_workers)
        self.worker_id = int(worker_id)
        self.source = source
        self.rank_table = rank_table

    @property
    def is_chief(self):
        """The one process that writes the run directory (checkpoints, logs, metrics)."""
        return self.worker_id == 0

    @property
    def distributed(self):
        """True with more than one worker."""
        return self.num_workers > 1

    def describe(self):
        """The cluster as a JSON-able dict (engine, workers, this worker, where it was read).

        Returns:
          A dict.
        """
        return {"engine": self.engine, "workers": self.num_workers,
                "worker_id": self.worker_id, "source": self.source}

    def __repr__(self):
        return "Cluster({})".format(self.describe())


def detect(environ=None, required=False):
    """The :class:`Cluster` described by ``environ`` (default ``os.environ``).

    Args:
      environ: mapping of environment variables.
      required: ``--distributed`` was given: refuse to fall back to one process.

    Returns:
      A :class:`Cluster` (one worker when the environment names none).

    Raises:
      ClusterError: naming the variable, the value and what was expected.
    """
    environ = os.environ if environ is None else environ
    tf_config = environ.get("TF_CONFIG", "").strip()
    rank_size = environ.get("RANK_SIZE", "").strip()
    _refuse_cm_launcher(environ, rank_size)
    tf_cluster = parse_tf_config(tf_config) if tf_config else None
    npu_cluster = parse_npu_ranks(environ) if rank_size else None
    if tf_cluster is not None and tf_cluster.distributed \
            and npu_cluster is not None and npu_cluster.distributed:
        raise ClusterError(
            "both TF_CONFIG ({} workers) and RANK_SIZE={} are set: use TF_CONFIG for CPU/GPU "
            "clusters or RANK_SIZE/RANK_ID/RANK_TABLE_FILE for Ascend NPUs, not both".format(
                tf_cluster.num_workers, rank_size))
    for found in (tf_cluster, npu_cluster):
        if found is not None and found.distributed:
            return found
    if required:
        raise ClusterError(
            "--distributed: no cluster found in the environment. Set TF_CONFIG (CPU/GPU "
            "workers, e.g. {}) or RANK_SIZE, RANK_ID and RANK_TABLE_FILE (Ascend NPUs) for "
            "every process; with one worker, drop --distributed".format(_TF_CONFIG_EXAMPLE))
    return Cluster()


# Ascend's adapter can also be launched by its "CM" launcher (CM_CHIEF_IP, CM_CHIEF_PORT,
# CM_CHIEF_DEVICE, CM_WORKER_SIZE, CM_WORKER_IP) instead of an HCCL rank table. This loop
# shards data and counts replicas from RANK_SIZE/RANK_ID only, so such a job would run as N
# independent single-device trainings: refuse it and say what to set instead.
_CM_VARIABLES = ("CM_CHIEF_IP", "CM_CHIEF_PORT", "CM_CHIEF_DEVICE", "CM_WORKER_SIZE",
                 "CM_WORKER_IP")


def _refuse_cm_launcher(environ, rank_size):
    present = [name for name in _CM_VARIABLES if environ.get(name, "").strip()]
    if not present:
        return
    size = environ.get("CM_WORKER_SIZE", "").strip()
    if size in ("", "1") and not rank_size:
        return  # one worker: nothing to coordinate
    raise ClusterError(
        "{} {} set: the Ascend CM launcher is not supported by npurec's loop (it reads "
        "the cluster from RANK_SIZE/RANK_ID/RANK_TABLE_FILE), and the ranks would train as "
        "independent jobs. Launch every process with RANK_SIZE, RANK_ID and RANK_TABLE_FILE "
        "(an HCCL rank table) and unset {}".format(
            ", ".join("{}={}".format(n, environ[n]) for n in present),
            "is" if len(present) == 1 else "are", ", ".join(present)))


def parse_tf_config(text):
    """Validate a ``TF_CONFIG`` string and return its :class:`Cluster`.

    Args:
      text: the ``TF_CONFIG`` JSON.

    Returns:
      A :class:`Cluster` (engine ``tf``).

    Raises:
      ClusterError: not JSON, no worker list, a task type or index that is not in it.
    """
    try:
        config = json.loads(text)
    except RecursionError:
        raise ClusterError("TF_CONFIG is nested too deeply to read: {!r}".format(
            _shorten(text)))
    except ValueError as err:
        raise ClusterError("TF_CONFIG is not valid JSON ({}): {!r}; expected e.g. {}".format(
            err, _shorten(text), _TF_CONFIG_EXAMPLE))
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) \
            or not isinstance(config.get("task"), dict):
        raise ClusterError("TF_CONFIG needs a \"cluster\" object and a \"task\" object, e.g. "
                           "{}; got {!r}".format(_TF_CONFIG_EXAMPLE, _shorten(text)))
    cluster, task = config["cluster"], config["task"]
    unsupported = sorted(set(cluster) - {"chief", "worker"})
    if unsupported:
        raise ClusterError(
            "TF_CONFIG cluster has job(s) {}: npurec trains with MultiWorkerMirroredStrategy "
            "(all-reduce over \"chief\"/\"worker\" jobs), without parameter servers or "
            "evaluator tasks".format(", ".join(repr(j) for j in unsupported)))
    seen = {}
    for job in ("chief", "worker"):
        addresses = cluster.get(job, [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ClusterError("TF_CONFIG cluster.{} must be a list of \"host:port\" strings, "
                               "got {!r}".format(job, addresses))
        for index, address in enumerate(addresses):
            host, _, port = address.rpartition(":")
            number = parse_whole(port)  # "２２２２" (non-ASCII digits) is not a port
            if not host or number is None or not 1 <= number <= 65535:
                raise ClusterError("TF_CONFIG cluster.{}[{}] = {!r} is not \"host:port\" (a "
                                   "port is 1 to 65535 in ASCII digits)".format(
                                       job, index, address))
            if address in seen:
                raise ClusterError(
                    "TF_CONFIG names the worker at {} twice ({} and {}[{}]): every worker "
                    "needs its own host:port".format(address, seen[address], job, index))
            seen[address] = "{}[{}]".format(job, index)
    chiefs, workers = cluster.get("chief", []), cluster.get("worker", [])
    if len(chiefs) > 1:
        raise ClusterError("TF_CONFIG cluster.chief lists {} addresses; at most one chief "
                           "exists".format(len(chiefs)))
    task_type, index = task.get("type"), task.get("index")
    jobs = {"chief": chiefs, "worker": workers}
    if task_type not in jobs or not jobs[task_type]:
        raise ClusterError("TF_CONFIG task.type {!r} is not a job of its cluster ({})".format(
            task_type, ", ".join(j for j in jobs if jobs[j]) or "empty"))
    if not isinstance(index, int) or isinstance(index, bool) \
            or not 0 <= index < len(jobs[task_type]):
        raise ClusterError("TF_CONFIG task.index {!r} is out of range: cluster.{} has {} "
                           "address(es)".format(index, task_type, len(jobs[task_type])))
    worker_id = index if task_type == "chief" else index + len(chiefs)
    return Cluster("tf", len(chiefs) + len(workers), worker_id,
                   source="TF_CONFIG task {}[{}]".format(task_type, index),
                   addresses=list(chiefs) + list(workers))


def parse_npu_ranks(environ):
    """Validate ``RANK_SIZE``, ``RANK_ID`` and ``RANK_TABLE_FILE``; return the :class:`Cluster`.

    Args:
      environ: the environment.

    Returns:
      A :class:`Cluster` (engine ``npu``).

    Raises:
      ClusterError: a bad count or rank, a missing or malformed rank table.
    """
    size = _int_variable(environ, "RANK_SIZE", 1)
    rank = _int_variable(environ, "RANK_ID", 0)
    if size < 1:
        raise ClusterError("RANK_SIZE={} must be >= 1".format(size))
    if not 0 <= rank < size:
        raise ClusterError("RANK_ID={} must be in 0..{} (RANK_SIZE={})".format(
            rank, size - 1, size))
    if size == 1:
        return Cluster("npu", 1, 0, source="RANK_SIZE=1")
    table = environ.get("RANK_TABLE_FILE", "").strip()
    if not table:
        raise ClusterError(
            "RANK_SIZE={} needs RANK_TABLE_FILE: the HCCL rank table (JSON) naming every "
            "device of the job; set it for every rank".format(size))
    if not os.path.isfile(table):
        raise ClusterError("RANK_TABLE_FILE={} does not exist (RANK_SIZE={})".format(
            table, size))
    devices = _rank_table_devices(table)
    if devices is not None and devices != size:
        raise ClusterError("RANK_TABLE_FILE {} lists {} device(s) but RANK_SIZE={}".format(
            table, devices, size))
    return Cluster("npu", size, rank, source="RANK_ID={}/RANK_SIZE={}".format(rank, size),
                   rank_table=table)


def _rank_table_devices(path):
    """Devices listed by an HCCL rank table (``server_list[].device[]``); None if not listed."""
    try:
        table = files.load_json(path, "RANK_TABLE_FILE")
    except DataError as err:
        raise ClusterError("RANK_TABLE_FILE {}".format(err))
    servers = table.get("server_list") if isinstance(table, dict) else None
    if not isinstance(servers, list):
        return None
    count = 0
    for index, server in enumerate(servers):
        devices = server.get("device", []) if isinstance(server, dict) else None
        if not isinstance(devices, list):  # a number here ended in a TypeError
            raise ClusterError("RANK_TABLE_FILE {}: server_list[{}].device must be a list of "
                               "devices, got {!r}".format(path, index, devices)[:300])
        count += len(devices)
    return count


def _int_variable(environ, name, default):
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    value = parse_whole(raw)
    if value is None:
        raise ClusterError("{}={!r} is not a whole number in ASCII digits".format(name, raw))
    return value


def _shorten(text, limit=120):
    return text if len(text) <= limit else text[:limit] + "..."


#: how long a worker waits for its peers before it gives up (NPUREC_PEER_TIMEOUT overrides)
PEER_TIMEOUT_S = 900


def wait_for_peers(cluster, timeout=None, poll=0.5):
    """Claim this worker's port and wait until every peer's answers, in Python.

    Why: TensorFlow's own rendezvous (creating ``MultiWorkerMirroredStrategy``) blocks in C++
    holding the interpreter: a lone worker ignored Ctrl-C and SIGTERM and waited forever, and
    a port already in use ended in "Could not start gRPC server" naming no port. Here the
    wait is interruptible (Ctrl-C: exit 130), bounded, and names what it waits for; the
    strategy is created only once every peer is listening (its own temporary socket, then
    its gRPC server, on its port).

    Args:
      cluster: a ``tf`` :class:`Cluster` with its addresses.
      timeout: seconds (default ``NPUREC_PEER_TIMEOUT`` or :data:`PEER_TIMEOUT_S`).
      poll: seconds between tries.

    Raises:
      ClusterError: this worker's port is in use by another process.
      WorkerLostError: a peer did not answer in time (exit 3; it names them).
    """
    if not cluster.distributed or len(cluster.addresses) != cluster.num_workers:
        return
    if timeout is None:
        raw = os.environ.get("NPUREC_PEER_TIMEOUT", "").strip()
        timeout = parse_whole(raw) if raw else PEER_TIMEOUT_S
        if timeout is None:
            raise ClusterError("NPUREC_PEER_TIMEOUT={!r} is not a whole number of "
                               "seconds".format(raw))
    own = cluster.addresses[cluster.worker_id]
    port = int(own.rpartition(":")[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("", port))
    except OSError as err:
        listener.close()
        if err.errno == errno.EADDRINUSE:
            raise ClusterError("{}: this worker's address {} is in use by another process on "
                               "this machine (port {}); stop it, or give this worker another "
                               "port in every worker's TF_CONFIG".format(cluster.source, own,
                                                                         port))
        raise ClusterError("{}: cannot listen on {} ({})".format(cluster.source, own,
                                                                 err.strerror or err))
    listener.listen(64)
    pending = [a for i, a in enumerate(cluster.addresses) if i != cluster.worker_id]
    deadline = time.time() + timeout
    try:
        while pending:
            for address in list(pending):
                host, _, peer_port = address.rpartition(":")
                try:
                    socket.create_connection((host.strip("[]"), int(peer_port)),
                                             timeout=min(2.0, poll * 4)).close()
                    pending.remove(address)
                except OSError:
                    pass
            if pending and time.time() > deadline:
                raise WorkerLostError(
                    "{}: waited {} s for worker(s) {} of TF_CONFIG; start every worker with "
                    "the same cluster list, or check the addresses (NPUREC_PEER_TIMEOUT sets "
                    "the wait)".format(cluster.source, timeout, ", ".join(pending)))
            if pending:
                time.sleep(poll)
    finally:
        listener.close()


def check_batch(cluster, global_batch_size):
    """Refuse a global batch that the workers cannot split evenly (static shapes).

    Args:
      cluster: the job's :class:`Cluster`.
      global_batch_size: ``train.batch_size``.

    Raises:
      ClusterError: the batch does not divide over the workers.
    """
    if global_batch_size % cluster.num_workers:
        raise ClusterError(
            "train.batch_size ({}) is the GLOBAL batch and must divide evenly over the {} "
            "workers ({}); use a multiple of {}, e.g. {}".format(
                global_batch_size, cluster.num_workers, cluster.source, cluster.num_workers,
                (global_batch_size // cluster.num_workers + 1) * cluster.num_workers))
