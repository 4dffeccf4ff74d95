"""Cluster environments: TF_CONFIG and RANK_* parsing, and the CLI refusing bad ones (exit 2)
before any worker waits for its peers."""
import json
import os
import subprocess
import sys
import time

import pytest

from core.errors import UsageError
from tests.conftest import ROOT, free_ports as _free_ports
from training.infra import cluster as cl
from training import fit

TOY = "tests.toy_task:ToyTask"


def tf_config(workers, index=0, job="worker", chief=None):
    cluster = {"worker": workers}
    if chief:
        cluster["chief"] = chief
    return json.dumps({"cluster": cluster, "task": {"type": job, "index": index}})


def rank_table(path, devices):
    path.write_text(json.dumps({"version": "1.0", "server_count": "1", "server_list": [
        {"server_id": "10.0.0.1", "device": [
            {"device_id": str(i), "device_ip": "192.168.1.{}".format(i), "rank_id": str(i)}
            for i in range(devices)]}], "status": "completed"}))
    return str(path)


def test_tf_config_workers_and_chief():
    two = cl.detect({"TF_CONFIG": tf_config(["a:1", "b:2"], index=1)})
    assert (two.engine, two.num_workers, two.worker_id, two.is_chief) == ("tf", 2, 1, False)
    chief = cl.detect({"TF_CONFIG": tf_config(["b:2", "c:3"], job="chief", chief=["a:1"])})
    assert (chief.num_workers, chief.worker_id, chief.is_chief) == (3, 0, True)
    worker = cl.detect({"TF_CONFIG": tf_config(["b:2", "c:3"], index=1, chief=["a:1"])})
    assert worker.worker_id == 2
    single = cl.detect({"TF_CONFIG": tf_config(["a:1"])})
    assert not single.distributed and single.engine == "single"  # one worker: no cluster
    assert not cl.detect({}).distributed


@pytest.mark.parametrize("text,needle", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', "needs a \"cluster\" object and a \"task\""),
    (tf_config(["a:1", "a:1"]), "names the worker at a:1 twice (worker[0] and worker[1])"),
    (tf_config(["a:1", "b:2"], job="chief", chief=["b:2"]), "names the worker at b:2 twice"),
    (tf_config(["a:1", "b"]), "cluster.worker[1] = 'b' is not \"host:port\""),
    (tf_config(["a:1", "b:2"], index=2), "task.index 2 is out of range"),
    (tf_config(["a:1", "b:2"], job="ps"), "task.type 'ps' is not a job"),
    (json.dumps({"cluster": {"worker": ["a:1"], "ps": ["p:1"]},
                 "task": {"type": "worker", "index": 0}}), "without parameter servers"),
])
def test_bad_tf_config(text, needle):
    with pytest.raises(cl.ClusterError) as err:
        cl.detect({"TF_CONFIG": text})
    assert needle in str(err.value)


def test_npu_ranks(tmp_path):
    table = rank_table(tmp_path / "table.json", 4)
    ranks = cl.detect({"RANK_SIZE": "4", "RANK_ID": "3", "RANK_TABLE_FILE": table})
    assert (ranks.engine, ranks.num_workers, ranks.worker_id) == ("npu", 4, 3)
    assert ranks.rank_table == table
    assert not cl.detect({"RANK_SIZE": "1"}).distributed


def test_bad_npu_ranks(tmp_path):
    table = rank_table(tmp_path / "table.json", 2)
    cases = [
        ({"RANK_SIZE": "2"}, "RANK_SIZE=2 needs RANK_TABLE_FILE"),
        ({"RANK_SIZE": "2", "RANK_TABLE_FILE": str(tmp_path / "missing.json")},
         "does not exist"),
        ({"RANK_SIZE": "4", "RANK_TABLE_FILE": table}, "lists 2 device(s) but RANK_SIZE=4"),
        ({"RANK_SIZE": "2", "RANK_ID": "2", "RANK_TABLE_FILE": table}, "RANK_ID=2 must be in"),
        ({"RANK_SIZE": "two"}, "RANK_SIZE='two' is not a whole number"),
        ({"RANK_SIZE": "2", "RANK_TABLE_FILE": table, "TF_CONFIG": tf_config(["a:1", "b:2"])},
         "not both"),
    ]
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    cases.append(({"RANK_SIZE": "2", "RANK_TABLE_FILE": str(broken)}, "not valid JSON"))
    for environ, needle in cases:
        with pytest.raises(cl.ClusterError) as err:
            cl.detect(environ)
        assert needle in str(err.value), (environ, str(err.value))


def test_distributed_flag_needs_a_cluster():
    with pytest.raises(cl.ClusterError, match="--distributed: no cluster found"):
        cl.detect({}, required=True)


def test_batch_must_divide_over_workers():
    three = cl.detect({"TF_CONFIG": tf_config(["a:1", "b:2", "c:3"])})
    cl.check_batch(three, 96)
    with pytest.raises(cl.ClusterError, match=r"train.batch_size \(100\).*3 workers.*e.g. 102"):
        cl.check_batch(three, 100)


def _main(tmp_path, monkeypatch, environ, *extra, name="run"):
    for key in ("TF_CONFIG", "RANK_SIZE", "RANK_ID", "RANK_TABLE_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    out = str(tmp_path / name)
    return fit.main(["--model", TOY, "--output-dir", out, "--device", "cpu"] + list(extra)), out


@pytest.mark.parametrize("environ,extra,needle", [
    ({"TF_CONFIG": "{oops"}, [], "TF_CONFIG is not valid JSON"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:1"])}, [], "twice"),
    ({"RANK_SIZE": "8"}, [], "needs RANK_TABLE_FILE"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])},
     ["--batch-size", "32"], "must divide evenly over the 3 workers"),
    ({}, ["--distributed"], "no cluster found"),
])
def test_cli_refuses_bad_cluster_input(tmp_path, monkeypatch, capsys, environ, extra, needle):
    """Refused before any TensorFlow server starts (else the process would wait for peers)."""
    code, out = _main(tmp_path, monkeypatch, environ, *extra)
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not os.path.exists(out)  # nothing written


def _snapshot(directory):
    files = {}
    for base, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, directory)] = handle.read()
    return files


def test_resume_with_another_worker_count_is_refused(tmp_path, monkeypatch, capsys):
    code, out = _main(tmp_path, monkeypatch, {}, "--epochs", "1")
    assert code == 0
    before = _snapshot(out)
    code, _ = _main(tmp_path, monkeypatch,
                    {"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:2"])}, "--resume")
    assert code == 2
    assert "written by 1 worker(s), this job has 2" in capsys.readouterr().err
    assert _snapshot(out) == before


@pytest.mark.slow
def test_checkpoint_of_another_replica_count_is_refused(tmp_path, monkeypatch, capsys):
    """A checkpoint written by 2 replicas (MirroredStrategy over 2 logical CPUs, in its own
    process) is not resumed by 1; the run directory is left byte for byte as it was."""
    out = str(tmp_path / "run")
    proc = subprocess.run(
        [sys.executable, "-m", "training.fit", "--model", TOY, "--output-dir", out,
         "--device", "cpu", "--epochs", "1", "--set", "runtime.cpu_replicas=2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = _snapshot(out)
    code, _ = _main(tmp_path, monkeypatch, {}, "--resume", "--epochs", "2")
    assert code == 2
    assert "written by a job with 2 replica(s), this job has 1" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_a_batch_the_cpu_replicas_cannot_share_is_refused_before_the_run_directory(tmp_path):
    """Issue 35: cpu_replicas=3 with batch 64 was refused after the run directory existed, so
    the corrected rerun was refused as "already holds a run". (Its own process: logical CPU
    devices must be configured before TensorFlow starts.)"""
    out = str(tmp_path / "run")
    proc = subprocess.run(
        [sys.executable, "-m", "training.fit", "--model", TOY, "--output-dir", out,
         "--device", "cpu", "--epochs", "1", "--batch-size", "64",
         "--set", "runtime.cpu_replicas=3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "divisible by the number of replicas (3)" in proc.stderr and "use 66" in proc.stderr
    assert not os.path.exists(out)


def test_cpu_replicas_are_bounded():
    """Issue 35: runtime.cpu_replicas=1024 made no progress for minutes."""
    from training.infra import config as cfg  # pylint: disable=import-outside-toplevel

    with pytest.raises(UsageError, match=r"runtime.cpu_replicas \(1024\) must be 1 to 64"):
        cfg.RuntimeConfig(cpu_replicas=1024)
    assert cfg.RuntimeConfig(cpu_replicas=cfg.MAX_CPU_REPLICAS).cpu_replicas == 64


# --- issue 35: the wait for peers, the ports, the rank table ---------------------------------

def _two_worker_cluster(ports, index):
    return cl.parse_tf_config(json.dumps({
        "cluster": {"worker": ["127.0.0.1:{}".format(p) for p in ports]},
        "task": {"type": "worker", "index": index}}))


def test_a_port_in_use_is_named_before_any_wait():
    import socket  # pylint: disable=import-outside-toplevel

    ports = _free_ports(2)
    busy = socket.socket()
    busy.bind(("", ports[0]))
    busy.listen(1)
    try:
        with pytest.raises(UsageError, match="127.0.0.1:{} is in use by another process".format(
                ports[0])):
            cl.wait_for_peers(_two_worker_cluster(ports, 0), timeout=30)
    finally:
        busy.close()


def test_a_lone_worker_gives_up_naming_its_peer():
    from core.errors import WorkerLostError  # pylint: disable=import-outside-toplevel

    ports = _free_ports(2)
    with pytest.raises(WorkerLostError, match="waited 1 s for worker.*127.0.0.1:{}".format(
            ports[1])):
        cl.wait_for_peers(_two_worker_cluster(ports, 0), timeout=1, poll=0.1)


def test_two_workers_find_each_other():
    import threading  # pylint: disable=import-outside-toplevel

    import socket  # pylint: disable=import-outside-toplevel

    ports = _free_ports(2)
    done, finished, servers = [], threading.Event(), []

    def worker(index):
        cl.wait_for_peers(_two_worker_cluster(ports, index), timeout=20, poll=0.1)
        server = socket.socket()  # what TensorFlow's gRPC server does next, on the same port
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("", ports[index]))
        server.listen(4)
        servers.append(server)
        done.append(index)
        finished.wait(30)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 30
    while len(done) < 2 and time.time() < deadline:
        time.sleep(0.1)
    finished.set()
    for server in servers:
        server.close()
    assert sorted(done) == [0, 1]


@pytest.mark.parametrize("port", ["\uff12\uff12\uff12\uff12", "0", "70000", "22a"])
def test_a_port_that_is_not_ascii_digits_in_range_is_refused(port):
    with pytest.raises(UsageError, match="is not \"host:port\""):
        cl.parse_tf_config(json.dumps({"cluster": {"worker": ["h1:" + port, "h2:2222"]},
                                       "task": {"type": "worker", "index": 0}}))


@pytest.mark.parametrize("table, needle", [
    ({"server_list": [{"device": 8}]}, r"server_list\[0\].device must be a list"),
    ({"server_list": [{"device": "abc"}]}, r"server_list\[0\].device must be a list"),
])
def test_a_rank_table_of_the_wrong_shape_is_named(tmp_path, table, needle):
    path = tmp_path / "rank_table.json"
    path.write_text(json.dumps(table))
    with pytest.raises(UsageError, match=needle):
        cl.detect({"RANK_SIZE": "2", "RANK_ID": "0", "RANK_TABLE_FILE": str(path)})


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1x"])
def test_rank_variables_in_other_digits_are_refused(value):
    with pytest.raises(UsageError, match="RANK_ID=.* is not a whole number"):
        cl.detect({"RANK_SIZE": "2", "RANK_ID": value})


@pytest.mark.slow
@pytest.mark.keras_agnostic  # a worker waiting for its peer, before any model: run once
def test_a_lone_worker_ends_on_ctrl_c_with_130(tmp_path):
    """Issue 35: a lone worker waiting for its peer ignored SIGINT twice and SIGTERM."""
    import signal  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel

    ports = _free_ports(2)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps({
        "cluster": {"worker": ["127.0.0.1:{}".format(p) for p in ports]},
        "task": {"type": "worker", "index": 0}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.fit", "--model", TOY, "--output-dir",
         str(tmp_path / "run"), "--device", "cpu", "--epochs", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # until it is waiting (its port answers)
            try:
                import socket  # pylint: disable=import-outside-toplevel

                socket.create_connection(("127.0.0.1", ports[0]), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out[-2000:]


def test_a_tf_config_nested_too_deeply_is_named():
    with pytest.raises(UsageError, match="TF_CONFIG is nested too deeply"):
        cl.parse_tf_config("[" * 100000 + "]" * 100000)
