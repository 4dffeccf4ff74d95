"""Config parsing (types, nesting, files) and the run directory (atomic writes, refusals)."""
import json
import os

import pytest

from training.infra import config as cfg
from training.infra import rundir
from core.errors import UsageError


@pytest.mark.parametrize("value, want", [("true", True), ("0", False), (False, False)])
def test_bool_options_accept_text_and_booleans(value, want):
    section = cfg.build_section(cfg.RuntimeConfig, {"deterministic": value}, "runtime")
    assert section.deterministic is want


@pytest.mark.parametrize("values, needle", [
    ({"epochs": 2.5}, "train.epochs got 2.5"),
    ({"epochs": True}, "train.epochs got True"),
    ({"learning_rate": "fast"}, "train.learning_rate got 'fast'"),
    ({"nope": 1}, "unknown train option(s): nope"),
])
def test_bad_types_and_unknown_keys_are_named(values, needle):
    with pytest.raises(UsageError) as info:
        cfg.build_section(cfg.TrainConfig, values, "train")
    assert needle in str(info.value)


def test_overrides_parse_json_values_and_nest_dotted_keys():
    raw = {"train": {}, "runtime": {}}
    cfg.apply_overrides(raw, ["train.epochs=3", "train.monitor=auc",
                              "runtime.npu_options.dump_config.enable_dump=true",
                              "runtime.npu_options.op_debug_level=1"], ("train", "runtime"))
    assert raw["train"] == {"epochs": 3, "monitor": "auc"}
    assert raw["runtime"]["npu_options"] == {"dump_config": {"enable_dump": True},
                                             "op_debug_level": 1}
    section = cfg.build_section(cfg.RuntimeConfig, raw["runtime"], "runtime")
    assert section.npu_options["dump_config"] == {"enable_dump": True}
    with pytest.raises(UsageError, match="is not a mapping"):
        cfg.apply_overrides({"train": {"epochs": 3}}, ["train.epochs.x=1"], ("train",))
    with pytest.raises(UsageError, match="expected a dict|got"):
        cfg.build_section(cfg.RuntimeConfig, {"npu_options": [1]}, "runtime")


def test_config_files_json_and_errors(tmp_path):
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"train": {"epochs": 2}}))
    assert cfg.load_config_file(str(good)) == {"train": {"epochs": 2}}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        cfg.load_config_file(str(bad))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(UsageError, match="expected a mapping of sections, got list"):
        cfg.load_config_file(str(listed))
    with pytest.raises(UsageError, match="no such file"):
        cfg.load_config_file(str(tmp_path / "missing.json"))


def test_read_json_names_a_corrupt_file(tmp_path):
    path = tmp_path / "history.json"
    path.write_text("[{")
    with pytest.raises(UsageError, match="history.json: not valid JSON"):
        rundir.read_json(str(path))
    assert rundir.read_json(str(tmp_path / "absent.json"), default=[]) == []


def test_check_and_prepare(tmp_path):
    run = str(tmp_path / "run")
    assert rundir.check(run) is False  # nothing there: a new run
    rundir.prepare(run)
    assert sorted(os.listdir(run)) == ["checkpoints", "logs"]
    rundir.write_config(run, {})
    with pytest.raises(UsageError, match="already holds a run"):
        rundir.check(run)
    assert rundir.check(run, resume=True) is True
    with pytest.raises(UsageError, match="contradict"):
        rundir.check(run, resume=True, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        rundir.check(str(tmp_path / "file"))
    with pytest.raises(UsageError, match="cannot write the run directory"):
        rundir.prepare(str(tmp_path / "file" / "run"))


def test_vocabulary_difference_names_the_first_changed_id():
    saved = {"items": ["", "a", "b"], "categories": ["", "x"]}
    assert rundir.vocabulary_difference(saved, dict(saved)) is None
    moved = rundir.vocabulary_difference(saved, {"items": ["", "a", "c"], "categories": ["", "x"]})
    assert moved == "items[2] is 'c' now, 'b' when the run was trained"
    grown = rundir.vocabulary_difference(saved, {"items": ["", "a", "b"],
                                                 "categories": ["", "x", "y"]})
    assert grown == "categories has 3 entries now, 2 when the run was trained"


@pytest.mark.parametrize("model, assignment, needle", [
    ("ngnn", "data.synthetic_layout=tar", "data.synthetic_layout"),
    ("ngnn", "data.on_missing=ignore", "data.on_missing"),
    ("ngnn", "data.visual_dim=0", "data.visual_dim"),
    ("din", "data.on_bad_line=drop", "data.on_bad_line"),
    ("din", "model.mlp_units=[]", "model.mlp_units"),
    ("din", "train.clip_norm=NaN", "train.clip_norm"),
    ("ngnn", "model.beta=Infinity", "model.beta"),
])
def test_every_field_is_checked_when_the_config_is_built(model, assignment, needle):
    """A bad value is refused by config.resolve itself (before any data is generated or
    read), naming the key; not later by the loader it would reach."""
    from training import tasks  # pylint: disable=import-outside-toplevel

    with pytest.raises(UsageError, match=needle.replace(".", r"\.")):
        cfg.resolve(tasks.task_class(model), sets=[assignment])


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 2 ** 70])
def test_a_seed_out_of_range_is_named_not_a_numpy_traceback(seed):
    from training import tasks  # pylint: disable=import-outside-toplevel

    with pytest.raises(UsageError, match=r"train\.seed .* 0 \.\. 2\*\*32 - 1"):
        cfg.resolve(tasks.task_class("din"), flags={("train", "seed"): seed})
    assert cfg.resolve(tasks.task_class("din"), flags={("train", "seed"): 2 ** 32 - 1})


def _laughs(depth, width=9):
    lines = ["runtime:", "  npu_options:", '    l0: &l0 "lol"']
    for level in range(1, depth + 1):
        lines.append("    l{}: &l{} [{}]".format(level, level, ", ".join(
            ["*l{}".format(level - 1)] * width)))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("depth", [6, 9])
def test_a_yaml_alias_bomb_is_refused(tmp_path, depth):
    """"Billion laughs" under runtime.npu_options (9**6 and 9**9 values once expanded; the
    latter hung the run): refused from the composed node graph, which is never expanded,
    naming the count; a file with a few aliases still loads."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_laughs(depth))
    with pytest.raises(UsageError, match=r"expands to [0-9,]+ values"):
        cfg.load_config_file(str(bomb))
    small = tmp_path / "small.yaml"
    small.write_text(_laughs(2))
    assert len(cfg.load_config_file(str(small))["runtime"]["npu_options"]["l2"]) == 9


@pytest.mark.parametrize("text, name", [("[" * 100000 + "]" * 100000, "deep.json"),
                                        ("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")])
def test_a_config_nested_too_deeply_is_a_usage_error(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError, match=name):
        cfg.load_config_file(str(path))


def test_a_huge_config_file_is_refused(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text('{"train": {"epochs": 1}, "pad": "' + "x" * (cfg.MAX_CONFIG_BYTES) + '"}')
    with pytest.raises(UsageError, match="holds at most"):
        cfg.load_config_file(str(path))


@pytest.mark.parametrize("name, content, needle", [
    ("list.json", b'{"train": [1, 2]}', r"section 'train' must be a mapping .* got list"),
    ("text.json", b'{"train": "abc"}', r"section 'train' must be a mapping .* got str"),
    ("number.json", b'{"model": 3}', r"section 'model' must be a mapping .* got int"),
    ("key.yaml", b"train: {epochs: 1, 2: 3}\n", r"train: key 2 is not a name; settings"),
    ("top.yaml", b"train: {epochs: 1}\n1: 2\n", r"key 1 is not a name; sections are"),
    ("deep.yaml", b"runtime: {npu_options: {3: x}}\n", r"runtime.npu_options: key 3"),
    ("bytes.json", b'{"train":\n {"epochs": "\xff"}}', r"bytes.json:2: bytes that are not "
                                                      r"UTF-8"),
])
def test_a_config_file_of_the_wrong_shape_is_named(tmp_path, capsys, name, content, needle):
    """Issue 35: each of these ended in a traceback; now exit 2 naming the file and key."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=needle):
        cfg.load_config_file(str(path))
    from training import fit  # the command line says the same, with exit 2
    assert fit.main(["--model", "din", "--config", str(path), "--output-dir",
                     str(tmp_path / "run")]) == 2
    assert name in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("make", [
    lambda base: os.path.join(base, "a", "b", "x" * 300),  # a component too long
    lambda base: os.path.join(base, "a", *(["y" * 200] * 25)),  # a path too long
])
def test_an_output_dir_the_system_cannot_make_leaves_no_folders(tmp_path, make, capsys):
    """Issue 35: an over-long --output-dir left empty folders behind."""
    from training import fit  # pylint: disable=import-outside-toplevel

    before = sorted(os.listdir(str(tmp_path)))
    assert fit.main(["--model", "tests.toy_task:ToyTask", "--output-dir", make(str(tmp_path)),
                     "--device", "cpu", "--epochs", "1"]) == 2
    assert "Nothing was created" in capsys.readouterr().err
    assert sorted(os.listdir(str(tmp_path))) == before


def test_make_folders_removes_what_it_made_when_it_fails(tmp_path):
    from core import files  # pylint: disable=import-outside-toplevel

    with pytest.raises(OSError):
        files.make_folders(str(tmp_path / "a" / "b" / ("z" * 300)))
    assert os.listdir(str(tmp_path)) == []
    made = files.make_folders(str(tmp_path / "c" / "d"))
    assert made == [str(tmp_path / "c" / "d"), str(tmp_path / "c")]


def test_a_set_value_nested_too_deeply_is_a_usage_error():
    with pytest.raises(UsageError, match="nested too deeply"):
        cfg.apply_overrides({"model": {}}, ["model.mlp_units=" + "[" * 100000 + "]" * 100000],
                            ("model",))
