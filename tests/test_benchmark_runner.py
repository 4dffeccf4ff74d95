"""``python -m benchmarks.run`` in every documented mode, on tiny sizes (``--smoke``): the runner
must not rot between the occasions someone measures with it (it once crashed on --preprocess)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# slow tier (setup.cfg markers): benchmark runners in subprocesses; `.ci/run` runs it
# keras_agnostic: runner plumbing, run once by .ci/run
pytestmark = [pytest.mark.slow, pytest.mark.keras_agnostic]


@pytest.mark.parametrize("mode", [["--model", "din", "--preprocess"], ["--model", "ngnn"],
                                  ["--model", "featurize"], ["--model", "quality"]],
                         ids=["din", "ngnn", "featurize", "quality"])  # .ci/run names one
def test_every_runner_mode_writes_its_records(tmp_path, mode):
    out = str(tmp_path / "result.json")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "benchmarks.run"] + mode + [
        "--smoke", "--windows", "1", "--out", out], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.load(open(out))
    assert payload["model"] == mode[1] and payload["smoke"] is True
    kinds = {r["benchmark"] for r in payload["records"]}
    want = {"din": {"din_train", "din_preprocessing"},
            "ngnn": {"ngnn_train", "ngnn_fitb_eval", "ngnn_input_pipeline"},
            "featurize": {"featurize_images", "featurize_input_pipeline"},
            "quality": {"time_to_quality"}}[mode[1]]
    assert kinds == want
    if mode[1] == "quality":  # one record per model and data set, each a real run's
        assert [(r["model"], r["data"].split(" (")[0]) for r in payload["records"]] == [
            ("ngnn", "embedded default"), ("din", "remap.pkl layout")]  # --smoke: one each
        for record in payload["records"]:
            ttq = record["time_to_quality"]
            assert 0 < ttq["seconds_to_within"] <= ttq["seconds_to_best"] < record[
                "process_seconds"]
        return
    for record in payload["records"]:
        rate = record.get("train_samples_per_sec") or record.get("images_per_sec") or \
            record.get("samples_per_sec") or record.get("first_run_seconds") or \
            record.get("seconds_first_call")
        assert rate and rate > 0, record
        if record["benchmark"].endswith("_train"):  # the utilisation column's parts
            # the FLOP counts are checked by hand in test_flops; here the column must be a
            # plausible fraction of the measured peak: a unit slip (MFLOP for FLOP, GFLOP/s
            # for FLOP/s) or a rate from another record lands it orders of magnitude away
            assert record["train_mflops_per_sample"] > 0 and record["matmul_peak_gflops"] > 0
            assert 1e-6 < record["utilisation"] < 5.0, record  # measured 0.02-0.5


def test_process_memory_measures_a_fit_in_its_own_child(tmp_path):
    """``python -m benchmarks.process_memory --smoke`` (tiny data, 2 steps): one record per
    ``--source``, with the child's own peak, its training rate and its test metrics."""
    out = str(tmp_path / "memory.json")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "benchmarks.process_memory", "--smoke",
                             "--source", ROOT, "--out", out], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.load(open(out))
    assert payload["smoke"] is True and payload["data"]["items"] > 40 * 3
    (run,) = payload["runs"]
    assert run["train_steps"] == 2 and run["train_pairs_per_sec"] > 0
    assert run["peak_rss_mib"] > 100  # TensorFlow alone is more: the child's, not 0
    assert set(run["test_metrics"]) >= {"fitb_accuracy", "compat_auc"}


def test_iterator_end_measures_both_settings():
    """``benchmarks.iterator_end`` on a tiny epoch: every trial of both settings is timed
    (the figures are the script's job, not this test's: a timed assertion would be noise)."""
    from benchmarks import iterator_end  # pylint: disable=import-outside-toplevel

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    # the settings are not swapped: only the second has the autotuning model off
    assert iterator_end._epoch(tf, 3, True).options().autotune.enabled is not False
    assert iterator_end._epoch(tf, 3, False).options().autotune.enabled is False
    steps, results = iterator_end.measure(0.2, 2, matmul=32)
    assert steps >= 2 and set(results) == {"autotune_model", "without_model"}
    for runs in results.values():
        assert len(runs) == 2
        assert all(0 <= r["end_seconds"] <= r["epoch_seconds"] for r in runs)


def test_fullsize_runner_measures_preprocessing_and_training_in_children(tmp_path):
    """``python -m benchmarks.fullsize`` on tiny generated files of both shapes: every record
    has the preprocessing and the training child's own peak and the rows they saw."""
    out = str(tmp_path / "fullsize.json")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "benchmarks.fullsize", "--rows", "30000",
                             "--train-steps", "2", "--out", out], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.load(open(out))["records"]
    assert [r["shape"] for r in records] == ["movielens", "amazon2018"]
    for record in records:
        assert 25000 < record["written"].get("ratings", record["written"].get("reviews")) <= 30000
        for kind in ("preprocess", "train"):
            assert record[kind]["peak_mib"] > 50  # the child's own (TF alone is far more)
        assert record["train"]["exit_code"] == 0
        assert record["train"]["rows"]["test"]["rows"] == record["preprocess"]["rows"]["test"]
        # the embedding tables' share, so that catalogue growth is told apart from rows
        sizes = record["train"]["sizes"]
        assert record["train"]["model_tables_mib"] == pytest.approx(
            (sizes["items"] + sizes["categories"]) * 32 * 16 / 2.0 ** 20, abs=0.1)


def _ab(tmp_path, *flags):
    out = str(tmp_path / "ab.json")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "benchmarks.ab", "--model", "din", "--smoke",
                             "--batch", "256", "--windows", "3", "--steps", "2", "--out", out]
                            + list(flags), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    return result, out


def test_ab_alternates_two_variants_and_compares_their_first_losses(tmp_path):
    """``python -m benchmarks.ab`` on a tiny remap layout: both children are timed in every
    window, and the same-seed losses tell a speed-only change from a change of results: the
    first loss (before any update) is the same for two learning rates, the next ones are not;
    a variant's environment reaches its process and no other. A variant that cannot be built
    fails the command with its side and settings named."""
    result, out = _ab(tmp_path, "--set-b", "train.learning_rate=0.05", "--env-b",
                      "NPUREC_AB_PROBE=b side")
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.load(open(out))
    for side in ("a", "b"):
        assert len(record[side]["window_rates"]) == 3
        assert all(rate > 0 for rate in record[side]["window_rates"])
        assert record[side]["batch_size"] == 256
    assert record["b"]["config"]["train"]["learning_rate"] == 0.05
    assert record["b"]["env"] == {"NPUREC_AB_PROBE": "b side"} and record["a"]["env"] == {}
    assert record["a"]["config"]["train"]["learning_rate"] != 0.05
    assert record["ratio"] == pytest.approx(
        record["b"]["samples_per_sec"] / record["a"]["samples_per_sec"])
    first_a, first_b = record["a"]["first_losses"], record["b"]["first_losses"]
    assert abs(first_a[0] - first_b[0]) < 1e-6
    assert record["first_loss_max_diff"] > 1e-4

    result, _ = _ab(tmp_path, "--set-b", "model.no_such_option=1")
    assert result.returncode != 0
    assert "variant b (--set model.no_such_option=1)" in result.stderr
    assert "no_such_option" in result.stderr

    old = tmp_path / "old-checkout"  # a checkout from before the one trainer builder
    (old / "training" / "loop").mkdir(parents=True)
    (old / "training" / "__init__.py").write_text("")
    (old / "training" / "loop" / "__init__.py").write_text("")
    result, _ = _ab(tmp_path, "--code-b", str(old))
    assert result.returncode != 0 and "predates training.loop.build_trainer" in result.stderr


@pytest.mark.parametrize("args, needle", [
    (["--model", "din", "--windows", "0"], "--windows 0: must be at least 1"),
    (["--model", "featurize", "--backbones", "foo"], "--backbones: unknown 'foo'"),
    (["--model", "featurize", "--image-batch", "-1"], "--image-batch -1"),
    (["--model", "din", "--out", "/no/such/folder/x.json"], "the folder /no/such/folder"),
])
def test_bad_runner_arguments_exit_2_before_measuring(tmp_path, capsys, args, needle):
    """Issue 35: each of these ended in a traceback, or (--out) failed after every
    measurement."""
    from benchmarks import run  # pylint: disable=import-outside-toplevel

    if "--out" not in args:
        args = args + ["--out", str(tmp_path / "r.json")]
    with pytest.raises(SystemExit) as stopped:
        run.main(args + ["--smoke"])
    assert stopped.value.code == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
