"""Polyvore Outfits: the authors' layout featurized, its OFFICIAL questions scored as written.

The release is written by :mod:`tests.datasets.outfits_fixture` (both splits, official-format
questions); images go through a small random MobileNetV2 (``weights="none"``: no download).
"""
import json
import os
import shutil

import numpy as np
import pytest

from datasets import featurize
from datasets import outfits_release as release
from datasets import outfit_data
from datasets import polyvore_outfits as po
from core.errors import DataError
from tests.datasets import outfits_fixture as fx
from training.tasks.ngnn import question_metrics

FAST = dict(backbone="mobilenet_v2", weights="none", image_size=96, batch_size=32,
            min_word_count=2, progress=False)


@pytest.fixture(scope="module")
def featurized(tmp_path_factory):
    """``(release root, featurized out, outfits written, questions written)``."""
    base = tmp_path_factory.mktemp("outfits")
    root, out = str(base / "polyvore_outfits"), str(base / "out")
    written, questions = fx.make_release(root)
    featurize.featurize_polyvore_outfits(root, out, **FAST)
    return root, out, written, questions


@pytest.fixture()
def release_copy(featurized, tmp_path):
    """A private copy of the release, to break."""
    target = str(tmp_path / "polyvore_outfits")
    shutil.copytree(featurized[0], target)
    return target


@pytest.mark.parametrize("split", release.SPLITS)
@pytest.mark.parametrize("phase", ["valid", "test"])
def test_each_question_is_scored_exactly_as_the_file_states_it(featurized, split, phase):
    """Blank position, candidate order and the true answer, row by row, for every question."""
    _, out, written, questions = featurized
    data = po.load(out, split, min_category_items=5)
    name = po.PHASE_SPLIT[phase]
    fitb = data.fitb[name]
    item_of = {"{}_{}".format(o["set_id"], it["index"]): it["item_id"]
               for o in written[split, phase] for it in o["items"]}
    rows_of = {k: i for i, k in enumerate(data.store.keys)}
    assert len(fitb["items"]) == 4 * len(questions[split, phase])  # every question answered
    answers_seen = set()
    for number, question in enumerate(questions[split, phase]):
        blank = question["blank_position"] - 1
        given = [rows_of[item_of[k]] for k in question["question"]]
        own = question["question"][0].split("_")[0]
        true = [i for i, k in enumerate(question["answers"]) if k.startswith(own + "_")]
        assert fitb["answer"][number] == true[0]
        assert fitb["blank"][number] == blank
        answers_seen.add(true[0])
        for column, key in enumerate(question["answers"]):
            row = number * 4 + column
            size = int(fitb["mask"][row].sum())
            expected = given[:blank] + [rows_of[item_of[key]]] + given[blank:]
            assert fitb["items"][row, :size].tolist() == expected
            assert size == len(question["question"]) + 1
    assert len(answers_seen) > 1  # the fixture's true answers are not all in one column


def test_the_answer_column_decides_accuracy():
    """A scorer that prefers the true column is right; one that prefers column 0 is not."""
    answer = np.array([2, 0, 3])
    truth = np.zeros((3, 4))
    truth[np.arange(3), answer] = 1.0
    first = np.zeros((3, 4))
    first[:, 0] = 1.0
    labels = np.array([1.0, 0.0])
    right = question_metrics(truth.ravel(), np.array([1.0, 0.0]), labels, answer=answer,
                             paired=False)
    wrong = question_metrics(first.ravel(), np.array([1.0, 0.0]), labels, answer=answer,
                             paired=False)
    assert right["fitb_accuracy"] == 1.0 and right["fitb_mrr"] == 1.0
    assert wrong["fitb_accuracy"] == pytest.approx(1 / 3)  # only question 2 has answer 0
    assert "pairwise_accuracy" not in right  # the official lists are not paired


def test_compatibility_lists_keep_their_labels_and_order(featurized):
    _, out, written, _ = featurized
    root = featurized[0]
    data = po.load(out, "nondisjoint", min_category_items=5)
    with open(os.path.join(root, "nondisjoint", "compatibility_test.txt")) as handle:
        lines = [line.split() for line in handle if line.strip()]
    compat = data.compat["test"]
    assert compat["label"].tolist() == [float(line[0]) for line in lines]
    item_of = {"{}_{}".format(o["set_id"], it["index"]): it["item_id"]
               for o in written["nondisjoint", "test"] for it in o["items"]}
    rows_of = {k: i for i, k in enumerate(data.store.keys)}
    for row, line in enumerate(lines):
        size = int(compat["mask"][row].sum())
        assert compat["items"][row, :size].tolist() == [rows_of[item_of[k]] for k in line[1:]]


def test_rare_categories_join_their_semantic_node_and_rules_are_scored(featurized):
    _, out, _, _ = featurized
    data = po.load(out, "nondisjoint", min_category_items=5)
    other_jewellery = data.category_map[42]
    assert data.category_map[41] != other_jewellery  # 41 is common: a node of its own
    everything_merged = po.load(out, "nondisjoint", min_category_items=10 ** 6)
    assert everything_merged.num_categories == 4  # one node per semantic category
    assert everything_merged.category_map[11] == everything_merged.category_map[12]
    assert set(data.rules) == {"category_cooccurrence", "semantic_cooccurrence"}
    # a repeated category is counted: two bracelets in one outfit is a diagonal pair
    repeated = (data.splits["train"]["cats"][:, :, None] ==
                data.splits["train"]["cats"][:, None, :]).sum() > \
        data.splits["train"]["mask"].sum()
    assert repeated and np.trace(data.cooc) > 0


def test_vocabulary_comes_from_training_items_only(featurized):
    _, out, _, _ = featurized
    for split in release.SPLITS:
        with open(os.path.join(out, split, po.VOCABULARY_FILE)) as handle:
            words = [line.split("\t")[0] for line in handle]
        assert "trainonly" in words
        assert "testonly" not in words and "validonly" not in words
        data = po.load(out, split, min_category_items=5)
        assert data.store.vocab_size == len(words)
        assert int(data.store.text_ids.max()) < len(words)


def test_training_negatives_share_the_semantic_category(featurized):
    _, out, _, _ = featurized
    data = po.load(out, "nondisjoint", min_category_items=5)
    samples = outfit_data.training_samples(data.splits["train"], data.pools, np.random.RandomState(0))
    train = data.splits["train"]
    replaced = train["items"][samples["outfit"], samples["slot"]]
    semantic = data.rules["semantic_cooccurrence"][0]
    assert (semantic[samples["neg_item"]] == semantic[replaced]).all()
    assert (samples["neg_item"] != replaced).all()


def test_an_imageless_item_is_counted_and_its_questions_still_answered(release_copy, tmp_path):
    with open(os.path.join(release_copy, "nondisjoint", "fill_in_blank_test.json")) as handle:
        question = json.load(handle)[0]
    with open(os.path.join(release_copy, "nondisjoint", "test.json")) as handle:
        outfits = json.load(handle)
    key = question["answers"][0]
    set_id, index = key.split("_")
    item_id = [it["item_id"] for o in outfits if o["set_id"] == set_id for it in o["items"]
               if it["index"] == int(index)][0]
    os.remove(os.path.join(release_copy, "images", item_id + ".jpg"))
    with pytest.raises(DataError, match=item_id + ".jpg"):
        featurize.featurize_polyvore_outfits(release_copy, str(tmp_path / "strict"),
                                             splits=["nondisjoint"], on_bad="error",
                                             **FAST)
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore_outfits(release_copy, out, splits=["nondisjoint"],
                                                  **FAST)
    assert report["counts"]["items_without_image:missing_image"] == 1
    data = po.load(out, "nondisjoint", min_category_items=5)
    assert data.report["questions_with_imageless_items:test"] >= 1
    assert len(data.fitb["test"]["items"]) == 4 * len(outfits)
    row = data.store.rows([item_id])[0]
    assert not np.asarray(data.store.visual[row]).any()


def _edit_json(path, change):
    with open(path) as handle:
        value = json.load(handle)
    change(value)
    with open(path, "w") as handle:
        json.dump(value, handle)


@pytest.mark.parametrize("breakage, message", [
    ("unknown_item", r"fill_in_blank_test.json: question #1 answers: names item '999_9'"),
    ("mixed_up_split", r"fill_in_blank_test.json: question #0 question: names item"),
    ("two_true_answers", r"question #2: 2 answers are of the question's set"),
    ("bad_blank", r"question #0: blank_position must be an integer in 1\.\."),
    ("bad_label", r"compatibility_valid.txt:3: expected '0\|1 key key"),
    ("missing_file", r"missing disjoint valid fill-in-the-blank file"),
    ("no_metadata", r"polyvore_item_metadata.json: item \d+ is named by an outfit list"),
    ("underscore_set", r"valid.json: outfit #0: set_id '1_2' holds '_'"),
    # issue 35: bytes, Unicode digits and nesting in every file the reader opens
    ("not_utf8", r"compatibility_valid.txt:2: bytes that are not utf-8 at column 3"),
    ("unicode_digit_category", r"category_id must be a whole number .* got '\u00b3'"),
    ("deep_questions", r"fill_in_blank_valid.json: not readable JSON \(nested too deeply\)"),
    ("bad_categories_csv", r"categories.csv:7: expected category_id,fine name"),
])
def test_a_broken_release_is_refused_naming_the_place_and_writes_nothing(
        release_copy, tmp_path, breakage, message):
    nd = os.path.join(release_copy, "nondisjoint")
    if breakage == "unknown_item":
        _edit_json(os.path.join(nd, "fill_in_blank_test.json"),
                   lambda qs: qs[1]["answers"].__setitem__(1, "999_9"))
    elif breakage == "mixed_up_split":
        shutil.copy(os.path.join(release_copy, "disjoint", "fill_in_blank_test.json"),
                    os.path.join(nd, "fill_in_blank_test.json"))
    elif breakage == "two_true_answers":
        def twice(qs):
            own = qs[2]["question"][0].split("_")[0]
            true = [a for a in qs[2]["answers"] if a.startswith(own + "_")][0]
            qs[2]["answers"] = [true if not a.startswith(own + "_") and i == 0 else a
                                for i, a in enumerate(qs[2]["answers"])]
            if qs[2]["answers"][0] != true:  # the true one was first: make another the same
                qs[2]["answers"][1] = true
        _edit_json(os.path.join(nd, "fill_in_blank_test.json"), twice)
    elif breakage == "bad_blank":
        _edit_json(os.path.join(nd, "fill_in_blank_test.json"),
                   lambda qs: qs[0].__setitem__("blank_position", 0))
    elif breakage == "bad_label":
        path = os.path.join(nd, "compatibility_valid.txt")
        with open(path) as handle:
            lines = handle.readlines()
        lines[2] = "yes " + lines[2][2:]
        with open(path, "w") as handle:
            handle.writelines(lines)
    elif breakage == "missing_file":
        os.remove(os.path.join(release_copy, "disjoint", "fill_in_blank_valid.json"))
    elif breakage == "no_metadata":
        _edit_json(os.path.join(release_copy, release.METADATA_FILE),
                   lambda meta: meta.pop(sorted(meta)[0]))
    elif breakage == "not_utf8":
        path = os.path.join(nd, "compatibility_valid.txt")
        with open(path, "rb") as handle:
            lines = handle.readlines()
        lines[1] = lines[1][:2] + b"\xff" + lines[1][2:]
        with open(path, "wb") as handle:
            handle.writelines(lines)
    elif breakage == "unicode_digit_category":
        _edit_json(os.path.join(release_copy, release.METADATA_FILE),
                   lambda meta: meta[sorted(meta)[0]].__setitem__("category_id", "\u00b3"))
    elif breakage == "deep_questions":
        with open(os.path.join(release_copy, "disjoint", "fill_in_blank_valid.json"), "w") as f:
            f.write("[" * 200000 + "]" * 200000)
    elif breakage == "bad_categories_csv":  # refused BEFORE any image is encoded
        with open(os.path.join(release_copy, release.CATEGORIES_FILE), "a") as handle:
            handle.write("\u00b3,hats,accessories\n")
    elif breakage == "underscore_set":
        _edit_json(os.path.join(nd, "valid.json"), lambda os_: os_[0].__setitem__("set_id", "1_2"))
    out = str(tmp_path / "out")
    with pytest.raises(DataError, match=message):
        featurize.featurize_polyvore_outfits(release_copy, out, **FAST)
    assert not os.path.exists(out)  # refused before anything was written


def test_split_choice_and_raw_release_are_checked(featurized, tmp_path):
    root, out, _, _ = featurized
    only = str(tmp_path / "only")
    featurize.featurize_polyvore_outfits(root, only, splits=["nondisjoint"], **FAST)
    with pytest.raises(DataError, match="data.split=disjoint: .* holds only nondisjoint"):
        po.load(only, "disjoint")
    half = str(tmp_path / "half")
    shutil.copytree(root, half)
    shutil.rmtree(os.path.join(half, "disjoint"))
    with pytest.raises(DataError, match="--split disjoint: .* has no such split folder "
                                        r"\(present: nondisjoint\)"):
        featurize.featurize_polyvore_outfits(half, str(tmp_path / "x"), splits=["disjoint"],
                                             **FAST)
    with pytest.raises(DataError, match="no such folder"):
        featurize.featurize_polyvore_outfits(str(tmp_path / "nothing"), str(tmp_path / "y"),
                                             **FAST)


def test_fit_cli_trains_and_scores_the_official_questions(featurized, tmp_path):
    """One epoch through the command line users type, then its metrics.json."""
    from training import fit  # pylint: disable=import-outside-toplevel
    root, out, _, questions = featurized
    run = str(tmp_path / "run")
    assert fit.main(["--model", "ngnn", "--data-dir", out, "--epochs", "1",
                     "--output-dir", run, "--set", "data.split=disjoint",
                     "--set", "data.min_category_items=5"]) == 0
    with open(os.path.join(run, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["rows"]["test"]["fitb_questions"] == len(questions["disjoint", "test"])
    assert set(metrics["baselines"]["test"]) == {"category_cooccurrence",
                                                 "semantic_cooccurrence", "category_statistics"}
    # ties shared: the semantic rule ties on every question (every candidate shares the
    # blank's semantic category), so it scores chance, not 0
    assert metrics["baselines"]["test"]["semantic_cooccurrence"]["fitb_accuracy"] == \
        pytest.approx(0.25)
    # what applied: the store's own dimensions, no generator settings, its random weights said
    assert metrics["config"]["data"]["visual_dim"] == metrics["data"]["features"]["visual_dim"]
    assert "synthetic_kind" not in metrics["config"]["data"]
    assert metrics["data"]["features"]["random_weights"] is True
    assert "disjoint" in metrics["data"]["questions"]
    assert 0.0 <= metrics["test"]["fitb_accuracy"] <= 1.0
    assert fit.main(["--model", "ngnn", "--data-dir", root, "--epochs", "1",
                     "--output-dir", str(tmp_path / "raw")]) == 2  # the raw release: featurize


@pytest.mark.parametrize("damage, needle", [
    (lambda items: [1, 2], "one list entry per feature-store row"),
    (lambda items: dict(items, has_image=items["has_image"][:-1]),
     "one list entry per feature-store row"),
    (lambda items: dict(items, category_id=["\u00b3"] + items["category_id"][1:]),
     "category_id '\u00b3' is not a whole number"),
])
def test_a_damaged_items_file_is_named(featurized, tmp_path, damage, needle):
    """The featurized folder is input too: items.json of the wrong shape was a traceback."""
    out = str(tmp_path / "copy")
    shutil.copytree(featurized[1], out)
    path = os.path.join(out, po.ITEMS_FILE)
    items = json.load(open(path))
    with open(path, "w") as handle:
        json.dump(damage(items), handle)
    with pytest.raises(DataError, match=needle):
        po.load(out, "nondisjoint")
