"""Rows of memory-mapped arrays, read without making the file the process's memory.

Shared by every store of rows on disk: the NGNN feature store (``datasets/features.py``) and
the behaviour samples (``datasets/samples.py``), which must not import each other's family.
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from core.errors import DataError


def mapped_file(array):
    """``(filename, byte offset)`` when ``array`` is a whole memory-mapped ``.npy`` array in C
    order (what :class:`FeatureStore` opens), else None (in-memory arrays and views).

    Args:
      array: a numpy array.

    Returns:
      ``(filename, offset)`` or None.
    """
    if (isinstance(array, np.memmap) and array.flags["C_CONTIGUOUS"]
            and isinstance(getattr(array, "filename", None), str)
            and array.base is not None and not isinstance(array.base, np.ndarray)):
        return array.filename, int(array.offset)
    return None


def read_rows(array, rows):
    """``array[rows]`` (a copy) without making the array's file this process's memory.

    Why: a memory mapping's pages count as the process's resident memory once read, and the
    kernel maps far more than what is read (a few thousand random rows made nearly the whole
    real ``visual.npy`` resident; docs/performance.md, "Figures behind design choices"), so
    gathering batches from the store's
    mapping would hold the whole table a second time next to TensorFlow. A whole mapped array
    (what :class:`FeatureStore` opens) is therefore read with plain file reads into the
    result: one read per run of consecutive rows (the items of an outfit are adjacent rows,
    so an evaluation batch of outfits is a read per outfit). Other arrays are indexed.

    Args:
      array: a numpy array (memory-mapped or not).
      rows: int row indices.

    Returns:
      ``array[rows]`` as a new array.

    Raises:
      DataError: the file is shorter than its header says (truncated after it was opened).
    """
    source = mapped_file(array)
    if source is None:
        return np.asarray(array[rows])
    rows = np.asarray(rows, dtype=np.int64)
    shape, dtype = rows.shape + tuple(array.shape[1:]), np.dtype(array.dtype)
    unique, inverse = np.unique(rows.reshape(-1), return_inverse=True)
    if len(unique) and (unique[0] < -len(array) or unique[-1] >= len(array)):
        raise IndexError("rows out of range for {} rows of {}".format(len(array), source[0]))
    unique = np.where(unique < 0, unique + len(array), unique)  # numpy's negative indices
    buffer = np.empty((len(unique),) + tuple(array.shape[1:]), dtype)
    row_bytes = buffer[:1].nbytes
    breaks = np.flatnonzero(np.diff(unique) != 1) + 1
    starts, stops = np.r_[0, breaks], np.r_[breaks, len(unique)]
    with open(source[0], "rb", buffering=0) as handle:
        for start, stop in zip(starts.tolist(), stops.tolist()):
            view = memoryview(buffer[start:stop]).cast("B")
            handle.seek(source[1] + int(unique[start]) * row_bytes)
            if handle.readinto(view) != view.nbytes:
                raise DataError("{}: shorter than its header says (rows {}..{} of {}); the "
                                "store is damaged, build it again".format(
                                    source[0], int(unique[start]), int(unique[stop - 1]),
                                    len(array)))
    return buffer[inverse].reshape(shape)
