"""Two DIN workers on 127.0.0.1 with TF_CONFIG (MultiWorkerMirroredStrategy over loopback).

Every process is started with a deadline and killed (SIGKILL) if it passes it, so these tests
always end by themselves; ports are picked free just before each launch. The processes train
the embedded synthetic DIN data for a few dozen steps.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, free_ports as _free_ports

# slow tier (setup.cfg markers): multi-worker jobs of several processes; `.ci/run` runs it
pytestmark = pytest.mark.slow

DEADLINE_S = 240
FIT_ARGS = ["--model", "din", "--epochs", "3", "--batch-size", "256",
            "--set", "data.synthetic_users=2000",
            "--set", "train.steps_per_epoch=12", "--set", "train.checkpoint_every_steps=3",
            "--set", "train.keep_checkpoints=20"]
TOTAL_STEPS = 36


class Job(object):
    """Processes of one launch; logs and weights go to ``work``."""

    def __init__(self, work, name, run_dir, workers, extra=(), run_dirs=None,
                 worker_extra=None):
        self.work, self.name = work, name
        self.procs, self.logs = [], []
        ports = _free_ports(workers) if workers > 1 else []
        tmp = os.path.join(work, "tmp-" + name)
        os.makedirs(tmp, exist_ok=True)
        self.tmp = tmp
        run_dirs = run_dirs or [run_dir] * workers
        for index in range(workers):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=tmp)
            env.pop("TF_CONFIG", None)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({
                    "cluster": {"worker": ["127.0.0.1:{}".format(p) for p in ports]},
                    "task": {"type": "worker", "index": index}})
            out = self.weights_path(index)
            log = open(os.path.join(work, "{}-{}.log".format(name, index)), "w")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "tests.training.multiworker_check", out, "--"]
                + FIT_ARGS + ["--output-dir", run_dirs[index]] + list(extra)
                + list((worker_extra or {}).get(index, ())),
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        self.started = time.time()

    def weights_path(self, index):
        return os.path.join(self.work, "{}-{}.npz".format(self.name, index))

    def weights(self, index):
        with np.load(self.weights_path(index)) as saved:
            return [saved["arr_{}".format(i)] for i in range(len(saved.files))]

    def output(self, index):
        with open(os.path.join(self.work, "{}-{}.log".format(self.name, index))) as handle:
            return handle.read()

    def wait(self, deadline_s=DEADLINE_S):
        """Return codes; every process still alive at the deadline is killed."""
        codes = []
        for proc in self.procs:
            left = max(1.0, deadline_s - (time.time() - self.started))
            try:
                codes.append(proc.wait(timeout=left))
            except subprocess.TimeoutExpired:
                codes.append(None)
        self.kill()
        return codes

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One single-process run and one uninterrupted two-worker run on the same global batch."""
    work = str(tmp_path_factory.mktemp("multiworker"))
    single = Job(work, "single", os.path.join(work, "run-single"), 1)
    codes = single.wait()
    assert codes == [0], single.output(0)[-3000:]
    pair = Job(work, "pair", os.path.join(work, "run-pair"), 2)
    codes = pair.wait()
    assert codes == [0, 0], pair.output(0)[-3000:] + pair.output(1)[-3000:]
    return work, single, pair


def _max_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def _last_json(text):
    return json.loads([l for l in text.splitlines() if l.startswith("{")][-1])


def test_two_workers_equal_each_other_and_one_process(reference):
    work, single, pair = reference
    w0, w1, one = pair.weights(0), pair.weights(1), single.weights(0)
    assert _max_diff(w0, w1) == 0.0  # mirrored: the very same weights on both workers
    # float summation order only: 5.4e-5 measured after 36 steps (3e-6 with the previous
    # training order; Adam turns a rounding difference of a tiny gradient into up to a
    # learning-rate step); different batches on the workers give ~0.6
    assert _max_diff(w0, one) < 1e-4, _max_diff(w0, one)
    assert _max_diff(one, [np.zeros_like(x) for x in one]) > 0.01  # it did train
    r0, r1 = _last_json(pair.output(0)), _last_json(pair.output(1))
    assert r0 == r1 and r0["steps"] == TOTAL_STEPS  # every worker reports the same metrics
    assert abs(r0["test"]["auc"] - _last_json(single.output(0))["test"]["auc"]) < 1e-3
    run_dir = os.path.join(work, "run-pair")
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["runtime"]["cluster"] == {"engine": "tf", "workers": 2, "worker_id": 0,
                                             "source": "TF_CONFIG task worker[0]"}
    assert metrics["runtime"]["replicas"] == 2
    assert os.listdir(pair.tmp) == []  # worker 1's private checkpoints were removed


@pytest.mark.keras_agnostic  # cluster plumbing (loss, refusal, resume): run once by .ci/run
def test_lost_worker_stops_the_job_and_resume_finishes_it(reference, tmp_path):
    work, _, pair = reference
    run_dir = str(tmp_path / "run")
    job = Job(str(tmp_path), "killed", run_dir, 2)
    try:
        # wait for a checkpoint that is not the last one, then kill worker 1 mid-run
        first = os.path.join(run_dir, "checkpoints", "ckpt-6.index")
        while not os.path.exists(first) and time.time() - job.started < DEADLINE_S:
            if any(p.poll() is not None for p in job.procs):
                break
            time.sleep(0.02)
        assert os.path.exists(first), job.output(0)[-3000:]
        job.procs[1].send_signal(signal.SIGKILL)
        codes = job.wait(deadline_s=(time.time() - job.started) + 120)
    finally:
        job.kill()
    assert codes[1] == -signal.SIGKILL
    chief = job.output(0)
    if codes[0] == 0:
        pytest.fail("the chief finished all steps before worker 1 was killed; make the run "
                    "longer\n" + chief[-2000:])
    assert codes[0] == 3, chief[-3000:]
    assert "lost contact with the job" in chief and "--resume" in chief
    error = [l for l in chief.splitlines() if l.startswith("npurec: error:")][-1]
    assert any(why in error for why in ("aborted by", "unhealthy", "failed to connect")), error
    saved = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.index")))
    assert saved  # the checkpoints written before the loss are still there

    # worker 1 cannot see the chief's run directory (no shared file system): refused by both
    unshared = Job(str(tmp_path), "unshared", run_dir, 2, extra=["--resume"],
                   run_dirs=[run_dir, str(tmp_path / "elsewhere")])
    assert unshared.wait() == [2, 2], unshared.output(0)[-3000:]
    assert "start from different steps" in unshared.output(0)
    assert "file system that every worker shares" in unshared.output(1)
    assert sorted(glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.index"))) == saved

    resumed = Job(str(tmp_path), "resumed", run_dir, 2, extra=["--resume"])
    codes = resumed.wait()
    assert codes == [0, 0], resumed.output(0)[-3000:] + resumed.output(1)[-3000:]
    assert "resumed from" in resumed.output(0)
    assert _last_json(resumed.output(0))["steps"] == TOTAL_STEPS
    assert _max_diff(resumed.weights(0), resumed.weights(1)) == 0.0
    assert _max_diff(resumed.weights(0), pair.weights(0)) < 1e-6


@pytest.mark.keras_agnostic  # refused before any model exists: run once by .ci/run
def test_workers_given_different_data_are_refused_before_training(tmp_path):
    """Issue 35: two workers given different data both crashed in a collective with a shape
    mismatch. They compare their data first: exit 2 naming the worker, nothing written."""
    run_dir = str(tmp_path / "run")
    job = Job(str(tmp_path), "mixed", run_dir, 2,
              worker_extra={1: ["--set", "data.synthetic_users=2100"]})
    codes = job.wait()
    assert codes == [2, 2], job.output(0)[-3000:] + job.output(1)[-3000:]
    assert "worker(s) 1 loaded other data than worker 0" in job.output(0)
    assert not os.path.exists(os.path.join(run_dir, "config.json"))
