"""End to end through ``python -m training.fit`` on the tiny toy task, and its bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from training import fit

TOY = "tests.toy_task:ToyTask"


def _run(tmp_path, *extra, name="run"):
    out = str(tmp_path / name)
    code = fit.main(["--model", TOY, "--output-dir", out, "--device", "cpu"] + list(extra))
    return code, out


def test_cli_writes_the_run_directory(tmp_path):
    code, out = _run(tmp_path, "--epochs", "3", "--seed", "3")
    assert code == 0
    for name in ("config.json", "metrics.json", "history.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    for key in ("model", "device", "precision", "versions", "train_samples_per_sec",
                "validation", "test"):
        assert key in metrics, key
    assert metrics["device"] == "cpu" and metrics["precision"] == "fp32"
    assert set(metrics["test"]) == {"auc", "logloss"}
    assert metrics["test"]["auc"] > 0.8  # planted linear signal: far above chance
    # throughput leaves the first step (tracing, compilation) out: one average step is
    # faster than the first
    batch = metrics["config"]["train"]["batch_size"]
    assert batch / metrics["train_samples_per_sec"] < metrics["first_step_seconds"]
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["train"]["epochs"] == 3 and config["train"]["seed"] == 3
    history = json.load(open(os.path.join(out, "history.json")))
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # loss falls
    assert os.listdir(os.path.join(out, "checkpoints"))
    events = [f for _, _, files in os.walk(os.path.join(out, "logs")) for f in files]
    assert any("tfevents" in f for f in events)


def test_same_seed_gives_same_metrics(tmp_path):
    assert _run(tmp_path, "--seed", "5", name="a")[0] == 0
    assert _run(tmp_path, "--seed", "5", name="b")[0] == 0
    ma = json.load(open(str(tmp_path / "a" / "metrics.json")))
    mb = json.load(open(str(tmp_path / "b" / "metrics.json")))
    assert ma["test"] == mb["test"] and ma["validation"] == mb["validation"]


def test_config_file_and_set_overrides(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"train": {"epochs": 1, "batch_size": 16},
                               "model": {"hidden": 3}}))
    code, out = _run(tmp_path, "--config", str(cfg), "--set", "train.batch_size=64",
                     "--set", "data.n=256")
    assert code == 0
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["train"]["batch_size"] == 64 and config["train"]["epochs"] == 1
    assert config["model"]["hidden"] == 3 and config["data"]["n"] == 256


@pytest.mark.parametrize("extra, needle", [
    (["--set", "train.nope=1"], "unknown train option"),
    (["--set", "train.epochs=many"], "train.epochs got 'many'"),
    (["--set", "epochs=2"], "must name a section"),
    (["--set", "train.batch_size=0"], "train.batch_size (0) must be >= 1"),
    (["--device", "npu"], "npu_device"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, extra, needle):
    code, _ = _run(tmp_path, *extra)
    assert code == 2
    assert needle in capsys.readouterr().err


def test_unknown_model(capsys):
    assert fit.main(["--model", "nosuchmodel"]) == 2
    err = capsys.readouterr().err
    assert "unknown --model 'nosuchmodel'" in err and "ngnn" in err and "din" in err


@pytest.mark.parametrize("name, needle", [
    ("collections:OrderedDict", "is not a Task subclass"),  # issue 35: AttributeError
    ("os.path:join", "is not a Task subclass"),
    ("json:", "cannot import the task"),
    (":Task", "cannot import the task"),
    ("no_such_module_x:Task", "cannot import the task"),
])
def test_a_model_name_that_is_not_a_task_is_named(capsys, name, needle):
    assert fit.main(["--model", name]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_existing_run_is_refused_and_kept(tmp_path, capsys):
    code, out = _run(tmp_path, "--epochs", "1")
    assert code == 0
    before = {f: open(os.path.join(out, f), "rb").read() for f in ("config.json", "metrics.json")}
    code, _ = _run(tmp_path, "--epochs", "1")
    assert code == 2
    assert "already holds a run" in capsys.readouterr().err
    for name, content in before.items():
        assert open(os.path.join(out, name), "rb").read() == content
    # --overwrite moves it aside instead of deleting it
    code, _ = _run(tmp_path, "--epochs", "1", "--overwrite")
    assert code == 0
    aside = [d for d in os.listdir(str(tmp_path)) if d.startswith("run.replaced-")]
    assert len(aside) == 1
    assert open(os.path.join(str(tmp_path), aside[0], "metrics.json"), "rb").read() == \
        before["metrics.json"]


def test_corrupt_checkpoint_is_refused_and_nothing_deleted(tmp_path, capsys):
    code, out = _run(tmp_path, "--epochs", "1")
    assert code == 0
    ckpt_dir = os.path.join(out, "checkpoints")
    data_files = [f for f in os.listdir(ckpt_dir) if ".data-" in f]
    for name in data_files:
        with open(os.path.join(ckpt_dir, name), "wb") as handle:
            handle.write(b"garbage")
    listing = sorted(os.listdir(ckpt_dir))
    code, _ = _run(tmp_path, "--epochs", "2", "--resume")
    assert code == 2
    assert "cannot restore" in capsys.readouterr().err
    assert sorted(os.listdir(ckpt_dir)) == listing


def test_resume_with_different_model_settings_is_refused(tmp_path, capsys):
    assert _run(tmp_path, "--epochs", "1")[0] == 0
    code, _ = _run(tmp_path, "--epochs", "2", "--resume", "--set", "model.hidden=4")
    assert code == 2
    assert "model.hidden (was 0, now 4)" in capsys.readouterr().err


def test_wrong_datasets_package_is_named(tmp_path):
    """A fake Hugging Face-like ``datasets`` earlier on sys.path must give a clear message."""
    fake = tmp_path / "fake" / "datasets"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("# not npurec\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), ROOT]))
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                           "from training import fit; sys.exit(fit.main(['--model', 'toy']))"
                           % str(tmp_path / "fake")],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "not npurec's datasets package" in proc.stderr


def test_yaml_config(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("train:\n  epochs: 1\n  batch_size: 16\nmodel:\n  hidden: 2\n")
    code, out = _run(tmp_path, "--config", str(cfg))
    assert code == 0
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["train"]["batch_size"] == 16 and config["model"]["hidden"] == 2


def test_bad_config_file(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"trian": {"epochs": 1}}')
    code, _ = _run(tmp_path, "--config", str(cfg))
    assert code == 2
    assert "unknown section(s) trian" in capsys.readouterr().err


def test_presets_sit_between_defaults_and_overrides(tmp_path, capsys):
    """NGNN's published configuration is the preset ``paper``; --config, flags and --set
    still win over it. Resolved only (no training)."""
    from training import tasks

    from training.infra import config as cfg

    task = tasks.task_class("ngnn")
    default = cfg.resolve(task)
    assert (default["model"].readout, default["model"].ranking_loss,
            default["model"].consistency_weight) == ("mean", "bpr", 0.0)
    paper = cfg.resolve(task, preset="paper", sets=["model.consistency_weight=2"])
    assert (paper["model"].readout, paper["model"].ranking_loss) == ("sum", "sigmoid")
    assert paper["model"].consistency_weight == 2.0  # --set wins over the preset
    code, _ = _run(tmp_path, "--preset", "paper")
    assert code == 2 and "has no presets" in capsys.readouterr().err
    assert fit.main(["--model", "ngnn", "--preset", "papr", "--output-dir",
                     str(tmp_path / "x")]) == 2
    assert "the presets paper" in capsys.readouterr().err


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_result_files_respect_the_umask(tmp_path, umask, mode):
    """Atomic writes start from mkstemp's 0600; results must be readable like any file the
    user creates."""
    from core import files

    old = os.umask(umask)
    try:
        code, out = _run(tmp_path, "--epochs", "1")
        path = str(tmp_path / "direct.json")
        files.write_json(path, {"a": 1})
    finally:
        os.umask(old)
    assert code == 0
    for name in ("config.json", "metrics.json", "history.json"):
        assert os.stat(os.path.join(out, name)).st_mode & 0o777 == mode, name
    assert os.stat(path).st_mode & 0o777 == mode


def _bad_amazon_dir(tmp_path):
    bad = tmp_path / "bad-data"
    bad.mkdir()
    (bad / "reviews_Electronics_5.json").write_text('{"reviewerID": {"x": 1}}\n')
    (bad / "meta_Electronics.json").write_text("{'asin': 'a'}\n")
    return str(bad)


def test_bad_data_leaves_the_output_directory_as_it_was(tmp_path, capsys):
    """Data is validated before the run directory is created or an old run moved aside."""
    bad = _bad_amazon_dir(tmp_path)
    out = str(tmp_path / "new")
    assert fit.main(["--model", "din", "--data-dir", bad, "--output-dir", out]) == 2
    assert "reviews_Electronics_5.json:1" in capsys.readouterr().err
    assert not os.path.exists(out)
    code, good = _run(tmp_path, "--epochs", "1")
    assert code == 0
    before = sorted(os.listdir(good))
    assert fit.main(["--model", "din", "--data-dir", bad, "--output-dir", good,
                     "--overwrite"]) == 2
    assert sorted(os.listdir(good)) == before
    assert not [d for d in os.listdir(str(tmp_path)) if ".replaced-" in d]


def test_resume_with_another_seed_or_batch_is_refused(tmp_path, capsys):
    assert _run(tmp_path, "--epochs", "1", "--seed", "1")[0] == 0
    code, _ = _run(tmp_path, "--epochs", "2", "--seed", "2", "--resume")
    assert code == 2
    err = capsys.readouterr().err
    assert "train.seed (was 1, now 2)" in err and "Nothing was changed" in err
    code, _ = _run(tmp_path, "--epochs", "2", "--seed", "1", "--batch-size", "64", "--resume")
    assert code == 2 and "train.batch_size (was 32, now 64)" in capsys.readouterr().err
    # more epochs with the same settings: fine
    assert _run(tmp_path, "--epochs", "2", "--seed", "1", "--resume")[0] == 0


def test_resume_where_there_is_no_run_says_so(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        code, _ = _run(tmp_path, "--epochs", "1", "--resume")
    assert code == 0
    assert "holds no run to continue; starting a new run" in caplog.text


def test_unreadable_checkpoint_index_resumes_from_the_newest_file(tmp_path, caplog):
    code, out = _run(tmp_path, "--epochs", "1")
    assert code == 0
    index = os.path.join(out, "checkpoints", "checkpoint")
    with open(index, "w") as handle:
        handle.write("model_checkpoint_path: {{{ garbage")
    with caplog.at_level("WARNING"):
        code, _ = _run(tmp_path, "--epochs", "2", "--resume")
    assert code == 0
    assert "does not name a checkpoint" in caplog.text
    history = json.load(open(os.path.join(out, "history.json")))
    assert [h["epoch"] for h in history] == [1, 2]  # continued, not restarted


@pytest.mark.parametrize("folder", ["checkpoints", "checkpoints/best"])
def test_a_checkpoint_state_file_that_is_not_text_is_set_aside_not_a_traceback(
        tmp_path, caplog, capsys, folder):
    """Bytes that are not text in a ``checkpoint`` state file ended TensorFlow in a
    UnicodeDecodeError: resume keeps the file aside and continues from the newest checkpoint
    on disk; evaluate (which never writes) refuses with the reason."""
    from training import evaluate  # pylint: disable=import-outside-toplevel

    code, out = _run(tmp_path, "--epochs", "1")
    assert code == 0
    state = os.path.join(out, folder, "checkpoint")
    with open(state, "wb") as handle:
        handle.write(b"\xff\xfe\x00 not text")
    if folder == "checkpoints/best":
        assert evaluate.main(["--run-dir", out]) == 2
        assert "cannot be read" in capsys.readouterr().err
    with caplog.at_level("WARNING"):
        code, _ = _run(tmp_path, "--epochs", "2", "--resume")
    assert code == 0
    assert "is not text: kept as" in caplog.text
    assert [n for n in os.listdir(os.path.join(out, folder)) if ".unreadable-" in n]
    history = json.load(open(os.path.join(out, "history.json")))
    assert [h["epoch"] for h in history] == [1, 2]


def test_unreadable_checkpoint_index_without_files_is_refused(tmp_path, capsys):
    code, out = _run(tmp_path, "--epochs", "1")
    ckpt_dir = os.path.join(out, "checkpoints")
    for name in os.listdir(ckpt_dir):
        if name.startswith("ckpt-"):
            os.remove(os.path.join(ckpt_dir, name))
    with open(os.path.join(ckpt_dir, "checkpoint"), "w") as handle:
        handle.write("garbage")
    assert _run(tmp_path, "--epochs", "2", "--resume")[0] == 2
    assert "names no readable checkpoint" in capsys.readouterr().err


def test_resume_after_history_was_deleted_says_what_is_lost(tmp_path, caplog):
    code, out = _run(tmp_path, "--epochs", "1")
    os.remove(os.path.join(out, "history.json"))
    with caplog.at_level("WARNING"):
        assert _run(tmp_path, "--epochs", "2", "--resume")[0] == 0
    assert "history.json is missing: the evaluations before step" in caplog.text


@pytest.mark.parametrize("where", ["", "  ", "file/run"])
def test_unusable_output_dir_exits_2(tmp_path, capsys, where):
    (tmp_path / "file").write_text("x")
    target = str(tmp_path / where) if where.strip() else where
    code = fit.main(["--model", TOY, "--output-dir", target, "--device", "cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert ("--output-dir is empty" in err) if not where.strip() else (
        "cannot write the run directory" in err)


def test_divergence_is_named_and_the_last_good_checkpoint_kept(tmp_path, capsys):
    code, out = _run(tmp_path, "--set", "model.hidden=16", "--learning-rate", "1e12",
                     "--set", "train.optimizer=sgd",
                     "--epochs", "3", "--set", "train.checkpoint_every_steps=1",
                     "--set", "train.log_every_steps=1")
    assert code == 4  # its own exit code (core.errors): neither bad input nor a bug
    err = capsys.readouterr().err
    assert "training diverged: the weights are NaN/inf at step" in err
    assert "train.learning_rate = 1e+12" in err
    assert not os.path.exists(os.path.join(out, "metrics.json"))
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    latest = tf.train.latest_checkpoint(os.path.join(out, "checkpoints"))
    assert latest  # checkpoint_every_steps=1: the steps before the divergence were saved
    reader = tf.train.load_checkpoint(latest)  # ... with finite weights
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if name.startswith("model/") and getattr(value, "dtype", np.int8).kind == "f":
            assert np.isfinite(value).all(), name


def test_a_model_below_a_rule_on_validation_is_said_and_recorded(tmp_path, caplog):
    """The toy's ``labels`` rule reads the labels (AUC 1), so the model is below it; the
    always-0.5 ``constant`` rule is beaten and not named."""
    caplog.set_level("WARNING")
    code, out = _run(tmp_path, "--epochs", "1", "--set", "data.label_rule=true")
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    below = metrics["below_rules"]
    assert [(b["metric"], b["rule"], b["rule_value"]) for b in below] == [("auc", "labels", 1.0)]
    assert below[0]["model"] == metrics["validation"]["auc"]
    assert any("BELOW the rule labels on validation auc" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")
    code, out = _run(tmp_path, "--epochs", "1", name="plain")
    assert json.load(open(os.path.join(out, "metrics.json")))["below_rules"] == []


def test_a_refusal_by_the_settings_alone_does_not_read_the_data(tmp_path, capsys,
                                                               monkeypatch):
    """A monitor that is none of the task's metrics is refused before the task's data is
    prepared: a user with a large data set is not kept waiting for a refusal the settings
    already decide."""
    from tests import toy_task  # pylint: disable=import-outside-toplevel

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the data was read before a settings refusal")
    monkeypatch.setattr(toy_task.ToyTask, "prepare", no_reading)
    code, out = _run(tmp_path, "--epochs", "1", "--set", "train.monitor=nosuch")
    assert code == 2 and "train.monitor 'nosuch'" in capsys.readouterr().err
    assert not os.path.exists(out)


@pytest.mark.parametrize("bad", [["--batch-size", "100000"],
                                 ["--set", "train.monitor=nosuch"],
                                 ["--set", "train.monitor=AUC"]])
def test_a_refusal_that_needs_the_data_still_writes_nothing(tmp_path, capsys, bad):
    """Refusals made in the driver (a batch larger than the training set, once the data is
    loaded; a monitor that is none of the task's metrics, before) come before the run
    directory is touched: exit 2, nothing there, and the corrected command is not refused as
    "already holds a run"."""
    code, out = _run(tmp_path, "--epochs", "1", *bad)
    assert code == 2 and "Nothing was written" in capsys.readouterr().err
    assert not os.path.exists(out)
    code, _ = _run(tmp_path, "--epochs", "1")
    assert code == 0


@pytest.mark.parametrize("model", ["din", "ngnn"])
def test_a_cache_that_is_a_file_is_named_and_kept(tmp_path, monkeypatch, capsys, model):
    """NPUREC_CACHE pointing at a regular file: one line naming it (exit 2), not an OSError
    traceback, and the file is as it was."""
    cache = tmp_path / "cache"
    cache.write_text("mine")
    monkeypatch.setenv("NPUREC_CACHE", str(cache))
    code = fit.main(["--model", model, "--output-dir", str(tmp_path / "run"), "--device",
                     "cpu"])
    assert code == 2 and cache.read_text() == "mine"
    assert "NPUREC_CACHE" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_ctrl_c_says_where_the_run_stopped_and_resume_finishes_it(tmp_path, monkeypatch,
                                                                 capsys):
    """Ctrl-C during training: one line (exit 130) naming the step and the checkpoint that
    --resume continues from, no KeyboardInterrupt traceback; --resume then finishes."""
    from training.loop.trainer import Trainer  # pylint: disable=import-outside-toplevel

    real, calls = Trainer.train_step, []

    def interrupted(self, batch):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    code, out = _run(tmp_path, "--epochs", "2", "--set", "train.checkpoint_every_steps=1")
    err = capsys.readouterr().err
    assert code == 130 and "interrupted at step 3" in err and "ckpt-3" in err
    assert "--resume" in err and "Traceback" not in err
    monkeypatch.setattr(Trainer, "train_step", real)
    code, _ = _run(tmp_path, "--epochs", "2", "--resume")
    assert code == 0 and os.path.isfile(os.path.join(out, "metrics.json"))


def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last(tmp_path,
                                                                       monkeypatch, capsys):
    """The disk fills at the third checkpoint: exit 2, one line naming the folder and the last
    complete checkpoint (which is still there), no ResourceExhaustedError traceback."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    real, calls = tf.train.CheckpointManager.save, []

    def full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    code, out = _run(tmp_path, "--epochs", "2", "--set", "train.checkpoint_every_steps=1")
    err = capsys.readouterr().err
    assert code == 2 and "cannot write the checkpoint of step" in err
    assert "No space left on device" in err and "Traceback" not in err
    kept = err.split("the last complete checkpoint is ")[1].split(". ")[0]
    assert os.path.isfile(kept + ".index")


@pytest.mark.parametrize("model, setting, needle", [
    ("din", "data.maxlen=1000000000", "data.maxlen=1000000000"),
    ("din", "model.embedding_dim=100000000", "model.embedding_dim=100000000"),
    ("din", "model.recency=1000000000", "recency=1000000000"),  # issue 35
    ("din", "model.mlp_units=[1000000000]", "mlp_units=[1000000000]"),
    ("din", "model.attention_units=[100000,100000]", "attention_units=[100000, 100000]"),
    ("ngnn", "model.hidden=10000000", "model.hidden=10000000"),
])
def test_a_size_the_machine_cannot_hold_is_refused_with_numbers(tmp_path, monkeypatch, capsys,
                                                                model, setting, needle):
    """Sizes that used to get the process killed by the operating system (no message): the
    estimate is checked before allocating, exit 2 names the setting and both sizes, and no
    run directory is left."""
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    small = (["--set", "data.synthetic_users=300", "--batch-size", "64"] if model == "din"
             else ["--set", "data.synthetic_outfits=100", "--set", "data.visual_dim=16",
                   "--set", "data.vocab_size=50"])
    code = fit.main(["--model", model, "--output-dir", str(tmp_path / "run"), "--device",
                     "cpu", "--set", setting] + small)
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "GB available" in err
    assert not (tmp_path / "run").exists()


def test_every_metric_says_how_many_rows_it_rests_on(tmp_path, caplog):
    """metrics.json records the rows behind each split's metrics; a split with too few gets a
    WARNING that names the count (2 rows once gave AUC 1.0 on test and 0.0 on validation)."""
    import logging  # pylint: disable=import-outside-toplevel

    from training.loop.report import MIN_ROWS  # pylint: disable=import-outside-toplevel

    caplog.set_level(logging.WARNING)
    code, out = _run(tmp_path, "--epochs", "1", "--set", "data.n=40", "--batch-size", "8")
    assert code == 0
    rows = json.load(open(os.path.join(out, "metrics.json")))["rows"]
    assert rows == {"validation": {"rows": 40}, "test": {"rows": 40}}
    said = [r.getMessage() for r in caplog.records if "too few" in r.getMessage()]
    assert len(said) == 2 and "40 rows" in said[0] and str(MIN_ROWS) in said[0]
    caplog.clear()
    code, out = _run(tmp_path, "--epochs", "1", "--set", "data.n=200", name="enough")
    assert code == 0 and not [r for r in caplog.records if "too few" in r.getMessage()]
