"""DeepCTR's DIN on npurec's exported rows: one peer child of :mod:`benchmarks.peers`.

    TF_USE_LEGACY_KERAS=1 python -m benchmarks.peer_deepctr --export DIR --out DIR \
        --config '{"name": "deepctr-defaults", "epochs": 10, ...}'

DeepCTR (``pip install deepctr tf_keras``) is Keras 2 code: under TensorFlow 2.16+ it runs
with ``tf_keras`` (``TF_USE_LEGACY_KERAS=1``, set here before TensorFlow starts). It is the
cleanest comparison: the same framework on the same machine.

The model is ``deepctr.models.DIN`` with the features of DeepCTR's own DIN example: the user,
the candidate item and its category, and the history of items and categories (the same
ids, the history masked by its length). Settings it does not get in ``--config`` are
DeepCTR's documented defaults (attention units (80, 40) with Dice, MLP (256, 128, 64) with
ReLU, embedding L2 1e-6; an embedding of 4 per ``SparseFeat``), and Keras' (Adam, learning
rate 0.001).
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from benchmarks import peer_common


def _inputs(rows):
    return {"user": rows["user"].astype(np.int64), "item_id": rows["target_item"],
            "cate_id": rows["target_cat"], "hist_item_id": rows["hist_items"],
            "hist_cate_id": rows["hist_cats"], "seq_length": rows["hist_len"]}


def main():
    export, out, config = peer_common.parse_args(__doc__.split("\n")[0])
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import deepctr  # pylint: disable=import-outside-toplevel
    from deepctr.feature_column import SparseFeat, VarLenSparseFeat  # pylint: disable=C0415
    from deepctr.models import DIN  # pylint: disable=import-outside-toplevel

    meta, splits = peer_common.load_export(export)
    seed = int(config.get("seed", 0))
    np.random.seed(seed)
    tf.random.set_seed(seed)
    sizes, maxlen = meta["sizes"], int(meta["maxlen"])
    dim = int(config.get("embedding_dim", 4))
    users = int(max(int(s["user"].max()) for s in splits.values())) + 1
    columns = [SparseFeat("user", users, embedding_dim=dim),
               SparseFeat("item_id", sizes["items"], embedding_dim=dim),
               SparseFeat("cate_id", sizes["categories"], embedding_dim=dim),
               VarLenSparseFeat(SparseFeat("hist_item_id", sizes["items"], embedding_dim=dim,
                                           embedding_name="item_id"), maxlen=maxlen,
                                length_name="seq_length"),
               VarLenSparseFeat(SparseFeat("hist_cate_id", sizes["categories"],
                                           embedding_dim=dim, embedding_name="cate_id"),
                                maxlen=maxlen, length_name="seq_length")]
    options = {key: tuple(config[key]) for key in ("att_hidden_size", "dnn_hidden_units")
               if key in config}
    model = DIN(columns, ["item_id", "cate_id"], seed=seed, **options)
    model.compile(tf.keras.optimizers.Adam(float(config.get("learning_rate", 1e-3))),
                  "binary_crossentropy")
    inputs = {split: _inputs(rows) for split, rows in splits.items()}
    batch = int(config.get("batch_size", 256))

    def fit_epoch(epoch):
        model.fit(inputs["train"], splits["train"]["label"], batch_size=batch, epochs=1,
                  shuffle=True, verbose=0)

    def predict(split):
        return model.predict(inputs[split], batch_size=8192, verbose=0)

    peer_common.train_epochs(
        fit_epoch, predict, splits, config, out,
        versions={"deepctr": deepctr.__version__, "tensorflow": tf.__version__},
        extra={"applied": {"embedding_dim": dim, "batch_size": batch,
                           "learning_rate": float(config.get("learning_rate", 1e-3)),
                           "maxlen": maxlen, "options": {k: list(v) for k, v in
                                                         options.items()}}})


if __name__ == "__main__":
    main()
