"""Shared test setup: quiet TensorFlow, float32 policy before each test, the repo on sys.path."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared")


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts (and leaves) with the float32 global policy."""
    from training.compat import set_global_policy

    set_global_policy("float32")
    yield
    set_global_policy("float32")
