"""Data providers (datasets/providers.py): one per family; a folder is read by the one reader
that recognises it, refused when two do, and a folder no reader knows names every format."""
import os

import pytest

from datasets import behaviour, outfits
from datasets import polyvore as pv
from datasets import polyvore_outfits
from datasets.providers import Provider, Reader
from core.errors import DataError, UsageError


def _touch(root, *names):
    for name in names:
        path = os.path.join(str(root), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


def test_a_provider_reads_with_the_one_reader_that_knows_the_folder(tmp_path):
    provider = Provider("toy data set")
    provider.register(Reader("a", "a.txt", lambda r: os.path.isfile(os.path.join(r, "a.txt")),
                             lambda *args: "read a"))
    provider.register(Reader("b", "b.txt", lambda r: os.path.isfile(os.path.join(r, "b.txt")),
                             lambda *args: "read b"))
    with pytest.raises(DataError, match="no toy data set .*expected one of: a.txt; b.txt"):
        provider.load(str(tmp_path), "", None)
    _touch(tmp_path, "b.txt")
    assert provider.load(str(tmp_path), "", None) == "read b"
    _touch(tmp_path, "a.txt")
    with pytest.raises(DataError, match="files of 2 formats \\(a.txt, b.txt\\).*ambiguous"):
        provider.load(str(tmp_path), "", None)
    provider.register(Reader("b", "b2", lambda r: False, None))  # same name: replaced
    assert [r.describes for r in provider.readers] == ["a.txt", "b2"]
    provider.unregister("a")
    assert [r.name for r in provider.readers] == ["b"]


def test_an_empty_folder_names_every_behaviour_format(tmp_path):
    with pytest.raises(DataError) as err:
        behaviour.PROVIDER.load(str(tmp_path), str(tmp_path / "cache"), None)
    assert "MovieLens" in str(err.value) and "Amazon reviews" in str(err.value)


def test_the_maryland_files_beside_polyvore_outfits_are_ambiguous(tmp_path):
    _touch(tmp_path, pv.TRAIN_FILE, polyvore_outfits.ITEMS_FILE, "features/x")
    with pytest.raises(DataError, match="ambiguous"):
        outfits.PROVIDER.detect(str(tmp_path))


def test_a_store_featurized_into_its_release_folder_is_the_stores(tmp_path):
    from datasets import outfits_release  # pylint: disable=import-outside-toplevel

    _touch(tmp_path, outfits_release.METADATA_FILE)
    assert outfits.PROVIDER.detect(str(tmp_path)).name == "polyvore-outfits-release"
    _touch(tmp_path, polyvore_outfits.ITEMS_FILE, "features/x")
    assert outfits.PROVIDER.detect(str(tmp_path)).name == "polyvore-outfits"


@pytest.mark.parametrize("name, command", [("polyvore_item_metadata.json", "polyvore-outfits"),
                                           ("train_no_dup.json", "polyvore ")])
def test_a_raw_release_says_to_featurize_it_first(tmp_path, name, command):
    _touch(tmp_path, name)
    with pytest.raises(UsageError, match="featurize it first: python -m datasets.featurize "
                                         + command):
        outfits.PROVIDER.load(str(tmp_path), str(tmp_path / "cache"), None)
