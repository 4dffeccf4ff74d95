"""One native thread for the small scikit-learn and BLAS work of a run's report.

Why: the baselines every run scores (logistic regression, histogram gradient boosting) run on
native thread pools, OpenMP (libgomp, shipped inside scikit-learn's wheel) and OpenBLAS, each
sized to every core of the machine. Their idle threads spin, so when those cores are busy
elsewhere (another process, a second test suite, a data pipeline) the fit spends its time
waiting on its own threads. Measured on the 2-core CPU of this project's CI with another
process training beside it: the gradient boosting of the DIN report on 3,000 rows took 13.2 s
with its 2 default threads against 0.5 s with one (17.2 s against 2.0 s at 100,000 rows;
``OMP_WAIT_POLICY=PASSIVE`` gave 1.6 s and 4.7 s). On the idle machine one thread costs
little at these table sizes: 2.28 s against 1.59 s for the 200,000 rows the DIN baselines fit
on at most (0.56 s against 0.44 s at 3,000), once per run. So the report holds the pools to one
thread while it fits and scores the baselines.

TensorFlow's own thread pools are not touched (threadpoolctl does not reach them).
"""
from __future__ import absolute_import, division, print_function

import contextlib


@contextlib.contextmanager
def one_native_thread():
    """A context in which OpenMP and BLAS pools use one thread; a no-op without threadpoolctl
    (a dependency of scikit-learn, so present wherever the baselines can run)."""
    try:
        from threadpoolctl import threadpool_limits  # pylint: disable=import-outside-toplevel
    except ImportError:  # no scikit-learn either: nothing native to hold
        yield
        return
    with threadpool_limits(limits=1):
        yield
