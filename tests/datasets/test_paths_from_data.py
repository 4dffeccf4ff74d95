"""Ids read from data files never become paths outside their folder, and malformed ids are
named, never truncated or silently merged (reliability round 3, paths from data files).

Each family is tested on several variants: absolute paths, parent references, separators,
blanks, NUL, and a symbolic link that leaves the root."""
import json
import os

import pytest

from datasets import polyvore as pv
from datasets import polyvore_release as release_io
from core import files
from core.errors import DataError

HOSTILE = ["/tmp/victim", "../victim", "a/../../victim", "a/b", "..", ".", "", " 12",
           "x\x00y", "a\\b"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_ids_are_not_plain_names(name):
    with pytest.raises(DataError, match="not a plain name"):
        files.plain_name(name, "train.json: outfit #0: set_id")


def test_plain_ids_pass_as_strings():
    assert files.plain_name(123, "set_id") == "123"
    assert files.plain_name("211990161_1", "item key") == "211990161_1"


def test_a_path_through_a_symbolic_link_out_of_the_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(str(outside), str(root / "link"))
    assert files.path_under(str(root), "a", "b.json") == os.path.join(str(root), "a", "b.json")
    with pytest.raises(DataError, match="leaves"):
        files.path_under(str(root), "link", "b.json")
    with pytest.raises(DataError, match="leaves"):
        files.path_under(str(root), "..", "b.json")


def _release(tmp_path, outfits):
    folder = tmp_path / "outfits"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / "{}_no_dup.json".format(split)).write_text(json.dumps(
            outfits if split == "train" else []))
    return str(folder)


def _outfit(set_id, index=1, category=11):
    return {"set_id": set_id, "items": [{"index": index, "categoryid": category,
                                         "name": "black bag"}]}


@pytest.mark.parametrize("set_id", ["/tmp/victim", "../../victim", "a/b", ".."])
def test_a_release_set_id_that_is_a_path_is_refused_naming_the_file(tmp_path, set_id):
    folder = _release(tmp_path, [_outfit("1"), _outfit(set_id)])
    with pytest.raises(DataError, match=r"train_no_dup.json: outfit #1: set_id .* plain name"):
        release_io.read_release(folder)
    report = {}
    import collections  # pylint: disable=import-outside-toplevel

    report = collections.Counter()
    outfits, _ = release_io.read_release(folder, on_bad="skip", report=report)
    assert [o.set_id for o in outfits["train"]] == ["1"]  # skipped, and counted
    assert report["malformed_outfits_skipped"] == 1


@pytest.mark.parametrize("set_id, kind", [({"a": 1}, "dict"), ([1], "list"), (True, "bool"),
                                          (None, "NoneType"), (1.5, "float")])
def test_a_set_id_of_the_wrong_type_names_file_position_and_type(tmp_path, set_id, kind):
    folder = _release(tmp_path, [_outfit("1"), _outfit(set_id)])
    with pytest.raises(DataError, match=r"outfit #1: set_id must be a string or an integer, "
                                        r"got {}".format(kind)):
        release_io.read_release(folder)


def test_the_same_set_id_twice_is_refused_or_skipped_and_counted(tmp_path):
    import collections  # pylint: disable=import-outside-toplevel

    first = _outfit("7")
    second = {"set_id": "7", "items": [{"index": 1, "categoryid": 22, "name": "red shoe"}]}
    folder = _release(tmp_path, [first, second])
    with pytest.raises(DataError, match="set_id 7 is also the id of .*outfit #0"):
        release_io.read_release(folder)
    report = collections.Counter()
    outfits, items = release_io.read_release(folder, on_bad="skip", report=report)
    assert len(outfits["train"]) == 1 and items["7_1"].name == "black bag"  # the first kept
    assert report["malformed_outfits_skipped"] == 1


@pytest.mark.parametrize("index, category", [(1.9, 11), (1, 7.6), ("1.5", 11), (True, 11),
                                             (None, 11)])
def test_non_integer_index_or_category_is_refused_not_truncated(tmp_path, index, category):
    folder = _release(tmp_path, [_outfit("1", index, category)])
    with pytest.raises(DataError, match="needs integer 'index' and 'categoryid'"):
        release_io.read_release(folder)


def test_integer_strings_are_read_as_integers(tmp_path):
    folder = _release(tmp_path, [_outfit("1", "3", "11")])
    outfits, _ = release_io.read_release(folder)
    assert outfits["train"][0].indices == [3] and outfits["train"][0].categories == [11]


@pytest.mark.parametrize("set_id", ["../../victim", "/etc", "a/b"])
def test_the_polyvore_loader_refuses_a_set_id_that_is_a_path(tmp_path, set_id):
    path = tmp_path / "train_no_dup_new_100.json"
    path.write_text(json.dumps([{"set_id": set_id, "items_index": [1, 2, 3],
                                 "items_category": [5, 5, 5]}]))
    with pytest.raises(DataError, match="set_id .* plain name"):
        pv.load_outfits(str(path), {5: 0})
