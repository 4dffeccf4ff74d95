"""``benchmarks.child``: a child's peak memory is its own, not inflated by its parent's."""
import os

import numpy as np
import pytest

from benchmarks import child

# slow tier (setup.cfg markers): a measured subprocess; `.ci/run` runs it
# keras_agnostic: runner plumbing, run once by .ci/run
pytestmark = [pytest.mark.slow, pytest.mark.keras_agnostic]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_childs_peak_is_its_own_not_its_parents(tmp_path):
    """The parent holds 400 MB when it starts a child that allocates 80 MB: the figure is
    the child's (getrusage/wait4 would report at least the parent's 400 MB here)."""
    held = np.ones(400 * 2 ** 20 // 8)  # touched: resident in this process
    code, seconds, peak = child.run_python(
        "-c", "import sys, numpy; a = numpy.ones(int(sys.argv[1]) * 2 ** 20 // 8); "
              "print(a.sum())", ["80"], str(tmp_path / "log"))
    assert code == 0 and seconds > 0
    assert 80 <= peak < 300, peak
    assert held.sum() == len(held)
    code, _, _ = child.run_python("-c", "raise SystemExit(3)", [], str(tmp_path / "log2"))
    assert code == 3
