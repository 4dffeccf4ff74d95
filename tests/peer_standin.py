"""A stand-in peer for the peers runner's test: logistic regression on the candidate's item
and category and on "the candidate's category is in the history", trained by numpy SGD
through :mod:`benchmarks.peer_common`'s epoch loop.

Why a stand-in: the real peers (DeepCTR with Keras 2, RecBole with PyTorch) live in
environments of their own that CI does not install (minutes of downloads, GBs); what the
test checks is the runner's contract (export, child, scores back, metrics, the comparison
with npurec's history), which this child follows exactly as they do. It learns, so the
comparison has a real best epoch. Like RecBole (``log_tensorboard/``), it writes into its
working directory.
"""
import numpy as np

from benchmarks import peer_common


WORKING_FILE = "standin-working-directory.txt"


def _features(rows, items):
    n = len(rows["label"])
    seen = (rows["hist_cats"] == rows["target_cat"][:, None]).any(axis=1)
    return (rows["target_item"].astype(np.int64), items + rows["target_cat"].astype(np.int64),
            seen.astype(np.float64), n)


def main():
    export, out, config = peer_common.parse_args("stand-in peer")
    with open(WORKING_FILE, "w") as handle:  # relative: the working directory, as RecBole
        handle.write(out)
    meta, splits = peer_common.load_export(export)
    items, categories = meta["sizes"]["items"], meta["sizes"]["categories"]
    weights = np.zeros(items + categories + 2)  # ids, then "seen", then the bias
    rate = float(config.get("learning_rate", 0.05))
    rng = np.random.RandomState(int(config.get("seed", 0)))
    data = {split: _features(rows, items) for split, rows in splits.items()}

    def logits(split, index=slice(None)):
        item, cat, seen, _ = data[split]
        return (weights[item[index]] + weights[cat[index]] + weights[-2] * seen[index]
                + weights[-1])

    def fit_epoch(epoch):
        item, cat, seen, n = data["train"]
        labels = splits["train"]["label"]
        for batch in np.array_split(rng.permutation(n), max(n // 256, 1)):
            error = 1.0 / (1.0 + np.exp(-logits("train", batch))) - labels[batch]
            np.add.at(weights, item[batch], -rate * error)
            np.add.at(weights, cat[batch], -rate * error)
            weights[-2] -= rate * float(np.mean(error * seen[batch]))
            weights[-1] -= rate * float(np.mean(error))

    def predict(split):
        return 1.0 / (1.0 + np.exp(-logits(split)))

    peer_common.train_epochs(fit_epoch, predict, splits, config, out,
                             versions={"standin": "1"}, extra={"applied": {"rate": rate}})


if __name__ == "__main__":
    main()
