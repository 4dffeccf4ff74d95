"""TensorFlow's start-up notices are hidden by default, real messages are not, --verbose shows
everything."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

NOISE_PREFIXES = ("I0000", "W0000", "E0000", "WARNING: All log messages before absl")


def _env(**extra):
    env = dict(os.environ)
    env.pop("NPUREC_VERBOSE", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _notices(stderr):
    """TensorFlow's start-up notices among a process's stderr lines."""
    return [l for l in stderr.splitlines() if l.startswith(NOISE_PREFIXES)
            or "cuInit" in l or "rebuild TensorFlow" in l]


@pytest.mark.slow
def test_a_run_prints_no_tensorflow_start_up_notices(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "training.fit", "--model", "tests.toy_task:ToyTask",
         "--output-dir", str(tmp_path / "run"), "--epochs", "1", "--device", "cpu"],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not _notices(result.stderr), _notices(result.stderr)
    assert "npurec.experiment: run directory" in result.stderr  # our own log lines still show


@pytest.mark.slow
def test_the_featurizer_is_as_quiet_as_training(tmp_path):
    """``datasets.featurize`` starts TensorFlow the same way (its error still shows)."""
    result = subprocess.run(
        [sys.executable, "-m", "datasets.featurize", "polyvore-outfits", "--root",
         str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert not _notices(result.stderr), _notices(result.stderr)
    assert "missing" in result.stderr


def _fake_tensorflow(tmp_path):
    """A stand-in ``tensorflow`` package that writes to file descriptor 2 on import the way
    TensorFlow's C++ does: the filter is what is under test, not TensorFlow."""
    package = tmp_path / "fake" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''
        import os
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\\n")
        os.write(2, b"I0000 00:00:1 123 cudart_stub.cc:31] Could not find cuda drivers\\n")
        os.write(2, b"E0000 00:00:1 123 some_kernel.cc:9] a REAL error the user must see\\n")

        class config(object):
            @staticmethod
            def list_physical_devices(kind=None):
                os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: 303\\n")
                return []
    '''))
    return str(tmp_path / "fake")


def _start(tmp_path, **env):
    fake = _fake_tensorflow(tmp_path / "quiet")
    code = "from core import quiet; quiet.start_tensorflow(); print('started')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                          env=_env(PYTHONPATH=fake + os.pathsep + ROOT, **env),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)


def test_known_notices_are_dropped_and_anything_else_kept(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "started"
    assert result.stderr.splitlines() == [
        "E0000 00:00:1 123 some_kernel.cc:9] a REAL error the user must see"]


@pytest.mark.slow
@pytest.mark.keras_agnostic  # TensorFlow start-up, before Keras: run once by .ci/run
def test_verbose_shows_everything(tmp_path):
    """verbose: nothing is captured; the caller's own import prints as TensorFlow does."""
    code = ("from core import quiet; quiet.start_tensorflow(verbose={}); "
            "import tensorflow; tensorflow.config.list_physical_devices()")
    fake = _fake_tensorflow(tmp_path)
    for verbose, env in (("True", {}), ("False", {"NPUREC_VERBOSE": "1"})):
        shown = subprocess.run([sys.executable, "-c", code.format(verbose)], cwd=ROOT,
                               env=_env(PYTHONPATH=fake + os.pathsep + ROOT, **env),
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert "cudart_stub" in shown.stderr and "failed call to cuInit" in shown.stderr


@pytest.mark.slow
@pytest.mark.keras_agnostic  # TensorFlow start-up, before Keras: run once by .ci/run
def test_host_allocator_is_bfc_unless_the_user_chose(tmp_path):
    """TensorFlow's BFC host allocator is picked before TensorFlow starts; a user's own
    TF_CPU_ALLOCATOR_USE_BFC is kept."""
    fake = _fake_tensorflow(tmp_path)
    code = ("import os; from core import quiet; quiet.start_tensorflow(); "
            "print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])")
    for env, want in (({}, "true"), ({"TF_CPU_ALLOCATOR_USE_BFC": "false"}, "false")):
        full = _env(PYTHONPATH=fake + os.pathsep + ROOT, **env)
        if not env:  # this process may have set it (training.api starts TensorFlow)
            full.pop("TF_CPU_ALLOCATOR_USE_BFC", None)
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full,
                                stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert result.stdout.strip() == want


@pytest.mark.slow
@pytest.mark.keras_agnostic  # TensorFlow start-up, before Keras: run once by .ci/run
def test_cpu_kernels_are_tensorflows_own_unless_the_user_or_the_caller_chose():
    """start_tensorflow() turns oneDNN off before TensorFlow loads (the real TensorFlow says
    so: ``IsMklEnabled``); a user's TF_ENABLE_ONEDNN_OPTS=1 is kept, and ``onednn=True`` (the
    featurizer's benchmark) leaves TensorFlow's own default: what a process that never
    imported npurec gets (on for x86 Linux CPUs that TensorFlow picks it for, e.g. with
    AVX-512; off on this AVX2-only EPYC with TensorFlow 2.21)."""
    plain = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; from tensorflow.python.util import "
         "_pywrap_util_port as port; print(port.IsMklEnabled())"], cwd=ROOT,
        env={k: v for k, v in _env().items() if k != "TF_ENABLE_ONEDNN_OPTS"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert plain.returncode == 0, plain.stderr[-2000:]
    code = ("import os; from core import quiet; quiet.start_tensorflow(onednn={}); "
            "import tensorflow as tf; "
            "from tensorflow.python.util import _pywrap_util_port as port; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled(), "
            "tf.__version__)")
    seen = {}
    cases = (("default", False, {}), ("user", False, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
             ("caller", True, {}))
    for case, onednn, env in cases:
        full = _env(PYTHONPATH=ROOT, **env)
        if not env:  # this process may have set it (training.api starts TensorFlow)
            full.pop("TF_ENABLE_ONEDNN_OPTS", None)
        result = subprocess.run([sys.executable, "-c", code.format(onednn)], cwd=ROOT,
                                env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        seen[case] = result.stdout.split()
    assert seen["default"][:2] == ["0", "False"]
    assert seen["user"][:2] == ["1", "True"]
    assert seen["caller"][0] == "None"
    assert seen["caller"][1] == plain.stdout.split()[-1]
