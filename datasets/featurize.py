"""Featurize a public Polyvore release for NGNN: ``python -m datasets.featurize polyvore`` (the
Maryland release) or ``polyvore-outfits`` (Polyvore Outfits with its official questions,
:func:`featurize_polyvore_outfits`).

::

    python -m datasets.featurize polyvore --images RELEASE/images --outfits RELEASE \\
        [--split NGNN_SPLIT_DIR] --out OUT [--weights FILE] [--backbone inception_v3]
    python -m training.fit --model ngnn --data-dir OUT

OUT then holds what ``training.fit`` reads directly (no per-item JSON files in between):

* the split: ``train_no_dup_new_100.json``, ``test_no_dup_new_100.json`` (and
  ``valid_no_dup_new_100.json`` when the split has one), ``cid2rcid_100.json``,
  ``category_summarize_100.json``: the NGNN split files as given (``--split``), or rebuilt from
  the release by the same rule (:func:`datasets.polyvore_release.filtered_split`); outfits with
  an unusable item are dropped and counted;
* ``features/``: the packed feature store (:mod:`datasets.features`): ``visual.npy`` (the
  backbone's vectors), ``text_ids.npy``/``text_len.npy`` (word ids of each item's name) and
  ``meta.json`` (keys, dimensions, backbone, weights, text mode);
* ``vocabulary.txt`` (``word<TAB>count``, the line number is the word id) and
  ``featurize_report.json`` (counts of everything skipped or converted, and why; written last,
  so its presence marks a complete output);
* with ``--json``, also the original per-item layout (``polyvore_image_vectors/<key>.json``,
  ``polyvore_text_onehot_vectors/<key>.json``) for the authors' code.

The image vectors are cached by item and encoder settings in ``OUT/.featurize-cache/``, so an
interrupted run resumes where it stopped, and a rerun with another split or text option
reuses every vector. Bad input (a missing, truncated or corrupt image, an item without a name,
an outfit without images) is counted in the report and skipped (``--on-bad skip``, default) or
stops the run naming the file (``--on-bad error``); vectors already computed are kept either
way. Grayscale and CMYK JPEGs and PNGs named ``.jpg`` are decoded by content and counted.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import json
import logging
import os
import shutil
import sys
import time

import numpy as np

from core.errors import DataError, NpurecError, said
from core import files, quiet
from datasets import progress as progress_bars
from datasets import features as feature_store
from datasets import item_text
from datasets import polyvore as pv
from datasets import polyvore_outfits
from datasets import polyvore_release as release_io

# the output's file names are the reader's (datasets/polyvore_outfits.py), written from there
# once: a rename on one side only would make every featurized folder unreadable
REPORT_FILE = polyvore_outfits.REPORT_FILE
VOCAB_FILE = polyvore_outfits.VOCABULARY_FILE
OUTFITS_ITEMS_FILE = polyvore_outfits.ITEMS_FILE
OUTFITS_CATEGORIES_FILE = polyvore_outfits.CATEGORIES_FILE
CACHE_DIR = ".featurize-cache"
STORE_VERSION = 1
log = logging.getLogger("npurec.featurize")



def featurize_polyvore(images, outfits, out, split=None, backbone="inception_v3",
                       weights="imagenet", image_size=None, batch_size=32, precision="fp32",
                       text_mode="multi-hot", vocab=None, min_category_items=100,
                       on_bad="skip", write_json=False, chunk=512, progress=True,
                       on_chunk=None):
    """Featurize a Polyvore release folder into ``out``; return the report (a dict).

    Args:
      images: the release's image folder (``<set_id>/<index>.jpg``).
      outfits: the folder of ``train_no_dup.json``/``valid_no_dup.json``/``test_no_dup.json``.
      out: output folder: new, empty, or an earlier output of this command.
      split: folder of the NGNN split files; None rebuilds the split from the release.
      backbone / weights / image_size / batch_size / precision: see
        :class:`datasets.images.ImageEncoder`.
      text_mode: ``multi-hot`` or ``last-word`` (the original preprocessing's behaviour).
      vocab: a vocabulary file (``final_word_dict.txt`` format); None builds it from the
        training names (words of 3+ characters seen 5+ times).
      min_category_items: the split rule's category threshold (without ``split``).
      on_bad: ``skip`` (count and skip) or ``error`` (stop, naming the file).
      write_json: also write the original per-item JSON layout.
      chunk: images per resume chunk.
      on_chunk: called with the number of images encoded so far after each chunk is saved.

    Returns:
      The report (counts, examples of what was dropped, settings), also in ``--out``.

    Raises:
      DataError: bad input (``on_bad="error"``), missing folders, an output folder holding
        files this command did not write, unusable weights.
    """
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel

    start = time.time()
    if on_bad not in ("skip", "error"):
        raise DataError("--on-bad {!r}: choose skip or error".format(on_bad))
    for flag, folder in (("--images", images), ("--outfits", outfits), ("--split", split)):
        if folder is not None and not os.path.isdir(folder):
            raise DataError("{} {}: no such folder".format(flag, folder))
    _check_output(out, [images, outfits, split], create=False)  # refusals are cheap
    report = collections.Counter()
    examples = collections.defaultdict(list)

    release, items = release_io.read_release(outfits, "error" if on_bad == "error" else "skip",
                                             report)
    names = release_io.read_category_names(split, outfits)
    if split:
        split_outfits, cid2rcid, summary = release_io.read_ngnn_split(split)
    else:
        split_outfits, cid2rcid, summary = release_io.filtered_split(
            release, min_category_items=min_category_items, category_names=names)
    if vocab:
        words = release_io.read_vocabulary(vocab)
        counts = [0] * len(words)
    else:
        train_names = [items[release_io.item_key(o.set_id, i)].name
                       for o in release["train"] for i in o.indices]
        pairs = item_text.vocabulary_from_names(train_names)
        if not pairs:
            raise DataError("{}: no word of 3+ characters occurs 5+ times in the training "
                            "names; pass --vocab FILE".format(outfits))
        words, counts = [w for w, _ in pairs], [c for _, c in pairs]

    needed = sorted({release_io.item_key(o.set_id, i) for rows in split_outfits.values()
                     for o in rows for i in o.indices} |
                    {str(k) for entry in summary for k in entry["items"]})
    bad = {}  # key -> reason

    def reject(key, reason, detail):
        if on_bad == "error":
            raise DataError("{}: {}. Use --on-bad skip to skip such items (counted in {}).".format(
                detail, reason.replace("_", " "), REPORT_FILE))
        bad[key] = reason
        report["items_skipped:" + reason] += 1
        if len(examples[reason]) < 5:
            examples[reason].append(detail)

    paths = {}
    for key in needed:
        item = items.get(key)
        if "_" not in str(key):
            reject(key, "malformed_key", "item key {!r}: expected <set_id>_<index>".format(key))
            continue
        set_id, index = key.rsplit("_", 1)
        # ids from the data files: each one path component, and the paths proven inside
        folder = files.path_under(images, files.plain_name(set_id, "item {}: set_id".format(key)))
        path = files.path_under(folder, files.plain_name(index, "item {}: index".format(key))
                                + ".jpg")
        if item is None:
            reject(key, "not_in_release", "item {}: in the split but in no *_no_dup.json of "
                   "{}".format(key, outfits))
        elif item.name is None:
            reject(key, "no_name", "{}: no name (expected a non-empty string)".format(
                item.where))
        elif not os.path.isdir(folder):
            reject(key, "outfit_without_images", "{}: the outfit's image folder is "
                   "missing".format(folder))
        elif not os.path.isfile(path):
            reject(key, "missing_image", "{}: image file is missing".format(path))
        else:
            paths[key] = path

    _check_output(out, [images, outfits, split])  # every text file read: only now written
    encoder = image_io.ImageEncoder(backbone, weights, image_size, precision, batch_size)
    cache = image_io.PartCache(os.path.join(out, CACHE_DIR, encoder.tag))
    cached = cache.index()
    stamps = {key: image_io.file_stamp(path) for key, path in paths.items()}
    reuse = {k: cached[k] for k in paths if k in cached and cached[k][0] == stamps[k]}
    todo = [k for k in paths if k not in reuse]
    report["images_reused_from_cache"] = len(reuse)
    log.info("polyvore: %d items needed, %d images cached, %d to encode with %s at %dx%d",
             len(needed), len(reuse), len(todo), encoder.backbone, encoder.image_size,
             encoder.image_size)

    encoded_at = time.time()
    encoded = _encode(encoder, cache, todo, paths, stamps, chunk, progress, on_chunk, reject,
                      report)
    seconds = time.time() - encoded_at
    report["images_encoded"] = encoded
    if encoded:
        report["images_per_second"] = round(encoded / max(seconds, 1e-9), 2)

    cached = cache.index()
    good = {k for k in paths if k not in bad and k in cached and cached[k][0] == stamps[k]}
    kept_outfits = {}
    for name, rows in split_outfits.items():
        kept_outfits[name] = [o for o in rows if all(
            release_io.item_key(o.set_id, i) in good for i in o.indices)]
        report["outfits:" + name] = len(kept_outfits[name])
        dropped = len(rows) - len(kept_outfits[name])
        if dropped:
            report["outfits_dropped:" + name] = dropped
        if not kept_outfits[name]:
            raise DataError("the {} split has no outfit whose items all have an image and a "
                            "name (see {} examples: {})".format(name, REPORT_FILE,
                                                               dict(examples)))
    summary = [dict(entry, items=[k for k in entry["items"] if k in good]) for entry in summary]
    for entry in summary:
        entry["frequency"] = len(entry["items"])
    keys = sorted({release_io.item_key(o.set_id, i) for rows in kept_outfits.values()
                   for o in rows for i in o.indices} |
                  {k for entry in summary for k in entry["items"]})
    text_ids, text_len = release_io.text_word_ids([items[k].name for k in keys], words,
                                                  text_mode)
    report["items"] = len(keys)
    report["items_without_vocabulary_words"] = int((text_len == 0).sum())
    report["categories"] = len(cid2rcid)

    _write_output(out, {
        "outfits": kept_outfits, "cid2rcid": cid2rcid, "summary": summary, "keys": keys,
        "cached": cached, "cache": cache, "dim": encoder.dim, "text_ids": text_ids,
        "text_len": text_len, "words": words, "counts": counts, "write_json": write_json,
        "meta": {"encoder": encoder.describe(), "text_mode": text_mode,
                 "vocabulary": vocab or "built from the training names (3+ chars, 5+ times)",
                 "split": split or "rebuilt from the release (min_category_items={})".format(
                     min_category_items)}})
    result = {"counts": dict(sorted(report.items())), "examples": dict(examples),
              "encoder": encoder.describe(), "text_mode": text_mode,
              "vocabulary_size": len(words), "split_source": split or "rebuilt",
              "min_category_items": None if split else min_category_items,
              "seconds": round(time.time() - start, 2)}
    # last: the report marks a complete output
    files.write_json(os.path.join(out, REPORT_FILE), result, indent=1, sort_keys=False)
    return result


def featurize_polyvore_outfits(root, out, splits=None, backbone="inception_v3",
                               weights="imagenet", image_size=None, batch_size=32,
                               precision="fp32", max_vocabulary=3000, min_word_count=5,
                               on_bad="skip", chunk=512, progress=True, on_chunk=None):
    """Featurize the Polyvore Outfits release (:mod:`datasets.outfits_release`) into ``out``.

    ``out`` then holds, for ``training.fit --model ngnn --data-dir OUT --set data.split=S``:

    * ``features/``: one packed store for the items of every featurized split (row keys are
      item ids); an item whose image is missing or unreadable keeps a zero image vector
      (``--on-bad skip``, counted), so every official question can still be answered;
    * ``items.json``: each store row's ``category_id``, ``semantic_category`` and whether it
      has an image; ``categories.json``: names from ``categories.csv``;
    * ``vocabulary.txt``: the word list the store's word ids index (the union of the splits'
      vocabularies); ``<split>/vocabulary.txt``: that split's own vocabulary (``word<TAB>
      training items holding it``), which training restricts the text to;
    * ``<split>/``: byte copies of the split's outfit lists and official question files;
    * ``featurize_report.json`` (last: it marks a complete output).

    Text rule: an item's words are those of its title and description (its url name when both
    are empty), lower-cased, of 3+ characters (:func:`datasets.polyvore.tokenize`). A split's
    vocabulary is the ``max_vocabulary`` words held by the most TRAINING items of that split,
    each held by at least ``min_word_count`` of them: validation and test items add no word.

    Args:
      root: the release folder (``polyvore_item_metadata.json``, ``images/``, split folders).
      out: output folder: new, empty, or an earlier output of this command.
      splits: which splits (default: every split folder of ``root``).
      backbone / weights / image_size / batch_size / precision: see
        :class:`datasets.images.ImageEncoder`.
      max_vocabulary / min_word_count: the text rule above.
      on_bad: ``skip`` (count; an image-less item keeps a zero image vector) or ``error``.
      chunk / progress / on_chunk: as :func:`featurize_polyvore`.

    Returns:
      The report (also written to ``out``).

    Raises:
      DataError: a missing or malformed release file (file, line or item named), a split
        that is not there, a bad image with ``on_bad="error"``, an unusable ``out``.
    """
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel
    from datasets import outfits_release as release  # pylint: disable=import-outside-toplevel

    start = time.time()
    if on_bad not in ("skip", "error"):
        raise DataError("--on-bad {!r}: choose skip or error".format(on_bad))
    if not os.path.isdir(root):
        raise DataError("--root {}: no such folder".format(root))
    if not release.is_release(root):
        raise DataError("--root {}: no {}; expected the Polyvore Outfits release folder "
                        "(polyvore_outfits/)".format(root, release.METADATA_FILE))
    present = release.splits_present(root)
    chosen = list(splits or present)
    for split in chosen:
        if split not in release.SPLITS or split not in present:
            raise DataError("--split {}: {} has no such split folder (present: {})".format(
                split, root, ", ".join(present) or "none"))
    if not chosen:
        raise DataError("{}: neither {} nor {} is there".format(root, *release.SPLITS))
    report = collections.Counter()
    examples = collections.defaultdict(list)

    lists = {}
    for split in chosen:  # every file read and checked before any image is encoded
        for phase in release.PHASES:
            lists[split, phase] = release.read_outfits(root, split, phase)
        for phase in release.QUESTION_PHASES:
            index = release.key_index(lists[split, phase])
            report["fitb_questions:{}_{}".format(split, phase)] = len(
                release.read_fitb(root, split, phase, index))
            report["compatibility_outfits:{}_{}".format(split, phase)] = len(
                release.read_compatibility(root, split, phase, index))
    keys = sorted({item for rows in lists.values() for _, members in rows
                   for _, item in members})
    metadata = release.read_metadata(root, keys)
    names = release.read_category_names(root)
    vocabularies = {split: split_vocabulary(
        [metadata[i].text for i in sorted({item for _, members in lists[split, "train"]
                                           for _, item in members})],
        max_vocabulary, min_word_count) for split in chosen}
    words = []
    for split in chosen:
        known = set(words)
        words += [w for w, _ in vocabularies[split] if w not in known]
    if not words:
        raise DataError("{}: no word of 3+ characters is held by {}+ training items".format(
            root, min_word_count))
    _check_output(out, [root])  # only now: a release refused above leaves no output folder

    def reject(key, reason, detail):
        if on_bad == "error":
            raise DataError("{}: {}. Use --on-bad skip to keep such items with a zero image "
                            "vector (counted in {}).".format(detail, reason.replace("_", " "),
                                                             REPORT_FILE))
        report["items_without_image:" + reason] += 1
        if len(examples[reason]) < 5:
            examples[reason].append(detail)

    images = os.path.join(root, release.IMAGES_DIR)
    paths = {}
    for key in keys:
        path = files.path_under(images, key + ".jpg")
        if os.path.isfile(path):
            paths[key] = path
        else:
            reject(key, "missing_image", "{}: image file is missing".format(path))
    encoder = image_io.ImageEncoder(backbone, weights, image_size, precision, batch_size)
    cache = image_io.PartCache(os.path.join(out, CACHE_DIR, encoder.tag))
    cached = cache.index()
    stamps = {key: image_io.file_stamp(path) for key, path in paths.items()}
    todo = [k for k in paths if not (k in cached and cached[k][0] == stamps[k])]
    report["images_reused_from_cache"] = len(paths) - len(todo)
    log.info("polyvore outfits: %d items (%s), %d images cached, %d to encode with %s",
             len(keys), ", ".join(chosen), len(paths) - len(todo), len(todo),
             encoder.backbone)
    encoded_at = time.time()
    encoded = _encode(encoder, cache, todo, paths, stamps, chunk, progress, on_chunk, reject,
                      report)
    report["images_encoded"] = encoded
    if encoded:
        report["images_per_second"] = round(encoded / max(time.time() - encoded_at, 1e-9), 2)
    cached = {k: v for k, v in cache.index().items() if k in paths and v[0] == stamps[k]}
    text_ids, text_len = release_io.text_word_ids([metadata[k].text for k in keys], words)
    report["items"] = len(keys)
    report["items_with_image"] = len(cached)
    report["items_without_vocabulary_words"] = int((text_len == 0).sum())

    _write_store(out, {"keys": keys, "cached": cached, "cache": cache, "dim": encoder.dim,
                       "text_ids": text_ids, "text_len": text_len, "words": words},
                 {"encoder": encoder.describe(), "dataset": "polyvore_outfits",
                  "text": "title + description (url name if both empty), 3+ characters"})
    files.write_json(os.path.join(out, OUTFITS_ITEMS_FILE), {
        "keys": keys, "category_id": [metadata[k].category_id for k in keys],
        "semantic_category": [metadata[k].semantic for k in keys],
        "has_image": [k in cached for k in keys]}, sort_keys=False)
    files.write_json(os.path.join(out, OUTFITS_CATEGORIES_FILE), {
        str(c): {"name": n, "semantic": s} for c, (n, s) in sorted(names.items())})
    _write_vocabulary(os.path.join(out, VOCAB_FILE), [(w, 0) for w in words])
    for split in chosen:
        os.makedirs(os.path.join(out, split), exist_ok=True)
        _write_vocabulary(os.path.join(out, split, VOCAB_FILE), vocabularies[split])
        for name in release.split_files(split):
            with open(os.path.join(root, name), "rb") as source, \
                    files.atomic_file(os.path.join(out, name), mode="wb") as target:
                shutil.copyfileobj(source, target)
    for split in release.SPLITS:  # a split of an earlier run that is not featurized now
        if split not in chosen and os.path.isdir(os.path.join(out, split)):
            shutil.rmtree(os.path.join(out, split))
    result = {"counts": dict(sorted(report.items())), "examples": dict(examples),
              "encoder": encoder.describe(), "dataset": "polyvore_outfits", "splits": chosen,
              "vocabulary_size": {s: len(v) for s, v in vocabularies.items()},
              "stored_words": len(words), "seconds": round(time.time() - start, 2)}
    files.write_json(os.path.join(out, REPORT_FILE), result, indent=1, sort_keys=False)
    return result


def split_vocabulary(texts, max_words, min_count):
    """The words held by the most of ``texts`` (each text counts a word once), at least
    ``min_count`` of them, at most ``max_words``: ``[(word, texts holding it)]``, most held
    first, ties by word.

    Args:
      texts: the training items' texts.
      max_words / min_count: the limits.

    Returns:
      ``[(word, count)]``.
    """
    counts = collections.Counter()
    for text in texts:
        counts.update({w for w in item_text.tokenize(text) if len(w) >= 3})
    vocab = sorted(((w, c) for w, c in counts.items() if c >= min_count),
                   key=lambda wc: (-wc[1], wc[0]))
    return vocab[:max_words]


def _write_vocabulary(path, pairs):
    with files.atomic_file(path, encoding="utf-8") as handle:
        for word, count in pairs:
            handle.write("{}\t{}\n".format(word, count))


def _encode(encoder, cache, todo, paths, stamps, chunk, progress, on_chunk, reject, report):
    """Encode ``todo`` images, saving a part every ``chunk`` images; return how many."""
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel

    bar = None
    if progress and todo:
        bar = progress_bars.bar(total=len(todo), desc="encoding images", unit="img",
                                mininterval=1.0, smoothing=0.1)
    pending = {"keys": [], "stamps": [], "vectors": []}
    done = [0]
    formats = {1: "grayscale_jpeg", 4: "cmyk_jpeg", -1: "not_a_jpeg_decoded_by_content"}

    def flush():
        if pending["keys"]:
            cache.write(pending["keys"], pending["stamps"], np.concatenate(pending["vectors"]))
            done[0] += len(pending["keys"])
            for values in pending.values():
                del values[:]
            if on_chunk is not None:
                on_chunk(done[0])

    seen = np.zeros(len(todo), dtype=bool)
    try:
        for start in range(0, len(todo), chunk):
            batch_keys = todo[start:start + chunk]
            files = [paths[k] for k in batch_keys]
            for rows, vectors, channels in encoder.encode_files(
                    files, progress=bar.update if bar is not None else None):
                seen[start + rows] = True
                pending["keys"].extend(batch_keys[r] for r in rows)
                pending["stamps"].extend(stamps[batch_keys[r]] for r in rows)
                pending["vectors"].append(vectors)
                for c in channels[channels != 3]:
                    report["images_converted:" + formats.get(int(c), "other")] += 1
            flush()
            for r in np.flatnonzero(~seen[start:start + len(batch_keys)]):
                path = files[r]
                if bar is not None:
                    bar.update(1)
                reason = image_io.decode_error(path) or "dropped by the input pipeline"
                reject(batch_keys[r], "unreadable_image",
                       "{}: cannot decode ({}); expected a JPEG or PNG image".format(
                           path, reason))
    finally:
        flush()  # whatever was encoded is kept, also on an error or an interrupt
        if bar is not None:
            bar.close()
    return done[0]


def _check_output(out, inputs, create=True):
    """Refuse an output folder that is an input, or holds files this command did not write;
    then make it (``create``), once every input has been read and checked."""
    real = os.path.realpath(out)
    for folder in inputs:
        if folder and os.path.realpath(folder) == real:
            raise DataError("--out {}: is also an input folder; choose a new one".format(out))
    if os.path.isdir(out) and os.listdir(out) and not (
            os.path.isfile(os.path.join(out, REPORT_FILE)) or
            os.path.isdir(os.path.join(out, CACHE_DIR))):
        raise DataError("--out {}: holds files that are not an earlier featurize output; "
                        "choose a new or empty folder (nothing there was touched)".format(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise DataError("--out {}: is a file, not a folder; name a new or empty folder "
                        "(the file was not touched)".format(out))
    if not create:
        return
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise DataError("--out {}: cannot create it ({})".format(out, err.strerror or err))


def _write_output(out, result):
    """Split files, the feature store (built aside, then swapped in) and the vocabulary."""
    outfits = result["outfits"]
    for split, name in release_io.SPLIT_FILES:
        path = os.path.join(out, name)
        if split in outfits:
            files.write_json(path, [{"set_id": o.set_id, "items_index": list(o.indices),
                                     "items_category": list(o.categories)}
                                    for o in outfits[split]], indent=1, sort_keys=False)
        elif os.path.isfile(path):  # left by an earlier run with another split
            os.remove(path)
    files.write_json(os.path.join(out, pv.CATEGORY_MAP_FILE),
                     {str(k): v for k, v in sorted(result["cid2rcid"].items())},
                     indent=1, sort_keys=False)
    files.write_json(os.path.join(out, pv.CATEGORY_POOL_FILE), result["summary"], indent=1,
                     sort_keys=False)
    _write_vocabulary(os.path.join(out, VOCAB_FILE), zip(result["words"], result["counts"]))

    _write_store(out, result, result["meta"])
    if result["write_json"]:
        store = feature_store.open_packed(out)
        _write_json_layout(out, result["keys"], store.visual, result["text_ids"],
                           result["text_len"], len(result["words"]))


def _write_store(out, result, meta):
    """The packed feature store ``out/features/``: visual vectors gathered from the image
    cache (rows without a cached vector stay zero), the text word ids and ``meta.json``.
    Built aside and swapped in only once complete (an earlier run's store stays until then).
    """
    keys = result["keys"]
    with files.atomic_directory(os.path.join(out, feature_store.PACKED_DIR),
                                exists=files.REPLACE) as tmp:
        visual = np.lib.format.open_memmap(os.path.join(tmp, "visual.npy"), mode="w+",
                                           dtype=np.float32, shape=(len(keys), result["dim"]))
        cached = result["cached"]
        result["cache"].gather({k: (row, cached[k]) for row, k in enumerate(keys)
                                if k in cached}, visual)
        visual.flush()
        del visual
        np.save(os.path.join(tmp, "text_ids.npy"), result["text_ids"])
        np.save(os.path.join(tmp, "text_len.npy"), result["text_len"])
        meta = dict(meta, keys=keys, visual_dim=int(result["dim"]),
                    vocab_size=len(result["words"]), version=feature_store.STORE_VERSION,
                    format="npurec-packed", featurize_version=STORE_VERSION)
        with open(os.path.join(tmp, "meta.json"), "w") as handle:
            json.dump(meta, handle)


def _write_json_layout(out, keys, visual, text_ids, text_len, vocab_size):
    """The original per-item JSON files (one list of floats / of 0-1 per item and folder)."""
    for folder in (feature_store.VISUAL_DIR, feature_store.TEXT_DIR):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    for row, key in enumerate(keys):
        hot = np.zeros(vocab_size, dtype=np.int64)
        hot[text_ids[row, :text_len[row]]] = 1
        for folder, values in ((feature_store.VISUAL_DIR, visual[row].tolist()),
                               (feature_store.TEXT_DIR, hot.tolist())):
            target = files.path_under(out, folder, files.plain_name(key, "item key") + ".json")
            files.write_json(target, values, indent=1)


def main(argv=None):
    """CLI entry point; exit code 0 done, 2 bad input (the message names it).

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0, or the error's exit code (:mod:`core.errors`).
    """
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(
        prog="python -m datasets.featurize",
        description="Turn a public data release into the feature store training.fit reads.")
    sub = parser.add_subparsers(dest="dataset")
    p = sub.add_parser("polyvore", help="Polyvore outfits (NGNN)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--images", required=True, help="the release's images/ folder "
                   "(<set_id>/<index>.jpg)")
    p.add_argument("--outfits", required=True, help="folder of train_no_dup.json, "
                   "valid_no_dup.json, test_no_dup.json")
    p.add_argument("--split", help="folder of the NGNN split files (train_no_dup_new_100.json, "
                   "test_no_dup_new_100.json, cid2rcid_100.json, category_summarize_100.json); "
                   "omitted: rebuilt from the release")
    p.add_argument("--out", required=True, help="output folder (new, empty, or an earlier "
                   "output: resumes)")
    p.add_argument("--backbone", default="inception_v3", choices=list(image_io.BACKBONES))
    p.add_argument("--weights", default="imagenet", help="imagenet (downloaded once by Keras), "
                   "a local weights FILE, or none (random; tests only)")
    p.add_argument("--image-size", type=int, default=None, help="input size; default the "
                   "backbone's native size (InceptionV3: 299; the NGNN authors used 229)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--precision", default="fp32", choices=["fp32", "mixed", "bf16"])
    p.add_argument("--text-mode", default="multi-hot", choices=["multi-hot", "last-word"],
                   help="last-word reproduces the original script (one-hot of an item's last "
                   "in-vocabulary word)")
    p.add_argument("--vocab", help="vocabulary file (e.g. final_word_dict.txt); default: "
                   "built from the training names")
    p.add_argument("--min-category-items", type=int, default=100,
                   help="split rule without --split: keep categories with this many items")
    p.add_argument("--on-bad", default="skip", choices=["skip", "error"])
    p.add_argument("--json", action="store_true", help="also write the original per-item "
                   "JSON layout")
    p.add_argument("--chunk", type=int, default=512, help="images per resume chunk")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="keep TensorFlow's start-up notices")
    o = sub.add_parser("polyvore-outfits", help="Polyvore Outfits (Vasileva et al. 2018) with "
                       "its official questions (NGNN)",
                       description=featurize_polyvore_outfits.__doc__.split("\n\n")[0])
    o.add_argument("--root", required=True, help="the release folder (polyvore_outfits/: "
                   "polyvore_item_metadata.json, images/, nondisjoint/, disjoint/)")
    o.add_argument("--out", required=True, help="output folder (new, empty, or an earlier "
                   "output: resumes)")
    o.add_argument("--split", action="append", choices=["nondisjoint", "disjoint"],
                   help="featurize only this split (repeatable); default every split folder")
    o.add_argument("--max-vocabulary", type=int, default=3000,
                   help="words per split vocabulary (those held by the most training items)")
    o.add_argument("--min-word-count", type=int, default=5,
                   help="training items a word must be held by")
    for sub_parser in (o,):
        sub_parser.add_argument("--backbone", default="inception_v3",
                                choices=list(image_io.BACKBONES))
        sub_parser.add_argument("--weights", default="imagenet", help="imagenet, a local "
                                "weights FILE, or none (random; tests only)")
        sub_parser.add_argument("--image-size", type=int, default=None)
        sub_parser.add_argument("--batch-size", type=int, default=32)
        sub_parser.add_argument("--precision", default="fp32",
                                choices=["fp32", "mixed", "bf16"])
        sub_parser.add_argument("--on-bad", default="skip", choices=["skip", "error"])
        sub_parser.add_argument("--chunk", type=int, default=512)
        sub_parser.add_argument("--quiet", action="store_true", help="no progress bar")
        sub_parser.add_argument("--verbose", action="store_true",
                                help="keep TensorFlow's start-up notices")
    args = parser.parse_args(argv)
    if args.dataset not in ("polyvore", "polyvore-outfits"):
        parser.print_help()
        return 2
    # as quiet as training.fit: TensorFlow's start-up notices dropped (oneDNN kept on: the
    # backbones are convolutions)
    quiet.start_tensorflow(verbose=args.verbose, onednn=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.dataset == "polyvore-outfits":
        try:
            result = featurize_polyvore_outfits(
                args.root, args.out, splits=args.split, backbone=args.backbone,
                weights=args.weights, image_size=args.image_size, batch_size=args.batch_size,
                precision=args.precision, max_vocabulary=args.max_vocabulary,
                min_word_count=args.min_word_count, on_bad=args.on_bad, chunk=args.chunk,
                progress=not args.quiet)
        except NpurecError as err:
            return said(err)
        print(json.dumps(result["counts"], indent=1))
        print("wrote {} (train with: python -m training.fit --model ngnn --data-dir {} --set "
              "data.split={})".format(args.out, args.out, result["splits"][0]))
        return 0
    try:
        result = featurize_polyvore(
            args.images, args.outfits, args.out, split=args.split, backbone=args.backbone,
            weights=args.weights, image_size=args.image_size, batch_size=args.batch_size,
            precision=args.precision, text_mode=args.text_mode, vocab=args.vocab,
            min_category_items=args.min_category_items, on_bad=args.on_bad,
            write_json=args.json, chunk=args.chunk, progress=not args.quiet)
    except NpurecError as err:  # DataError, or a UsageError of the writer (an unwritable --out)
        return said(err)
    print(json.dumps(result["counts"], indent=1))
    print("wrote {} (train with: python -m training.fit --model ngnn --data-dir {})".format(
        args.out, args.out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
