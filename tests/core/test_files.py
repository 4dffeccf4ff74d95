"""The one atomic writer (core/files.py): a failed write leaves the target as it was, a
finished one has the user's file mode, and each "target exists" policy does what it says."""
import json
import os
import stat
import threading
import time

import pytest

from core import files
from core.errors import UsageError


def _leftovers(folder):
    return [f for f in os.listdir(str(folder)) if f.startswith(".tmp-")]


def test_a_failed_json_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "metrics.json")
    files.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        files.write_json(path, {"a": object()})  # not serialisable, mid-write
    assert json.load(open(path)) == {"a": 1}
    assert _leftovers(tmp_path) == []


def test_an_error_inside_atomic_file_leaves_nothing(tmp_path):
    path = tmp_path / "answers.jsonl"
    with pytest.raises(RuntimeError):
        with files.atomic_file(str(path)) as handle:
            handle.write("half")
            raise RuntimeError("stop")
    assert not path.exists() and _leftovers(tmp_path) == []


def test_an_unwritable_folder_is_a_usage_error_naming_the_path(tmp_path):
    missing = str(tmp_path / "no" / "such" / "x.json")
    with pytest.raises(UsageError, match="cannot write .*x.json"):
        files.write_json(missing, {})


def test_file_and_folder_modes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        files.write_json(str(tmp_path / "f.json"), [1])
        with files.atomic_directory(str(tmp_path / "d")) as tmp:
            open(os.path.join(tmp, "x"), "w").close()
    finally:
        os.umask(old)
    assert os.stat(str(tmp_path / "f.json")).st_mode & 0o777 == 0o640
    assert os.stat(str(tmp_path / "d")).st_mode & 0o777 == 0o750
    assert os.stat(str(tmp_path / "d" / "x")).st_mode & 0o777 == 0o640


@pytest.mark.parametrize("policy, survivor", [(files.KEEP, "old"), (files.REPLACE, "new")])
def test_directory_policies_when_the_target_exists(tmp_path, policy, survivor):
    target = tmp_path / "store"
    target.mkdir()
    (target / "which").write_text("old")
    with files.atomic_directory(str(target), exists=policy) as tmp:
        with open(os.path.join(tmp, "which"), "w") as handle:
            handle.write("new")
    assert (target / "which").read_text() == survivor
    assert _leftovers(tmp_path) == []


def test_refuse_leaves_the_existing_folder_untouched(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "mine").write_text("keep me")
    with pytest.raises(UsageError, match="exists"):
        with files.atomic_directory(str(target), exists=files.REFUSE) as tmp:
            open(os.path.join(tmp, "new"), "w").close()
    assert os.listdir(str(target)) == ["mine"] and _leftovers(tmp_path) == []


def test_a_failed_build_leaves_no_folder(tmp_path):
    with pytest.raises(ValueError):
        with files.atomic_directory(str(tmp_path / "cache")):
            raise ValueError("bad data")
    assert os.listdir(str(tmp_path)) == []


def test_a_cache_folder_that_cannot_be_written_is_one_usage_error(tmp_path, monkeypatch):
    """An NPUREC_CACHE the user may not write (read-only, or on a full or read-only disk; as
    root a chmod does not stop us, so the refusal is simulated where it happens): a
    UsageError naming the folder and the reason, not an OSError traceback."""
    import tempfile  # pylint: disable=import-outside-toplevel

    from datasets.generators import common  # pylint: disable=import-outside-toplevel

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    target = str(tmp_path / "cache" / "synthetic" / "amazon-x")
    with pytest.raises(UsageError, match="cannot write .*amazon-x: Permission denied"):
        common.atomic_build(target, lambda tmp: None)


# --- outputs that are not plain files (issue 35): never replaced, written through or in place

def test_a_link_to_a_file_is_written_through_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    files.write_json(str(link), {"a": 1})
    assert link.is_symlink() and os.readlink(str(link)) == str(real)
    assert json.loads(real.read_text()) == {"a": 1}
    assert _leftovers(tmp_path) == []


def test_a_dangling_link_creates_its_target_and_stays_a_link(tmp_path):
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "later.jsonl")
    with files.atomic_file(str(link)) as handle:
        handle.write("x\n")
    assert link.is_symlink() and (tmp_path / "later.jsonl").read_text() == "x\n"


def test_a_device_is_written_in_place_not_replaced(tmp_path):
    files.write_json(os.devnull, {"a": 1})
    link = tmp_path / "out"
    link.symlink_to(os.devnull)
    with files.atomic_file(str(link), "wb") as handle:
        handle.write(b"bytes")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert link.is_symlink() and os.readlink(str(link)) == os.devnull


def test_a_fifo_with_a_reader_gets_the_output(tmp_path):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    deadline = time.time() + 10
    while True:  # the reader's open() must be waiting before the writer looks for it
        try:
            files.write_json(fifo, {"streamed": True})
            break
        except UsageError:
            assert time.time() < deadline
            time.sleep(0.05)
    reader.join(10)
    assert json.loads(got[0]) == {"streamed": True}
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and _leftovers(tmp_path) == []


def test_a_fifo_without_a_reader_is_refused_at_once(tmp_path):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="pipe.*no reader"):
        files.write_json(fifo, {})
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_folder_is_refused_by_name(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        files.write_json(str(tmp_path), {})


def test_a_name_the_file_system_refuses_is_a_usage_error_and_leaves_nothing(tmp_path):
    with pytest.raises(UsageError, match="cannot write .*File name too long"):
        files.write_json(str(tmp_path / ("n" * 300)), {})
    assert os.listdir(str(tmp_path)) == []
