"""One native thread for the small scikit-learn and BLAS work of a run's report.

Why: the baselines every run scores (logistic regression, histogram gradient boosting) run on
native thread pools, OpenMP (libgomp, shipped inside scikit-learn's wheel) and OpenBLAS, each
sized to every core of the machine. Their idle threads spin, so when those cores are busy
elsewhere (another process, a second test suite, a data pipeline) a fit spends its time waiting on its own threads: a gradient boosting fit of a few
thousand rows took 25 times longer with its default threads than with one, and one thread
costs little on an idle machine at the table sizes of the report (figures in
docs/performance.md, "Figures behind design choices"). So the report holds the pools to one
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
