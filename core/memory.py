"""How much memory this machine can give, and a check that refuses what would not fit.

Why: an allocation larger than the machine (``--set data.maxlen=1000000000``,
``model.embedding_dim=100000000``) is not an exception in Python: the operating system kills
the process with no message. An estimate checked before allocating turns that into one line
with the numbers (exit 2).
"""
from __future__ import absolute_import, division, print_function

import os

from core.errors import UsageError

#: the share of the available memory one allocation may plan to take
MAX_SHARE = 0.8


def available_bytes():
    """Memory available to a new allocation now.

    Returns:
      Bytes (Linux ``MemAvailable``; else the physical memory), or None when unknown.
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(needed, what, setting, available=None):
    """Refuse ``needed`` bytes when they exceed :data:`MAX_SHARE` of what is available.

    Args:
      needed: the estimated bytes.
      what: what they are for, e.g. "DIN's embedding tables and their Adam slots".
      setting: the setting that drives them, e.g. "model.embedding_dim=100000000".
      available: bytes available (default :func:`available_bytes`).

    Raises:
      UsageError: with both numbers, the setting and what to do.
    """
    available = available_bytes() if available is None else available
    if available is None or needed <= MAX_SHARE * available:
        return
    raise UsageError("{} would need about {:,.1f} GB ({}), and this machine has {:,.1f} GB "
                     "available: lower it. Nothing was allocated.".format(
                         what, needed / 1e9, setting, available / 1e9))
