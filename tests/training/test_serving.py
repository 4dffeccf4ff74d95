"""Export and batch scoring of trained runs (both models, embedded defaults, one short epoch)."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from training import export, fit, predict
from training.driver import serving
from core.errors import UsageError
from training.tasks.din import INPUT_KEYS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    saved = os.environ.get("NPUREC_CACHE")
    os.environ["NPUREC_CACHE"] = str(base / "cache")  # monkeypatch is function-scoped
    out = {}
    # small data sets and few steps: these tests are about export, predict and evaluate, not
    # about what the models learn (the end-to-end tests are)
    for model, extra in (("din", ["--epochs", "1", "--batch-size", "256",
                                  "--set", "data.synthetic_users=600",
                                  "--set", "train.steps_per_epoch=20"]),
                         ("ngnn", ["--epochs", "1", "--set", "train.steps_per_epoch=30",
                                   "--set", "data.synthetic_outfits=240",
                                   "--set", "data.visual_dim=64",
                                   "--set", "data.vocab_size=300"])):
        run_dir = str(base / model)
        assert fit.main(["--model", model, "--output-dir", run_dir, "--device", "cpu"]
                        + extra) == 0
        out[model] = run_dir
    try:
        yield out
    finally:  # put back what the user (or an outer fixture) had, not just remove it
        if saved is None:
            os.environ.pop("NPUREC_CACHE", None)
        else:
            os.environ["NPUREC_CACHE"] = saved


@pytest.mark.parametrize("model", ["din", "ngnn"])
def test_export_round_trip(runs, model):
    path, diff = export.export(runs[model])
    assert diff <= 1e-5
    loaded = tf.saved_model.load(path)
    assert "serving_default" in loaded.signatures
    with pytest.raises(UsageError, match="exists"):
        export.export(runs[model])  # never overwrites


def _write(path, lines):
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _read(path):
    return [json.loads(line) for line in open(path)]


def test_din_predict_ranks_and_reports_bad_lines(runs, tmp_path):
    run = serving.load_run(runs["din"])
    test = run.data.splits["test"]
    row = int(np.flatnonzero(test["hist_len"] >= 2)[0])
    k = int(test["hist_len"][row])
    history = [[int(i), int(c)] for i, c in zip(test["hist_items"][row, :k],
                                                 test["hist_cats"][row, :k])]
    # each history event's feedback by name, as the run's vocab.json lists them
    names = [str(n) for n in run.data.vocab["feedback"].tolist()]
    feedback = [names[c] if c else None for c in test["hist_feedback"][row, :k].tolist()]
    assert int(test["prior_events"][row]) == k  # the whole history is the one given
    one = [1, int(run.data.vocab["item_category"][1])]  # item 1 with its own category
    candidates = [[int(test["target_item"][row]), int(test["target_cat"][row])], one]
    maxlen = test["hist_items"].shape[1]
    _write(str(tmp_path / "in.jsonl"), [
        json.dumps({"history": history, "candidates": candidates, "feedback": feedback}),
        "{broken",
        json.dumps({"history": history, "candidates": [[10 ** 7, 1]]}),
        json.dumps({"history": history * (maxlen + 1), "candidates": candidates}),
    ])
    scored, errors = predict.predict(runs["din"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (2, 2)
    out = _read(str(tmp_path / "out.jsonl"))
    assert [o["line"] for o in out] == [1, 2, 3, 4]
    # the training code's path on the same row: read from the samples, then scored
    stored = run.data.splits["test"].read([row])
    want = run.task.score(run.model, run.data, {key: tf.constant(stored[key])
                                                for key in INPUT_KEYS}).numpy()[0]
    assert out[0]["probabilities"][0] == pytest.approx(float(want), abs=1e-6)  # padding kept
    assert sorted(out[0]["ranking"]) == [0, 1]
    assert "malformed JSON" in out[1]["error"]
    assert "unknown id" in out[2]["error"]
    assert "truncated to the most recent {}".format(maxlen) in out[3]["warnings"][0]


def test_ngnn_predict_scores_outfits_and_fitb(runs, tmp_path):
    run = serving.load_run(runs["ngnn"])
    data = run.data
    raw_of = {v: k for k, v in data.category_map.items()}
    test = data.splits["test"]
    size = int(test["mask"][0].sum())
    outfit = [{"item": data.store.keys[int(test["items"][0, i])],
               "category": raw_of[int(test["cats"][0, i])]} for i in range(size)]
    _write(str(tmp_path / "in.jsonl"), [
        json.dumps({"outfit": outfit}),
        json.dumps({"outfit": outfit[:-1], "candidates": [outfit[-1], outfit[0]]}),
        json.dumps({"outfit": outfit[:1]}),
        json.dumps({"outfit": [{"item": "nope_1", "category": outfit[0]["category"]}] * 3}),
        json.dumps({"outfit": outfit * 3}),
    ])
    scored, errors = predict.predict(runs["ngnn"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (2, 3)
    out = _read(str(tmp_path / "out.jsonl"))
    rows = {k: tf.constant(v[:1]) for k, v in test.items()}
    want = float(run.task.score_rows(run.model, run.data, rows).numpy()[0])
    assert out[0]["score"] == pytest.approx(want, abs=1e-5)
    assert out[1]["candidate_scores"][0] == pytest.approx(want, abs=1e-5)
    assert out[1]["answer"] in (0, 1)
    assert "2 to 8 items" in out[2]["error"]
    assert "unknown item 'nope_1'" in out[3]["error"]
    assert "2 to 8 items" in out[4]["error"]


def test_din_predict_accepts_raw_item_keys(runs, tmp_path):
    run = serving.load_run(runs["din"])
    vocab = run.data.vocab
    ids = [3, 5, 8]
    keys = [str(vocab["items"][i]) for i in ids]
    pairs = [[i, int(vocab["item_category"][i])] for i in ids]
    _write(str(tmp_path / "in.jsonl"), [
        json.dumps({"history": keys[:2], "candidates": keys[2:]}),
        json.dumps({"history": pairs[:2], "candidates": pairs[2:]}),
        json.dumps({"history": keys[:2], "candidates": ["B-no-such-item"]}),
    ])
    scored, errors = predict.predict(runs["din"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    out = _read(str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (2, 1)
    assert out[0]["probabilities"] == pytest.approx(out[1]["probabilities"], abs=1e-7)
    assert "unknown item 'B-no-such-item'" in out[2]["error"]


def test_din_predict_refuses_ids_that_are_not_integers(runs, tmp_path):
    """Booleans, floats, dicts and digit strings were once truncated into ids and scored."""
    run = serving.load_run(runs["din"])
    good = [3, int(run.data.vocab["item_category"][3])]
    bad_items = [[True, 1], [3.7, good[1]], {"id": 3}, ["3", good[1]], [3, good[1], 1], None]
    lines = [json.dumps({"history": [good], "candidates": [good]})]
    lines += [json.dumps({"history": [good], "candidates": [b]}) for b in bad_items]
    _write(str(tmp_path / "in.jsonl"), lines)
    with open(str(tmp_path / "in.jsonl"), "ab") as handle:  # one line that is not UTF-8
        handle.write(b'{"history": [], "candidates": ["\xff"]}\n')
    scored, errors = predict.predict(runs["din"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (1, len(bad_items) + 1)
    out = _read(str(tmp_path / "out.jsonl"))
    assert "probabilities" in out[0]
    for answer in out[1:-1]:
        assert "two integers" in answer["error"]
    assert "not UTF-8" in out[-1]["error"]


def test_ngnn_predict_refuses_items_of_the_wrong_form(runs, tmp_path):
    run = serving.load_run(runs["ngnn"])
    data = run.data
    raw_of = {v: k for k, v in data.category_map.items()}
    test = data.splits["test"]
    outfit = [{"item": data.store.keys[int(test["items"][0, i])],
               "category": raw_of[int(test["cats"][0, i])]} for i in range(2)]
    bad = [dict(outfit[1], category=True), dict(outfit[1], category=str(outfit[1]["category"])),
           dict(outfit[1], category=float(outfit[1]["category"]) + 0.5),
           dict(outfit[1], item=5), [outfit[1]["item"], outfit[1]["category"]]]
    _write(str(tmp_path / "in.jsonl"), [json.dumps({"outfit": outfit})] + [
        json.dumps({"outfit": [outfit[0], b]}) for b in bad])
    scored, errors = predict.predict(runs["ngnn"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (1, len(bad))
    for answer in _read(str(tmp_path / "out.jsonl"))[1:]:
        assert "an integer id" in answer["error"]


def test_predict_output_into_a_missing_folder_exits_2(runs, tmp_path, capsys):
    _write(str(tmp_path / "in.jsonl"), ["{}"])
    code = predict.main(["--run-dir", runs["din"], "--input", str(tmp_path / "in.jsonl"),
                         "--output", str(tmp_path / "no" / "such" / "out.jsonl")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_run_carries_its_vocabulary_and_refuses_changed_data(tmp_path):
    """Renaming one asin (same counts) changed the ids' meaning: predict and --resume must
    refuse rather than score the same requests differently."""
    from datasets import amazon  # pylint: disable=import-outside-toplevel
    from datasets.generators import amazon_interests  # pylint: disable=import-outside-toplevel

    data_dir = amazon_interests.generate(n_users=120, n_items=60, n_categories=4,
                                         directory=str(tmp_path / "data"))
    run_dir = str(tmp_path / "run")
    common = ["--model", "din", "--data-dir", data_dir, "--output-dir", run_dir,
              "--batch-size", "64", "--set", "model.embedding_dim=4"]
    assert fit.main(common + ["--epochs", "1"]) == 0
    vocab = json.load(open(os.path.join(run_dir, "vocab.json")))
    assert vocab["items"][0] == "" and len(vocab["items"]) == len(set(vocab["items"]))
    first = vocab["items"][1]
    assert serving.load_run(run_dir).data.item_index[first] == 1
    import gzip  # pylint: disable=import-outside-toplevel

    reviews = os.path.join(data_dir, amazon.REVIEWS + ".gz")
    text = gzip.open(reviews, "rt").read()
    renamed = "Z" * len(first)
    assert renamed not in text
    with gzip.open(reviews, "wt") as handle:
        handle.write(text.replace('"{}"'.format(first), '"{}"'.format(renamed)))
    meta = os.path.join(data_dir, amazon.META)
    lines = open(meta).read().replace("'{}'".format(first), "'{}'".format(renamed))
    with open(meta, "w") as handle:
        handle.write(lines)
    with pytest.raises(UsageError, match=r"not what the run .* was trained on: .*items\[1\]"):
        serving.load_run(run_dir)
    assert fit.main(common + ["--epochs", "2", "--resume"]) == 2


@pytest.mark.parametrize("content", ["[1, 2]", '{"task": "din"}', '{"train": {}}'])
def test_an_edited_config_is_named_not_a_traceback(tmp_path, content):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(UsageError, match="not a run's config"):
        serving.load_run(str(tmp_path))


@pytest.mark.parametrize("model", ["din", "ngnn"])
def test_evaluate_reproduces_the_runs_own_final_metrics(runs, model, tmp_path, capsys):
    """``python -m training.evaluate`` on a finished run scores the selected checkpoint on the
    run's data: its numbers are the ones the run wrote into metrics.json (an evaluation that
    restored other weights, scored other rows or dropped the rules would differ)."""
    from training import evaluate  # pylint: disable=import-outside-toplevel

    out = str(tmp_path / "eval.json")
    assert evaluate.main(["--run-dir", runs[model], "--output", out]) == 0
    got = json.load(open(out))
    assert json.loads(capsys.readouterr().out) == got
    written = json.load(open(os.path.join(runs[model], "metrics.json")))
    for split in ("validation", "test"):
        assert set(got[split]) == set(written[split])
        for key, value in written[split].items():
            assert got[split][key] == pytest.approx(value, abs=1e-6), (split, key)
        assert set(got["baselines"][split]) == set(written["baselines"][split])
        for rule, values in written["baselines"][split].items():
            assert got["baselines"][split][rule] == pytest.approx(values), (split, rule)
    assert got["checkpoint"] == written["selected_checkpoint"]
    assert evaluate.main(["--run-dir", runs[model], "--split", "train2"]) == 2
    assert "--split train2" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["same", "dotted", "hard_link", "symlink"])
def test_predict_never_writes_its_answers_over_its_requests(runs, tmp_path, spelling):
    """--output that is --input, by identity, not by spelling: refused (exit 2) before the run
    is even loaded, and the requests are exactly as they were."""
    requests = tmp_path / "in.jsonl"
    _write(str(requests), [json.dumps({"history": [[1, 1]], "candidates": [[1, 1]]})])
    before = requests.read_bytes()
    if spelling == "same":
        output = str(requests)
    elif spelling == "dotted":
        output = os.path.join(str(tmp_path), ".", "sub", "..", "in.jsonl")
        (tmp_path / "sub").mkdir()
    elif spelling == "hard_link":
        output = str(tmp_path / "alias.jsonl")
        os.link(str(requests), output)
    else:
        output = str(tmp_path / "alias.jsonl")
        os.symlink(str(requests), output)
    code = predict.main(["--run-dir", runs["din"], "--input", str(requests),
                         "--output", output])
    assert code == 2 and requests.read_bytes() == before


def test_a_deeply_nested_request_is_one_error_line(runs, tmp_path):
    """A line nested 100,000 deep used to stop the whole run with a RecursionError: it is one
    error answer like any malformed line, and the other lines are still scored."""
    one = [1, int(serving.load_run(runs["din"]).data.vocab["item_category"][1])]
    good = json.dumps({"history": [one], "candidates": [one]})
    _write(str(tmp_path / "in.jsonl"), [good, "[" * 100000 + "]" * 100000,
                                        '{"a": ' * 100000 + "1" + "}" * 100000, good])
    scored, errors = predict.predict(runs["din"], str(tmp_path / "in.jsonl"),
                                     str(tmp_path / "out.jsonl"))
    assert (scored, errors) == (2, 2)
    out = _read(str(tmp_path / "out.jsonl"))
    assert [o["line"] for o in out] == [1, 2, 3, 4]
    assert "nested too deeply" in out[1]["error"] and "nested too deeply" in out[2]["error"]
    assert "probabilities" in out[0] and "probabilities" in out[3]


@pytest.mark.parametrize("model, key, value", [("din", "embedding_dim", 7),
                                               ("ngnn", "hidden", 5)])
def test_an_edited_config_is_named_not_a_shape_traceback(runs, tmp_path, capsys, model, key,
                                                         value):
    """config.json edited after training (a model size): predict and export stop with exit 2
    naming the key, its trained value and its value now; nothing is written."""
    import shutil  # pylint: disable=import-outside-toplevel

    run = str(tmp_path / "run")
    shutil.copytree(runs[model], run, ignore=shutil.ignore_patterns("export"))
    path = os.path.join(run, "config.json")
    config = json.load(open(path))
    config["model"][key] = value
    json.dump(config, open(path, "w"))
    _write(str(tmp_path / "in.jsonl"), ["{}"])
    assert predict.main(["--run-dir", run, "--input", str(tmp_path / "in.jsonl"),
                         "--output", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "model.{} was".format(key) in err and "is {} now".format(value) in err
    assert not (tmp_path / "out.jsonl").exists()
    assert export.main(["--run-dir", run]) == 2
    assert "model.{} was".format(key) in capsys.readouterr().err
    assert not os.path.exists(os.path.join(run, "export"))


def test_an_item_paired_with_another_items_category_is_refused_per_line(runs, tmp_path):
    """DIN ``[item, category]`` and NGNN ``{"item", "category"}`` with a category that is not
    the item's: one error line naming both (it used to be scored silently), the rest scored."""
    din = serving.load_run(runs["din"])
    item_category = din.data.vocab["item_category"]
    own = [1, int(item_category[1])]
    other = int(next(c for c in range(1, din.data.sizes["categories"]) if c != own[1]))
    _write(str(tmp_path / "din.jsonl"), [
        json.dumps({"history": [own], "candidates": [own]}),
        json.dumps({"history": [own], "candidates": [[1, other]]}),
        json.dumps({"history": [[1, other]], "candidates": [own]})])
    assert predict.predict(runs["din"], str(tmp_path / "din.jsonl"),
                           str(tmp_path / "din-out.jsonl")) == (1, 2)
    out = _read(str(tmp_path / "din-out.jsonl"))
    assert "item 1 is of category {}, not {}".format(own[1], other) in out[1]["error"]
    ngnn = serving.load_run(runs["ngnn"])
    data = ngnn.data
    raw_of = {v: k for k, v in data.category_map.items()}
    test = data.splits["test"]
    size = int(test["mask"][0].sum())
    outfit = [{"item": data.store.keys[int(test["items"][0, i])],
               "category": raw_of[int(test["cats"][0, i])]} for i in range(size)]
    wrong = [dict(outfit[0], category=next(c for c in raw_of.values()
                                           if c != outfit[0]["category"]))] + outfit[1:]
    _write(str(tmp_path / "ngnn.jsonl"), [json.dumps({"outfit": outfit}),
                                          json.dumps({"outfit": wrong})])
    assert predict.predict(runs["ngnn"], str(tmp_path / "ngnn.jsonl"),
                           str(tmp_path / "ngnn-out.jsonl")) == (1, 1)
    out = _read(str(tmp_path / "ngnn-out.jsonl"))
    assert "is of category {}".format(outfit[0]["category"]) in out[1]["error"]


def test_both_models_record_the_rows_behind_their_metrics(runs):
    """DIN: every row, and the users GAUC averages over; NGNN: one FITB question per outfit and
    each outfit plus its random partner for compatibility."""
    din = json.load(open(os.path.join(runs["din"], "metrics.json")))
    data = serving.load_run(runs["din"]).data
    validation = data.splits["validation"]
    assert din["rows"]["validation"]["rows"] == len(validation["label"])
    assert 0 < din["rows"]["validation"]["gauc_users"] <= len(set(validation["user"].tolist()))
    ngnn = json.load(open(os.path.join(runs["ngnn"], "metrics.json")))
    outfits = ngnn["data"]["outfits"]["validation"]
    assert ngnn["rows"]["validation"] == {"fitb_questions": outfits,
                                          "compat_outfits": 2 * outfits}


def _copy_run(runs, model, tmp_path):
    import shutil  # pylint: disable=import-outside-toplevel

    run = str(tmp_path / "run")
    shutil.copytree(runs[model], run, ignore=shutil.ignore_patterns("export"))
    return run


def test_a_truncated_best_checkpoint_is_named_not_an_index_error(runs, tmp_path, capsys):
    """Issue 35: the best checkpoint's .data file cut short ended evaluate in IndexError."""
    run = _copy_run(runs, "din", tmp_path)
    best = os.path.join(run, "checkpoints", "best")
    data = [f for f in os.listdir(best) if ".data-" in f][0]
    with open(os.path.join(best, data), "r+b") as handle:
        handle.truncate(os.path.getsize(os.path.join(best, data)) // 3)
    assert evaluate_main(["--run-dir", run, "--output", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot be read (damaged or truncated)" in err and "best" in err
    assert not (tmp_path / "e.json").exists()


def test_a_missing_best_checkpoint_is_never_replaced_by_the_latest(runs, tmp_path, capsys):
    """Issue 35: with checkpoints/best deleted, evaluate scored the latest weights (another
    model than the one metrics.json reports) without a word."""
    import shutil  # pylint: disable=import-outside-toplevel

    run = _copy_run(runs, "din", tmp_path)
    shutil.rmtree(os.path.join(run, "checkpoints", "best"))
    assert evaluate_main(["--run-dir", run]) == 2
    assert "the run selected" in capsys.readouterr().err
    _write(str(tmp_path / "in.jsonl"), ["{}"])
    assert predict.main(["--run-dir", run, "--input", str(tmp_path / "in.jsonl"),
                         "--output", str(tmp_path / "out.jsonl")]) == 2
    assert "the run selected" in capsys.readouterr().err


def test_a_run_is_evaluated_from_another_working_directory(tmp_path, monkeypatch, capsys):
    """Issue 35: config.json kept --data-dir relative to where the run was trained, so an
    evaluation from elsewhere said "--data-dir data/x: no such directory"."""
    from tests.datasets import movielens_fixture as fx  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    movies = fx.catalogue()
    fx.write(str(tmp_path / "train" / "data" / "ml"), "csv", movies,
             fx.ratings(movies, n_users=120, per_user=15))
    monkeypatch.chdir(str(tmp_path / "train"))
    assert fit.main(["--model", "din", "--data-dir", "data/ml", "--output-dir", "run",
                     "--device", "cpu", "--epochs", "1", "--batch-size", "64",
                     "--set", "model.embedding_dim=4"]) == 0
    config = json.load(open("run/config.json"))
    assert config["data"]["data_dir"] == str(tmp_path / "train" / "data" / "ml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(str(tmp_path / "elsewhere"))
    capsys.readouterr()
    assert evaluate_main(["--run-dir", str(tmp_path / "train" / "run")]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["auc"] > 0


def evaluate_main(argv):
    from training import evaluate  # pylint: disable=import-outside-toplevel

    return evaluate.main(argv)


def test_the_raw_din_signature_clamps_lengths_and_refuses_unknown_ids(runs):
    """Issue 35: through the SavedModel itself (not predict's parser), hist_len=-1 returned
    NaN and hist_len above maxlen another score than maxlen."""
    path = os.path.join(runs["din"], "export-raw")
    if not os.path.exists(path):
        export.export(runs["din"], path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    loaded = serving.load_run(runs["din"])
    maxlen = loaded.data.maxlen
    batch = loaded.data.splits["test"].read(np.arange(4))
    inputs = {k: tf.constant(batch[k]) for k in INPUT_KEYS}

    def score(**changes):
        given = dict(inputs)
        given.update({k: tf.constant(v, inputs[k].dtype) for k, v in changes.items()})
        return list(serve(**given).values())[0].numpy()

    base = score(hist_len=np.full(4, maxlen))
    np.testing.assert_allclose(score(hist_len=np.full(4, maxlen + 7)), base, atol=1e-6)
    empty = score(hist_len=np.zeros(4))
    negative = score(hist_len=np.full(4, -1), prior_events=np.full(4, -3))
    assert np.isfinite(negative).all()
    np.testing.assert_allclose(score(hist_len=np.full(4, -1)), empty, atol=1e-6)
    assert np.isfinite(score(target_rate=np.full(4, np.nan))).all()
    bad = np.array(batch["target_item"])
    bad[0] = loaded.data.sizes["items"] + 5
    with pytest.raises(tf.errors.InvalidArgumentError, match="target_item: ids must be below"):
        score(target_item=bad)


def test_evaluate_refuses_an_output_it_cannot_write_before_scoring(runs, tmp_path, capsys):
    """The run is not scored (minutes on real data) only to fail at the write."""
    code = evaluate_main(["--run-dir", runs["din"], "--output",
                          str(tmp_path / "missing" / "e.json")])
    assert code == 2 and "nothing was scored" in capsys.readouterr().err
    assert evaluate_main(["--run-dir", runs["din"], "--output", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert evaluate_main(["--run-dir", runs["din"], "--output", os.devnull]) == 0
