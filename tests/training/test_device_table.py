"""NGNN's feature tables are filled in chunks (peak memory), with the very same contents."""
import numpy as np
import pytest

from training.tasks.ngnn import device_table


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
