"""The one atomic writer (models/files.py): a failed write leaves the target as it was, a
finished one has the user's file mode, and each "target exists" policy does what it says."""
import json
import os

import pytest

from models import files
from models.errors import UsageError


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
