"""Item features as TensorFlow inputs: host gathers per batch and chunk-filled variables give
the store's very contents, and reading a memory-mapped store does not make it resident."""
import os

import numpy as np
import pytest
import tensorflow as tf

from datasets.arrays import read_rows
from datasets.tables import device_table, device_tables, gather_tables, host_lookup


@pytest.mark.parametrize("mapped", [True, False])
def test_device_table_equals_the_array_across_chunk_boundaries(tmp_path, mapped):
    values = np.random.RandomState(0).normal(size=(23, 3, 2)).astype(np.float32)
    path = str(tmp_path / "visual.npy")
    np.save(path, values)
    array = np.load(path, mmap_mode="r") if mapped else values
    assert isinstance(array, np.memmap) == mapped
    for rows in (1, 5, 23, 100):
        table = device_table(array, "table", rows_per_chunk=rows)
        np.testing.assert_array_equal(table.numpy(), values)
        assert not table.trainable


def test_device_table_of_a_view_reads_the_view(tmp_path):
    """A slice of a mapping is not read from the file as if it were the whole mapping."""
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    path = str(tmp_path / "v.npy")
    np.save(path, values)
    view = np.load(path, mmap_mode="r")[3:7]
    np.testing.assert_array_equal(device_table(view, "t", rows_per_chunk=3).numpy(),
                                  values[3:7])


class _Store(object):
    """The three arrays of a feature store, ``visual`` memory-mapped from a real .npy file."""

    def __init__(self, directory, rows=50, dim=6, width=4, seed=0):
        rng = np.random.RandomState(seed)
        path = os.path.join(str(directory), "visual.npy")
        np.save(path, rng.normal(size=(rows, dim)).astype(np.float32))
        self.visual = np.load(path, mmap_mode="r")
        self.text_len = rng.randint(0, width + 1, size=rows).astype(np.int32)
        self.text_ids = rng.randint(1, 100, size=(rows, width)).astype(np.int32)
        self.text_ids[np.arange(width)[None, :] >= self.text_len[:, None]] = 0


def test_host_lookup_equals_the_device_tables_gather(tmp_path):
    """The input pipeline's host gather and the serving export's variable gather give the same
    features for the same rows, with static shapes inside a tf.data pipeline."""
    store = _Store(tmp_path)
    items = np.random.RandomState(1).randint(0, 50, size=(7, 8)).astype(np.int32)
    lookup = host_lookup(store)
    dataset = tf.data.Dataset.from_tensor_slices(items).batch(7, drop_remainder=True).map(lookup)
    assert dataset.element_spec["visual"].shape.as_list() == [7, 8, 6]
    assert dataset.element_spec["text_mask"].shape.as_list() == [7, 8, 4]
    got = next(iter(dataset))
    want = gather_tables(device_tables(store), items)
    for key in ("visual", "text_ids", "text_mask"):
        np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
    np.testing.assert_array_equal(got["visual"].numpy(), np.asarray(store.visual)[items])
    np.testing.assert_array_equal(got["text_mask"].numpy().sum(-1), store.text_len[items])


def _resident_mib():
    with open("/proc/self/status") as handle:
        line = [l for l in handle if l.startswith("VmRSS:")][0]
    return int(line.split()[1]) / 1024.0


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_reading_a_mapped_store_does_not_make_it_resident(tmp_path):
    """Rows read with read_rows leave no file pages mapped in the process; the same reads
    through the long-lived mapping (the control) make the file resident."""
    rows, dim = 16384, 2048  # a 128 MiB file
    path = str(tmp_path / "visual.npy")
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dim))
    for start in range(0, rows, 1024):
        out[start:start + 1024] = start
    out.flush()
    del out
    mapped = np.load(path, mmap_mode="r")
    order = np.random.RandomState(0).permutation(rows)
    before = _resident_mib()
    total = 0.0
    for chunk in np.array_split(order, 64):
        total += float(read_rows(mapped, chunk)[:, 0].sum())
    grown = _resident_mib() - before
    assert total == float(sum(start * 1024 for start in range(0, rows, 1024)))
    assert grown < 40, grown
    for chunk in np.array_split(order, 64):
        np.asarray(mapped[chunk])
    assert _resident_mib() - before > 100  # the control: the mapping's pages are resident


def test_read_rows_of_views_and_arrays(tmp_path):
    values = np.arange(60, dtype=np.float32).reshape(15, 4)
    path = str(tmp_path / "v.npy")
    np.save(path, values)
    rows = np.array([14, 0, 3, 3])
    np.testing.assert_array_equal(read_rows(np.load(path, mmap_mode="r"), rows), values[rows])
    np.testing.assert_array_equal(read_rows(np.load(path, mmap_mode="r")[5:], rows[1:]),
                                  values[5:][rows[1:]])
    np.testing.assert_array_equal(read_rows(values, rows), values[rows])


def test_a_store_file_truncated_after_opening_is_named(tmp_path):
    """A visual.npy cut short after the store was opened: the read names the file and rows
    instead of returning garbage."""
    from core.errors import DataError

    path = str(tmp_path / "visual.npy")
    np.save(path, np.ones((10, 4), np.float32))
    mapped = np.load(path, mmap_mode="r")
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 3 * 16)
    with pytest.raises(DataError, match=r"visual\.npy: shorter than its header says"):
        read_rows(mapped, [0, 9])
    np.testing.assert_array_equal(read_rows(mapped, [6, 0]), np.ones((2, 4), np.float32))
