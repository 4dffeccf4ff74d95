"""How a benchmark script hands over its result: printed, and written where asked.

No TensorFlow import: ``benchmarks.process_memory`` keeps its own process small.
"""
from __future__ import absolute_import, division, print_function

import json


def emit(record, out=None):
    """Print ``record`` as indented, key-sorted JSON and write the same text to ``out``.

    Args:
      record: a JSON-able dict.
      out: a file path, or None.
    """
    text = json.dumps(record, indent=2, sort_keys=True)
    print(text)
    if out:
        with open(out, "w") as handle:
            handle.write(text + "\n")
