"""Progress bars only where someone can watch them move.

Written to a log file (stderr not a terminal), every tqdm redraw becomes text: a 5-minute
packing step left hundreds of bar fragments in a run's log. In a notebook without ipywidgets
tqdm falls back to a text bar whose redraws fill the saved cell output. So: a bar on a
terminal or a widget-capable notebook, none otherwise (the callers log their start and end).
"""
from __future__ import absolute_import, division, print_function

import sys

try:
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency
    _tqdm = None


def interactive():
    """Whether a bar would be seen: a notebook with ipywidgets, or stderr on a terminal.

    Returns:
      A bool.
    """
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError:
            return False
        return True
    return sys.stderr.isatty()


def bar(**kwargs):
    """A tqdm bar (keyword arguments as tqdm's), or None where nobody would see it.

    Args:
      **kwargs: tqdm's arguments.

    Returns:
      A tqdm bar or None.
    """
    if _tqdm is None or not interactive():
        return None
    return _tqdm(**kwargs)
