"""Shared test setup: quiet TensorFlow, float32 policy before each test, the repo on sys.path."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest  # noqa: E402

# The project's shared data folder (real Polyvore outfit lists, category maps, the word
# dictionary, 38 real item images): ../shared beside the checkout, as CI has it, or wherever
# NPUREC_SHARED points. Tests that need it skip with SHARED_REASON when it is absent.
SHARED = os.environ.get("NPUREC_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
SHARED_REASON = (
    "needs the project's shared data folder ({} not found): it holds the real Polyvore "
    "files these tests read. Clone or copy it beside the checkout as ../shared, or set "
    "NPUREC_SHARED=/path/to/shared; CI runs with it".format(os.path.join(SHARED, "data",
                                                                        "polyvore")))


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts (and leaves) with the float32 global policy."""
    from core.compat import set_global_policy

    set_global_policy("float32")
    yield
    set_global_policy("float32")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Processed data and generated sets go to a cache of this test session, never to the
    user's ``~/.cache/npurec`` (tests and the processes they start read ``NPUREC_CACHE``):
    a test run must not leave files behind, nor read what an earlier version left there
    (that once stopped the multi-worker tests on a stale sample cache). A test that sets
    ``NPUREC_CACHE`` itself still wins.

    ``NPUREC_TEST_CACHE=DIR`` gives the session that folder instead: .ci/run points both of
    its suites (and their workers) at one new, empty folder, so each generated data set is
    built once per CI run (caches are keyed by content and built atomically, so concurrent
    builders of one data set end with the first one's)."""
    before = os.environ.get("NPUREC_CACHE")
    shared = os.environ.get("NPUREC_TEST_CACHE")
    os.environ["NPUREC_CACHE"] = shared or str(tmp_path_factory.mktemp("npurec-cache"))
    yield
    if before is None:
        os.environ.pop("NPUREC_CACHE", None)
    else:
        os.environ["NPUREC_CACHE"] = before


MAX_WORKERS = 4  # each worker imports TensorFlow (~1 GB resident)


def pytest_xdist_auto_num_workers(config):
    """How many worker processes setup.cfg's ``-n auto`` starts.

    The fast tier is ~235 s of tests on one core of this project's 2-core CI machine (tracing
    and short trainings, one core busy each): spread by file over 2 workers it took 150 s.
    Up to :data:`MAX_WORKERS`, one per core this process may use. The slow tier gets none:
    its tests start multi-process jobs with deadlines and measure times, so they run one at
    a time. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` or ``-n N`` still decide when given."""
    given = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if given:
        return int(given)
    expression = config.getoption("markexpr", "") or ""
    if "slow" in expression.replace("not slow", ""):  # the slow tier, alone or with the fast
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, cores))


def free_ports(count):
    """``count`` TCP ports free on 127.0.0.1 just now (bound to port 0, read, released)."""
    import socket  # pylint: disable=import-outside-toplevel

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
