"""Peak resident memory of one real-size NGNN training process (``python -m training.fit``).

Writes a real-size Polyvore directory in the real file formats: the split files, category map
and negative pools of ``../shared/data/polyvore`` when present (the paper's real structure:
16,983 training outfits, 119,122 items with the pools), else generated ones of the same size,
plus a packed ``features/`` store (``datasets.featurize``'s format) of random 2048-d image and
word-id text features (the bytes' values do not change memory). Then runs a fit of one short
epoch on it (training steps, a validation and a test evaluation of every question) in a CHILD
process and reports the child's own peak resident memory (:mod:`benchmarks.child`), so the
figure is the training process's, not this script's, plus its training rate (pairs/s of the
epoch, the first step's tracing included: the real input pipeline, unlike
``benchmarks.run``'s step timing) and test metrics (same data and seed: two trees must agree
when a change is meant not to move results).

    python -m benchmarks.process_memory --out benchmarks/results/ngnn_memory.json
    python -m benchmarks.process_memory --source ../before --source .   # trees, same data
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from benchmarks import child, report
from datasets import features as feature_store
from datasets import outfit_data
from datasets import polyvore as pv
from datasets.generators import outfit_files

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                      "shared", "data", "polyvore")
SPLIT_SIZES = {"train": 16983, "test": 2697}  # the paper's split (NGNN's *_new_100 files)
CATEGORIES = 120


def _structure(directory, rng, split_sizes):
    """Copy the real split files when available (and the real sizes are asked for), else
    write generated ones of ``split_sizes``."""
    names = (pv.TRAIN_FILE, pv.TEST_FILE, pv.CATEGORY_MAP_FILE, pv.CATEGORY_POOL_FILE)
    if split_sizes == SPLIT_SIZES and all(os.path.isfile(os.path.join(SHARED, n))
                                          for n in names):
        for name in names:
            shutil.copy(os.path.join(SHARED, name), os.path.join(directory, name))
        return "real structure ({})".format(os.path.normpath(SHARED))
    category_ids = [int(c) for c in sorted(rng.choice(np.arange(2, 5000), CATEGORIES, False))]
    pools = {c: [] for c in range(CATEGORIES)}
    splits, set_id = {}, 100000000
    for split, count in sorted(split_sizes.items()):
        splits[split] = []
        for _ in range(count):
            set_id += 1
            cats = rng.choice(CATEGORIES, size=rng.randint(3, outfit_data.MAX_ITEMS + 1), replace=False)
            for index, c in enumerate(cats, 1):
                pools[int(c)].append("{}_{}".format(set_id, index))
            splits[split].append({"set_id": str(set_id),
                                  "items_index": list(range(1, len(cats) + 1)),
                                  "items_category": [category_ids[c] for c in cats]})
    outfit_files.write_split_files(directory, splits, pools, category_ids)
    return "generated structure ({})".format(
        "the real size" if split_sizes == SPLIT_SIZES else "smoke size")


def write_data(directory, split_sizes=None, visual_dim=2048, vocab_size=2757, words=12,
               seed=0):
    """A Polyvore directory (default: real size) with a packed feature store; returns a
    description.

    Args:
      directory: where to write.
      split_sizes: outfits per split (default the real sizes).
      visual_dim, vocab_size, words: feature sizes.
      seed: the data's seed.

    Returns:
      The data directory.
    """
    rng = np.random.RandomState(seed)
    os.makedirs(directory)
    source = _structure(directory, rng, split_sizes or SPLIT_SIZES)
    keys = set()
    for name in (pv.TRAIN_FILE, pv.TEST_FILE):
        with open(os.path.join(directory, name)) as handle:
            keys.update("{}_{}".format(o["set_id"], i) for o in json.load(handle)
                        for i in o["items_index"])
    with open(os.path.join(directory, pv.CATEGORY_POOL_FILE)) as handle:
        for entry in json.load(handle):
            keys.update(entry["items"])
    keys = sorted(keys)
    store = os.path.join(directory, feature_store.PACKED_DIR)
    os.makedirs(store)
    visual = np.lib.format.open_memmap(os.path.join(store, "visual.npy"), mode="w+",
                                       dtype=np.float32, shape=(len(keys), visual_dim))
    for start in range(0, len(keys), 4096):
        stop = min(start + 4096, len(keys))
        visual[start:stop] = rng.random_sample((stop - start, visual_dim))
    visual.flush()
    del visual
    np.save(os.path.join(store, "text_ids.npy"),
            rng.randint(1, vocab_size, size=(len(keys), words)).astype(np.int32))
    np.save(os.path.join(store, "text_len.npy"),
            rng.randint(3, words + 1, size=len(keys)).astype(np.int32))
    with open(os.path.join(store, "meta.json"), "w") as handle:
        json.dump({"keys": keys, "visual_dim": visual_dim, "vocab_size": vocab_size,
                   "version": feature_store.STORE_VERSION, "format": "npurec-packed"}, handle)
    return {"structure": source, "items": len(keys),
            "visual_mib": round(len(keys) * visual_dim * 4 / 2.0 ** 20, 1)}


def measure(data_dir, source, steps, work):
    """Run a short real-size fit of ``source`` in a child process: its own peak RSS (MiB,
    :func:`benchmarks.child.run_python`), its seconds, training rate and test metrics.

    Args:
      data_dir: the data.
      source: the checkout to run.
      steps: training steps.
      work: a scratch folder.

    Returns:
      The record (peak RSS, rate, test metrics).

    Raises:
      RuntimeError: the child failed (its log's tail is in the message).
    """
    env = dict(os.environ, PYTHONPATH=os.path.abspath(source), TF_CPP_MIN_LOG_LEVEL="2",
               NPUREC_CACHE=os.path.join(work, "cache"))
    run_dir = os.path.join(work, "run")
    args = ["--model", "ngnn", "--data-dir", data_dir, "--epochs", "1",
            "--set", "train.steps_per_epoch={}".format(steps),
            "--output-dir", run_dir, "--overwrite"]
    log_path = os.path.join(work, "fit.log")
    code, seconds, peak = child.run_python("-m", "training.fit", args, log_path,
                                           cwd=os.path.abspath(source), env=env)
    with open(log_path, "rb") as log:
        output = log.read().decode("utf-8", "replace")
    if code:
        raise RuntimeError("fit of {} failed:\n{}".format(source, output[-3000:]))
    rate = re.findall(r"steps in [0-9.]+s \([0-9.]+ steps/s, ([0-9.]+) samples/s\)", output)
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        test = json.load(handle).get("test", {})
    return {"peak_rss_mib": round(peak, 1), "seconds": round(seconds, 1),
            "train_steps": steps, "train_pairs_per_sec": float(rate[-1]) if rate else None,
            "source": os.path.abspath(source), "commit": _commit(source),
            "test_metrics": test}


def _commit(source):
    """The tree's git commit (+ "-dirty" with uncommitted changes), or None."""
    try:
        head = subprocess.check_output(["git", "-C", source, "rev-parse", "--short", "HEAD"],
                                       stderr=subprocess.DEVNULL).decode().strip()
        dirty = subprocess.check_output(["git", "-C", source, "status", "--porcelain",
                                         "--untracked-files=no"]).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def main(argv=None):
    """The command line; returns 0.

    Args:
      argv: the arguments.

    Returns:
      0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.process_memory")
    parser.add_argument("--source", action="append", default=None,
                        help="an npurec tree whose fit is measured (repeat to compare trees "
                             "on the same data, e.g. before/after); default: this one")
    parser.add_argument("--steps", type=int, default=300, help="training steps (batch 16)")
    parser.add_argument("--out", default=None, help="JSON file to write")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and 2 steps, to check the script (numbers mean nothing)")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="npurec-memory-")
    try:
        data_dir = os.path.join(work, "polyvore")
        smoke = {"train": 40, "test": 12} if args.smoke else None
        steps = 2 if args.smoke else args.steps
        record = {"smoke": bool(args.smoke), "data": write_data(
            data_dir, smoke, visual_dim=32 if smoke else 2048, vocab_size=50 if smoke else 2757),
            "runs": [
            measure(data_dir, source, steps, work) for source in args.source or ["."]]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
