"""``datasets.featurize polyvore``: the public release in, a store ``training.fit`` reads out.

The backbone runs with ``weights=None`` or a weights file the test writes (no download), at a
small input size, on the 38 real Polyvore images paired with fixture metadata
(:mod:`tests.datasets.release_fixture`). The one mock: Keras' ImageNet download is replaced by
a function that fails the way it fails offline, because a test must not reach the network.
"""
import json
import os

import numpy as np
import pytest

from core.errors import DataError
from datasets import featurize
from datasets import features as feature_store
from datasets import images as image_io
from datasets import polyvore as pv
from datasets import polyvore_release as release_io
from tests.datasets import release_fixture as fx

needs_images = pytest.mark.skipif(not fx.have_images(), reason=fx.REASON)
FAST = dict(backbone="mobilenet_v2", image_size=96, batch_size=8, min_category_items=3,
            progress=False)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A fixed random MobileNetV2 (no top) saved as a weights file: deterministic features
    that every test of this module shares."""
    import tensorflow as tf

    path = str(tmp_path_factory.mktemp("weights") / "mobilenet.weights.h5")
    tf.keras.applications.MobileNetV2(include_top=False, weights=None, pooling="max",
                                      input_shape=(96, 96, 3)).save_weights(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def shared_encoders():
    """One backbone per setting for the whole module: building one (Keras model, weights
    file, traced encode function) takes 2-5 s and nearly every test here builds the same one.
    A test-speed measure only: an encoder holds no state between featurize calls. Random
    weights (``weights="none"``) are never shared, since each such encoder must differ."""
    real, built = image_io.ImageEncoder, {}

    def shared(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if "'none'" in key:
            return real(*args, **kwargs)
        if key not in built:
            built[key] = real(*args, **kwargs)
        return built[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(image_io, "ImageEncoder", shared)
    yield
    patch.undo()


@pytest.fixture()
def release(tmp_path):
    return fx.make_release(str(tmp_path / "release"))


def _store(out):
    store = feature_store.open_packed(out)
    assert store is not None
    return store


def _report(out):
    with open(os.path.join(out, featurize.REPORT_FILE)) as handle:
        return json.load(handle)


# -- pure Python parts: split rule, text, vocabulary ---------------------------------------
def _outfit(set_id, cats):
    return release_io.Outfit(set_id, list(range(1, len(cats) + 1)), list(cats))


def test_split_rule_keeps_frequent_categories_and_3_to_8_items():
    release = {"train": [_outfit("1", [5, 5, 6, 7]), _outfit("2", [5, 6, 9]),
                         _outfit("3", [5, 6, 6, 5, 5, 6, 5, 6, 7])],
               "test": [_outfit("4", [5, 9, 9, 6]), _outfit("5", [5, 6, 6])]}
    # counts in train: 5 -> 7, 6 -> 6, 7 -> 2, 9 -> 1; threshold 3 keeps 5 and 6
    outfits, cid2rcid, summary = release_io.filtered_split(release, min_category_items=3)
    assert cid2rcid == {5: 0, 6: 1}
    # "1" keeps 3 items (7 dropped); "2" keeps 2 -> dropped; "3" keeps 8 -> kept
    assert [o.set_id for o in outfits["train"]] == ["1", "3"]
    assert outfits["train"][0].indices == [1, 2, 3]
    assert [o.set_id for o in outfits["test"]] == ["5"]  # "4" keeps only 2
    assert summary[0]["id"] == 5 and summary[0]["frequency"] == 2 + 4
    assert summary[0]["items"][:2] == ["1_1", "1_2"]
    with pytest.raises(DataError, match="min-category-items"):
        release_io.filtered_split(release, min_category_items=50)


def test_text_multi_hot_and_the_originals_last_word():
    words = ["black", "leather", "bag", "red"]
    ids, lengths = release_io.text_word_ids(
        ["Black leather bag", "red shoes, black", "unknown words only"], words)
    assert lengths.tolist() == [3, 2, 0]
    assert ids[0, :3].tolist() == [0, 1, 2] and ids[1, :2].tolist() == [0, 3]
    last, lengths = release_io.text_word_ids(
        ["Black leather bag", "red shoes, black", "unknown words only"], words, "last-word")
    assert lengths.tolist() == [1, 1, 0]
    assert last[:2, 0].tolist() == [2, 0]  # "bag", "black": the last in-vocabulary word


def test_vocabulary_file_format_and_errors(tmp_path):
    good = tmp_path / "dict.txt"
    good.write_text("black   9909\nleather 8516\n\nbag\n")
    assert release_io.read_vocabulary(str(good)) == ["black", "leather", "bag"]
    bad = tmp_path / "bad.txt"
    bad.write_text("black 12\nleather lots of\n")
    with pytest.raises(DataError, match=r"bad.txt, line 2"):
        release_io.read_vocabulary(str(bad))
    dup = tmp_path / "dup.txt"
    dup.write_text("black\nBlack\n")
    with pytest.raises(DataError, match="listed twice"):
        release_io.read_vocabulary(str(dup))


def test_the_shared_word_dict_reads_as_the_papers_vocabulary():
    path = os.path.join(fx.SHARED, "data", "polyvore", "final_word_dict.txt")
    if not os.path.isfile(path):
        pytest.skip(fx.SHARED_REASON + " (its data/polyvore/final_word_dict.txt)")
    words = release_io.read_vocabulary(path)
    assert len(words) == 2756 and words[:3] == ["black", "leather", "bag"]


# -- end to end -----------------------------------------------------------------------------
@pytest.mark.slow
@needs_images
def test_featurize_then_train_ngnn(release, tmp_path, weights_file):
    images, outfits, written = release
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file, **FAST)
    counts = report["counts"]
    assert counts["outfits:train"] == 5 and counts["outfits:validation"] == 1
    assert counts["outfits:test"] == 2 and counts["categories"] == 4
    assert counts["items"] == 37  # 38 images less the rare category's item
    assert counts["images_converted:grayscale_jpeg"] == 3  # 3 of the real images are gray
    store = _store(out)
    assert store.visual.shape == (37, 1280) and store.visual_dim == 1280
    umask = os.umask(0)
    os.umask(umask)
    for name in (featurize.REPORT_FILE, "features/visual.npy", pv.TRAIN_FILE):
        assert os.stat(os.path.join(out, name)).st_mode & 0o777 == 0o666 & ~umask, name
    assert np.isfinite(store.visual).all() and np.abs(store.visual).sum() > 0
    assert "1000_1" not in store  # the rare category's item left with its category
    # text: item 1001_2's words, through the vocabulary file (line number = word id)
    name = written["train"][1]["items"][1]["name"]
    assert len(name.split()) == 3
    words = [line.split("\t")[0] for line in open(os.path.join(out, featurize.VOCAB_FILE))]
    row = int(store.rows(["1001_2"])[0])
    got = sorted(words[i] for i in store.text_ids[row, :store.text_len[row]])
    assert got == sorted(name.split())
    # the split files are what the loader reads
    data = pv.load(out, str(tmp_path / "cache"), seed=0)
    assert len(data.splits["train"]["items"]) == 5 and data.num_categories == 4
    assert data.store.path == os.path.join(out, feature_store.PACKED_DIR)

    from training.api import train

    run = train("ngnn", data_dir=out, output_dir=str(tmp_path / "run"), epochs=1,
                batch_size=4, device="cpu", cache_dir=str(tmp_path / "cache"))
    assert set(run.metrics["test"]) == {"fitb_accuracy", "fitb_mrr", "compat_auc",
                                        "pairwise_accuracy", "mrr_auc"}
    assert run.model.visual_dim == 1280  # the model takes the store's dimension


@pytest.mark.slow
@needs_images
def test_same_input_same_vectors_and_resume_after_interrupt(release, tmp_path, weights_file):
    images, outfits, _ = release
    full = str(tmp_path / "full")
    featurize.featurize_polyvore(images, outfits, full, weights=weights_file, **FAST)
    again = str(tmp_path / "again")
    featurize.featurize_polyvore(images, outfits, again, weights=weights_file, **FAST)
    np.testing.assert_array_equal(_store(full).visual, _store(again).visual)

    out = str(tmp_path / "interrupted")

    def stop(done):
        raise KeyboardInterrupt("simulated Ctrl-C after {} images".format(done))

    with pytest.raises(KeyboardInterrupt):
        featurize.featurize_polyvore(images, outfits, out, weights=weights_file, chunk=16,
                                     on_chunk=stop, **FAST)
    assert not os.path.exists(os.path.join(out, featurize.REPORT_FILE))
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file,
                                          chunk=16, **FAST)
    assert report["counts"]["images_reused_from_cache"] == 16
    assert report["counts"]["images_encoded"] == 37 - 16
    np.testing.assert_array_equal(_store(out).visual, _store(full).visual)
    # a third run encodes nothing; a changed image is encoded again
    os.utime(os.path.join(images, "1003", "2.jpg"), ns=(1, 1))
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file, **FAST)
    assert report["counts"]["images_encoded"] == 1
    assert report["counts"]["images_reused_from_cache"] == 36


@needs_images
def test_given_ngnn_split_is_used_and_the_json_layout_matches(release, tmp_path,
                                                              weights_file):
    images, outfits, written = release
    split = tmp_path / "split"
    split.mkdir()
    train = [{"set_id": o["set_id"], "items_index": [i["index"] for i in o["items"]][1:],
              "items_category": [i["categoryid"] for i in o["items"]][1:]}
             for o in written["train"][1:]]
    test = [{"set_id": "1006", "items_index": [1, 2, 3], "items_category": [
        i["categoryid"] for i in written["test"][0]["items"][:3]]},
        {"set_id": "77", "items_index": [1, 2, 3], "items_category": [11, 22, 33]}]
    cats = sorted({c for o in train + test for c in o["items_category"]})
    (split / pv.TRAIN_FILE).write_text(json.dumps(train))
    (split / pv.TEST_FILE).write_text(json.dumps(test))
    (split / pv.CATEGORY_MAP_FILE).write_text(json.dumps({str(c): i for i, c in
                                                          enumerate(cats)}))
    pools = [{"id": c, "name": str(c), "frequency": 0, "items": [
        "{}_{}".format(o["set_id"], i) for o in train
        for i, oc in zip(o["items_index"], o["items_category"]) if oc == c]} for c in cats]
    (split / pv.CATEGORY_POOL_FILE).write_text(json.dumps(pools))
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore(images, outfits, out, split=str(split),
                                          weights=weights_file, write_json=True, **FAST)
    counts = report["counts"]
    assert counts["outfits:train"] == 4 and counts["outfits:test"] == 1
    assert counts["items_skipped:not_in_release"] == 3  # set 77 is in no release file
    assert counts["outfits_dropped:test"] == 1
    assert not os.path.exists(os.path.join(out, pv.VALID_FILE))
    assert json.load(open(os.path.join(out, pv.TRAIN_FILE))) == train
    # the original per-item JSON layout holds the same numbers as the packed store
    packed = _store(out)
    os.rename(os.path.join(out, feature_store.PACKED_DIR), str(tmp_path / "packed-aside"))
    store = feature_store.build_or_open(out, packed.keys, str(tmp_path / "cache"),
                                        visual_dim=1280, vocab_size=packed.vocab_size)
    np.testing.assert_allclose(store.visual, packed.visual, rtol=1e-6)
    np.testing.assert_array_equal(store.text_ids[:, :packed.text_ids.shape[1]],
                                  packed.text_ids)


def _corrupt(images, outfits_dir, kind):
    """Apply one bad-input case; return ``(path or item named in the error, report key)``."""
    from PIL import Image

    path = os.path.join(images, "1002", "3.jpg")
    if kind == "missing":
        os.remove(path)
        return path, "items_skipped:missing_image"
    if kind == "truncated":
        raw = open(path, "rb").read()
        open(path, "wb").write(raw[:len(raw) // 2])
        return path, "items_skipped:unreadable_image"
    if kind == "corrupt":
        open(path, "wb").write(b"<html>not an image</html>" * 20)
        return path, "items_skipped:unreadable_image"
    if kind == "empty":
        open(path, "wb").close()
        return path, "items_skipped:unreadable_image"
    if kind == "no-name":
        train_path = os.path.join(outfits_dir, "train_no_dup.json")
        outfits = json.load(open(train_path))
        outfits[2]["items"][2]["name"] = "   "
        json.dump(outfits, open(train_path, "w"))
        return "set 1002), item 3", "items_skipped:no_name"
    if kind == "no-images":
        folder = os.path.join(images, "1002")
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)
        return folder, "items_skipped:outfit_without_images"
    image = Image.open(path)
    if kind == "cmyk":
        image.convert("CMYK").save(path, format="JPEG")
        return None, "images_converted:cmyk_jpeg"
    if kind == "png":
        image.save(path, format="PNG")
        return None, "images_converted:not_a_jpeg_decoded_by_content"
    raise AssertionError(kind)


BAD = ("missing", "truncated", "corrupt", "empty", "no-name", "no-images")


@needs_images
@pytest.mark.parametrize("kind", BAD + ("cmyk", "png"))
def test_bad_input_is_counted_and_skipped(release, tmp_path, weights_file, kind):
    images, outfits, _ = release
    named, key = _corrupt(images, outfits, kind)
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file, **FAST)
    counts = report["counts"]
    store = _store(out)
    if named is None:  # decoded by content: featurized like any other image
        assert counts[key] == 1 and "1002_3" in store
        assert counts["outfits:train"] == 5
        return
    skipped = 5 if kind == "no-images" else 1
    assert counts[key] == skipped
    assert "1002_3" not in store
    assert counts["outfits_dropped:train"] == 1 and counts["outfits:train"] == 4
    assert any(named in example for example in report["examples"][key.split(":")[1]])


@needs_images
@pytest.mark.parametrize("kind", BAD)
def test_bad_input_stops_the_run_naming_it_and_keeps_what_was_encoded(release, tmp_path,
                                                                       weights_file, kind):
    images, outfits, _ = release
    named, _ = _corrupt(images, outfits, kind)
    out = str(tmp_path / "out")
    with pytest.raises(DataError) as err:
        featurize.featurize_polyvore(images, outfits, out, weights=weights_file,
                                     on_bad="error", chunk=8, **FAST)
    assert named in str(err.value) and "--on-bad skip" in str(err.value)
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file, **FAST)
    if kind in ("truncated", "corrupt", "empty"):  # found while encoding: earlier chunks kept
        assert report["counts"]["images_reused_from_cache"] >= 8


@needs_images
def test_default_backbone_is_inception_v3_with_2048_dimensions(release, tmp_path):
    images, outfits, _ = release
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore(images, outfits, out, weights="none", image_size=75,
                                          min_category_items=3, progress=False)
    assert report["encoder"]["backbone"] == "inception_v3"
    assert _store(out).visual.shape == (37, 2048)
    default = image_io.ImageEncoder(weights="none")
    assert (default.backbone, default.image_size, default.dim) == ("inception_v3", 299, 2048)


def test_missing_imagenet_weights_say_both_ways_out(monkeypatch, tmp_path):
    """Mock: Keras' download, made to fail as it does offline (tests never reach the net)."""
    import tensorflow as tf

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://example.invalid/notop.h5: None")

    monkeypatch.setattr(tf.keras.applications, "MobileNetV2", offline)
    with pytest.raises(DataError) as err:
        image_io.ImageEncoder("mobilenet_v2", "imagenet", 96)
    message = str(err.value)
    assert "ImageNet weights" in message and "--weights FILE" in message
    assert "network access" in message and "URL fetch failure" in message
    with pytest.raises(DataError, match="no such file"):
        image_io.ImageEncoder("mobilenet_v2", str(tmp_path / "nope.h5"), 96)
    wrong = tmp_path / "wrong.weights.h5"
    wrong.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not loadable as mobilenet_v2 weights"):
        image_io.ImageEncoder("mobilenet_v2", str(wrong), 96)


def test_output_folder_with_foreign_files_is_refused(tmp_path):
    for name in ("images", "outfits"):
        (tmp_path / name).mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "train_no_dup_new_100.json").write_text("[] mine")
    with pytest.raises(DataError, match="not an earlier featurize output"):
        featurize.featurize_polyvore(str(tmp_path / "images"), str(tmp_path / "outfits"),
                                     str(out), weights="none")
    assert (out / "train_no_dup_new_100.json").read_text() == "[] mine"
    with pytest.raises(DataError, match="also an input folder"):
        featurize.featurize_polyvore(str(tmp_path / "images"), str(tmp_path / "outfits"),
                                     str(tmp_path / "outfits"), weights="none")


def test_cli_exit_codes(tmp_path, capsys):
    assert featurize.main(["polyvore", "--images", str(tmp_path / "no"), "--outfits",
                           str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--images" in capsys.readouterr().err


@needs_images
def test_cli_writes_a_store(release, tmp_path, weights_file, capsys):
    images, outfits, _ = release
    out = str(tmp_path / "out")
    assert featurize.main(["polyvore", "--images", images, "--outfits", outfits, "--out", out,
                           "--backbone", "mobilenet_v2", "--image-size", "96", "--weights",
                           weights_file, "--min-category-items", "3", "--text-mode",
                           "last-word", "--quiet"]) == 0
    assert "training.fit --model ngnn --data-dir" in capsys.readouterr().out
    store = _store(out)
    assert store.text_len.max() == 1 and store.meta["text_mode"] == "last-word"


def test_image_pipeline_runs_without_the_autotune_model(tmp_path):
    """Featurizing ends one image iterator per chunk; with tf.data's autotuning model on, the
    end of an iterator could wait for the optimiser's next interval (``datasets.pipeline``)."""
    encoder = image_io.ImageEncoder("mobilenet_v2", "none", 96)
    dataset = encoder._dataset([str(tmp_path / "a.jpg")])  # pylint: disable=protected-access
    assert dataset.options().autotune.enabled is False


@needs_images
@pytest.mark.parametrize("hostile", ["absolute", "parent"])
def test_a_set_id_that_is_a_path_reads_and_writes_nothing_outside(release, tmp_path,
                                                                   weights_file, hostile):
    """A release whose set_id points outside --images / --out (an absolute path, or ../..):
    the outfit is refused at parse time (skipped and counted by default), so no image is
    read from there and no ``<set_id>_<n>.json`` is written there; the user's file is kept."""
    images, outfits, written = release
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "1.jpg").write_bytes(open(os.path.join(images, "1000", "1.jpg"), "rb").read())
    mine = tmp_path / "victim_1.json"
    mine.write_text("mine")
    set_id = str(victim) if hostile == "absolute" else os.path.join("..", "..", "victim")
    train = written["train"] + [dict(written["train"][1], set_id=set_id)]
    with open(os.path.join(outfits, "train_no_dup.json"), "w") as handle:
        json.dump(train, handle)
    out = str(tmp_path / "out")
    report = featurize.featurize_polyvore(images, outfits, out, weights=weights_file,
                                          write_json=True, **FAST)
    assert report["counts"]["malformed_outfits_skipped"] == 1
    assert mine.read_text() == "mine" and sorted(os.listdir(str(victim))) == ["1.jpg"]
    inside = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs]
    assert not any("victim" in p for p in inside)
    with pytest.raises(DataError, match="not a plain name"):
        featurize.featurize_polyvore(images, outfits, str(tmp_path / "out2"),
                                     weights=weights_file, on_bad="error", **FAST)


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    target = tmp_path / "out"
    target.write_text("keep")
    images = tmp_path / "images"
    images.mkdir()
    code = featurize.main(["polyvore", "--images", str(images), "--outfits", str(tmp_path),
                           "--out", str(target)])
    assert code == 2 and target.read_text() == "keep"
    assert "is a file" in capsys.readouterr().err
