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
    ``NPUREC_CACHE`` itself still wins."""
    before = os.environ.get("NPUREC_CACHE")
    os.environ["NPUREC_CACHE"] = str(tmp_path_factory.mktemp("npurec-cache"))
    yield
    if before is None:
        os.environ.pop("NPUREC_CACHE", None)
    else:
        os.environ["NPUREC_CACHE"] = before


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
