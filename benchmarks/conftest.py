"""Benchmarks run with ``pytest benchmarks/`` (kept out of the default test run: setup.cfg's
testpaths is ``tests``). They need the ``bench`` extra: ``pip install -e ".[bench]"``."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_xdist_auto_num_workers(config):  # pylint: disable=unused-argument
    """setup.cfg's ``-n auto``: benchmarks time one process at a time (pytest-benchmark
    switches itself off under workers), so no workers here."""
    return 0
