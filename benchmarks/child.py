"""Run Python code in a fresh process and read that process's OWN peak resident memory.

Why not ``getrusage``/``wait4``: Linux carries the peak of the image a child was forked from
into the child's ``ru_maxrss`` (the parent's resident memory at the fork counts, even after
``exec``), so a benchmark process holding TensorFlow or freshly written data inflated its
child's figure (measured: a 1,313 MiB fit read as 1,679 MiB). The child here writes its own
``VmHWM`` (the peak of its own address space, from ``/proc/self/status``) when it exits.
Linux only, like the figures it reports. No TensorFlow import: the parent stays small.
"""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import tempfile
import time

_LAUNCHER = """
import atexit, runpy, sys
def _peak(path=sys.argv[1]):
    with open("/proc/self/status") as status, open(path, "w") as out:
        out.write([l for l in status if l.startswith("VmHWM:")][0].split()[1])
atexit.register(_peak)
kind, target = sys.argv[2], sys.argv[3]
sys.argv = [target] + sys.argv[4:]
if kind == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<benchmark child>", "exec"), {"__name__": "__main__"})
"""


def run_python(kind, target, args, log_path, cwd=None, env=None):
    """Run ``python -m target args`` (``kind="-m"``) or ``python -c target args``
    (``kind="-c"``) in a fresh process, its output to ``log_path``.

    Returns (exit code, seconds, the child's own peak resident memory in MiB or None when it
    did not exit normally).

    Args:
      kind: ``-m`` or ``-c``.
      target: the module or the code.
      args: its arguments.
      log_path: where its output goes.
      cwd, env: as for ``subprocess``.

    Returns:
      ``(exit code, the child's own peak RSS in MiB)``.
    """
    handle, peak_path = tempfile.mkstemp(prefix="npurec-peak-")
    os.close(handle)
    try:
        start = time.time()
        with open(log_path, "wb") as log:
            code = subprocess.call([sys.executable, "-c", _LAUNCHER, peak_path, kind, target]
                                   + list(args), cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        seconds = time.time() - start
        with open(peak_path) as peak:
            text = peak.read().strip()
        return code, seconds, (int(text) / 1024.0 if text else None)
    finally:
        os.remove(peak_path)
