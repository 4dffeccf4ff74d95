"""Whole numbers written as text by users and data files, read one way everywhere.

Why: ``str.isdigit`` accepts "²", "³" and other Unicode digits that ``int`` refuses (or reads
as something else), and ``int`` accepts numbers too large for the int64 arrays they go into.
Every reader (MovieLens, the Polyvore releases, rank tables, host:port strings) asks here.
"""
from __future__ import absolute_import, division, print_function

import re

#: ASCII digits, at most 18 of them (every such number fits int64)
DIGITS = r"[0-9]{1,18}"
_WHOLE = re.compile(DIGITS + r"\Z")


def parse_whole(value):
    """A non-negative int from an int or a string of ASCII digits (blanks around allowed).

    Args:
      value: what a file or a flag held.

    Returns:
      The int, or None when ``value`` is not such a number (a bool, a float, "1.9", "²",
      a number with more than 18 digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2 ** 63 else None
    if isinstance(value, str) and _WHOLE.match(value.strip()):
        return int(value.strip())
    return None
