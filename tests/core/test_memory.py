"""The memory check that turns an allocation the machine cannot hold into one line."""
import pytest

from core import memory
from core.errors import UsageError


def test_what_fits_passes_and_what_does_not_is_named_with_numbers():
    memory.check_fits(7 * 10 ** 9, "tables", "model.embedding_dim=8", available=10 ** 10)
    with pytest.raises(UsageError, match=r"tables would need about 9\.0 GB "
                                         r"\(model\.embedding_dim=9\).* 10\.0 GB available"):
        memory.check_fits(9 * 10 ** 9, "tables", "model.embedding_dim=9", available=10 ** 10)


def test_this_machine_reports_its_memory():
    available = memory.available_bytes()
    assert available is None or 10 ** 8 < available < 10 ** 14
