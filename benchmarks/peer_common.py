"""What every peer child of :mod:`benchmarks.peers` shares: reading npurec's exported rows,
the epoch loop with its wall clock and validation AUC, and the result it writes.

Why a module of its own that imports numpy and scikit-learn only: a peer runs in ITS OWN
environment (DeepCTR needs Keras 2, RecBole needs PyTorch), which need not hold npurec's
packages. The child reads the rows npurec trains on (:func:`load_export`) and leaves the
scores of its selected epoch; the runner computes every metric from those scores with
npurec's own code, so the metrics of all sides are computed alike.

Export layout (written by :func:`benchmarks.peers.export_rows`)::

    meta.json          {"sizes": {"items", "categories", "users"}, "maxlen", "data", ...}
    train.npz, validation.npz, test.npz
                       user [n], hist_items / hist_cats [n, maxlen] (left-aligned, 0 = pad),
                       hist_len [n], target_item [n], target_cat [n], label [n] float32
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import time

import numpy as np

SPLITS = ("train", "validation", "test")


def load_export(folder):
    """``(meta, {split: {column: array}})`` of an export folder."""
    with open(os.path.join(folder, "meta.json")) as handle:
        meta = json.load(handle)
    splits = {}
    for split in SPLITS:
        with np.load(os.path.join(folder, split + ".npz")) as arrays:
            splits[split] = {key: arrays[key] for key in arrays.files}
    return meta, splits


def auc(labels, scores):
    """ROC AUC (ties at their expected value), scikit-learn's."""
    from sklearn.metrics import roc_auc_score  # pylint: disable=import-outside-toplevel

    return float(roc_auc_score(np.asarray(labels) > 0.5, np.asarray(scores, np.float64)))


def parse_args(description):
    """The children's command line: ``--export DIR --out DIR --config JSON``.

    ``--config``: ``{"name", "epochs", "patience", "batch_size", "learning_rate",
    "embedding_dim", "seed", ...}`` (each peer reads what it has).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--export", required=True, help="npurec's exported rows")
    parser.add_argument("--out", required=True, help="folder for result.json and scores")
    parser.add_argument("--config", required=True, help="the run's settings, JSON")
    args = parser.parse_args()
    return args.export, args.out, json.loads(args.config)


def train_epochs(fit_epoch, predict, splits, config, out, versions, extra=None):
    """Train epoch by epoch, scoring validation after each; keep the scores of the epoch
    with the best validation AUC; stop after ``config["patience"]`` epochs without a better
    one or after ``config["epochs"]``.

    The clock counts training and the validation scoring (as npurec's ``history.json``
    does), not the test scoring, which only the record needs.

    Args:
      fit_epoch: ``fit_epoch(epoch)`` trains one epoch.
      predict: ``predict(split)`` -> scores [n] of the split's rows, in order.
      splits: the exported rows.
      config: the run's settings.
      out: the output folder (``result.json``, ``validation.npy``, ``test.npy``).
      versions: the peer's library versions, for the record.
      extra: more to record (the settings the peer applied).

    Returns:
      The result dict (also written to ``out/result.json``).
    """
    os.makedirs(out, exist_ok=True)
    train_rows = len(splits["train"]["label"])
    clock, epochs, best = 0.0, [], None
    for epoch in range(1, int(config["epochs"]) + 1):
        start = time.time()
        fit_epoch(epoch)
        trained = time.time() - start
        validation = np.asarray(predict("validation"), np.float64).ravel()
        value = auc(splits["validation"]["label"], validation)
        clock += time.time() - start
        epochs.append({"epoch": epoch, "seconds": round(clock, 3), "validation_auc": value,
                       "train_samples_per_sec": round(train_rows / trained, 1)})
        print(json.dumps(epochs[-1]), flush=True)
        if not np.isfinite(value):
            break
        if best is None or value > best["validation_auc"]:
            best = dict(epochs[-1])
            np.save(os.path.join(out, "validation.npy"), validation)
            np.save(os.path.join(out, "test.npy"),
                    np.asarray(predict("test"), np.float64).ravel())
        elif epoch - best["epoch"] >= int(config.get("patience", 2)):
            break
    result = {"name": config.get("name"), "config": config, "epochs": epochs, "best": best,
              "versions": versions, "train_rows": train_rows}
    result.update(extra or {})
    with open(os.path.join(out, "result.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result
