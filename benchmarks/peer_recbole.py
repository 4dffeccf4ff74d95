"""RecBole's DIN on npurec's exported rows: one peer child of :mod:`benchmarks.peers`.

    python -m benchmarks.peer_recbole --export DIR --out DIR --config '{"name": ...}'

RecBole 1.2.1 (PyTorch; ``pip install recbole==1.2.1 torch``) reads atomic files. The rows
are written as its "benchmark" files (``din.train.inter``, ``din.valid.inter``,
``din.test.inter``: user, candidate item, label and the history as ``item_id_list``), so that
RecBole takes the splits and the histories AS GIVEN instead of re-deriving them from a log,
and ``din.item`` gives each item's category (RecBole's DIN embeds every item feature).
Training is RecBole's own epoch (``Trainer._train_epoch``); the scores are the model's
``predict`` on each split's rows in order, so the runner can compute every metric itself.
Settings not given in ``--config`` are RecBole's documented defaults for DIN (embedding 10,
MLP [256, 256, 256], Adam at 0.001, batch 2048).
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from benchmarks import peer_common

NAMES = {"train": "train", "validation": "valid", "test": "test"}


def _history_strings(items, lengths):
    """Each row's first ``lengths[i]`` ids joined by spaces, built column by column (one
    vectorised string operation per history position, none per row)."""
    text = np.full(len(lengths), "", dtype=object)
    for position in range(items.shape[1]):
        inside = lengths > position
        if not inside.any():
            break
        sep = " " if position else ""
        text[inside] = text[inside] + sep + items[inside, position].astype(str).astype(object)
    return text


def write_atomic(splits, folder):
    """The rows as RecBole atomic files in ``folder/din/``; the item -> category pairs
    from every split (the last row that names an item wins)."""
    root = os.path.join(folder, "din")
    os.makedirs(root, exist_ok=True)
    pairs_item, pairs_cat = [], []
    for split, name in NAMES.items():
        rows = splits[split]
        columns = np.stack([rows["user"].astype(np.int64).astype(str),
                            rows["target_item"].astype(np.int64).astype(str),
                            rows["label"].astype(np.float64).astype(str),
                            _history_strings(rows["hist_items"],
                                             rows["hist_len"].astype(np.int64)).astype(str)],
                           axis=1)
        np.savetxt(os.path.join(root, "din.{}.inter".format(name)), columns, fmt="%s",
                   delimiter="\t", comments="",
                   header="user_id:token\titem_id:token\tlabel:float\titem_id_list:token_seq")
        pairs_item += [rows["target_item"], rows["hist_items"].ravel()]
        pairs_cat += [rows["target_cat"], rows["hist_cats"].ravel()]
    items = np.concatenate(pairs_item).astype(np.int64)
    cats = np.concatenate(pairs_cat).astype(np.int64)
    keep = items != 0
    items, cats = items[keep], cats[keep]
    # the last occurrence of each item: unique over the reversed arrays
    unique, first_in_reverse = np.unique(items[::-1], return_index=True)
    last_cats = cats[::-1][first_in_reverse]
    table = np.stack([unique.astype(str), last_cats.astype(str)], axis=1)
    np.savetxt(os.path.join(root, "din.item"), table, fmt="%s", delimiter="\t", comments="",
               header="item_id:token\tcate_id:token")
    return folder


def main():
    export, out, config = peer_common.parse_args(__doc__.split("\n")[0])
    import torch  # pylint: disable=import-outside-toplevel
    import recbole  # pylint: disable=import-outside-toplevel
    from recbole.config import Config  # pylint: disable=import-outside-toplevel
    from recbole.data import create_dataset  # pylint: disable=import-outside-toplevel
    from recbole.data.utils import get_dataloader  # pylint: disable=import-outside-toplevel
    from recbole.model.sequential_recommender import DIN  # pylint: disable=C0415
    from recbole.trainer import Trainer  # pylint: disable=import-outside-toplevel
    from recbole.utils import init_seed  # pylint: disable=import-outside-toplevel

    meta, splits = peer_common.load_export(export)
    folder = write_atomic(splits, os.path.join(out, "atomic"))
    seed = int(config.get("seed", 0))
    settings = {
        "data_path": folder, "benchmark_filename": ["train", "valid", "test"],
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "LABEL_FIELD": "label",
        "TIME_FIELD": None, "LIST_SUFFIX": "_list", "ITEM_LIST_LENGTH_FIELD": "item_length",
        # RecBole pads a token_seq field to its longest value; the model's mask must match
        "MAX_ITEM_LIST_LENGTH": int(max(int(rows["hist_len"].max()) for rows in
                                        splits.values())),
        "load_col": {"inter": ["user_id", "item_id", "label", "item_id_list"],
                     "item": ["item_id", "cate_id"]},
        "train_neg_sample_args": None,
        "eval_args": {"order": "TO", "mode": "labeled", "group_by": None,
                      "split": {"RS": [0.8, 0.1, 0.1]}},
        "metrics": ["AUC", "LogLoss"], "valid_metric": "AUC", "eval_batch_size": 8192,
        "device": "cpu", "use_gpu": False, "seed": seed, "reproducibility": True,
        "show_progress": False, "checkpoint_dir": os.path.join(out, "saved"),
        "epochs": int(config["epochs"]), "log_wandb": False,
    }
    for ours, theirs in (("embedding_dim", "embedding_size"), ("learning_rate",
                                                               "learning_rate"),
                         ("batch_size", "train_batch_size")):
        if ours in config:
            settings[theirs] = config[ours]
    recbole_config = Config(model="DIN", dataset="din", config_dict=settings)
    init_seed(seed, True)
    dataset = create_dataset(recbole_config)
    built = dataset.build()
    train_data = get_dataloader(recbole_config, "train")(recbole_config, built[0], None,
                                                        shuffle=True)
    model = DIN(recbole_config, built[0]).to("cpu")
    trainer = Trainer(recbole_config, model)
    by_split = {"train": built[0], "validation": built[1], "test": built[2]}
    for split, part in by_split.items():  # the same rows in the same order, or no record
        labels = part.inter_feat["label"].numpy()
        if len(labels) != len(splits[split]["label"]) or not np.array_equal(
                labels, splits[split]["label"]):
            raise SystemExit("recbole read {} {} rows that are not the export's {} in "
                             "order".format(len(labels), split, len(splits[split]["label"])))

    def fit_epoch(epoch):
        model.train()
        trainer._train_epoch(train_data, epoch - 1, show_progress=False)  # pylint: disable=W0212

    def predict(split):
        model.eval()
        inter = by_split[split].inter_feat
        scores = []
        with torch.no_grad():
            for start in range(0, len(inter), 8192):
                scores.append(model.predict(inter[start:start + 8192]).numpy())
        return np.concatenate(scores)

    peer_common.train_epochs(
        fit_epoch, predict, splits, config, out,
        versions={"recbole": recbole.__version__, "torch": torch.__version__},
        extra={"applied": {"embedding_size": recbole_config["embedding_size"],
                           "train_batch_size": recbole_config["train_batch_size"],
                           "learning_rate": recbole_config["learning_rate"],
                           "mlp_hidden_size": list(recbole_config["mlp_hidden_size"]),
                           "maxlen": int(meta["maxlen"])}})


if __name__ == "__main__":
    main()
