"""The real-structure generator: real outfit lists and categories, generated item vectors,
the co-occurrence rule as strong as on real Polyvore, and a ceiling above it."""
import json
import os

import numpy as np
import pytest

from core.errors import DataError
from datasets.generators import common, real_outfits
from datasets import polyvore as pv
from tests.conftest import SHARED, SHARED_REASON

POLYVORE = os.path.join(SHARED, "data", "polyvore")
needs_shared = pytest.mark.skipif(not os.path.isdir(POLYVORE), reason=SHARED_REASON)


@needs_shared
def test_outfits_are_real_and_the_rule_is_strong(tmp_path):
    from training.tasks.ngnn import NGNNDataConfig, NGNNTask  # pylint: disable=C0415

    root = real_outfits.generate(POLYVORE, n_train=600, n_valid=100, n_test=200,
                                 visual_dim=32, vocab_size=800, directory=str(tmp_path / "d"))
    real = {o["set_id"]: o for o in json.load(open(os.path.join(POLYVORE, pv.TRAIN_FILE)))}
    real_test = {o["set_id"]: o for o in json.load(open(os.path.join(POLYVORE, pv.TEST_FILE)))}
    made = {name: json.load(open(os.path.join(root, name)))
            for name in (pv.TRAIN_FILE, pv.VALID_FILE, pv.TEST_FILE)}
    assert [len(made[n]) for n in (pv.TRAIN_FILE, pv.VALID_FILE, pv.TEST_FILE)] == [600, 100, 200]
    for name, source in ((pv.TRAIN_FILE, real), (pv.VALID_FILE, real), (pv.TEST_FILE, real_test)):
        for outfit in made[name]:  # the same set, items and categories as the real list
            assert outfit == source[outfit["set_id"]]
    train_ids = {o["set_id"] for o in made[pv.TRAIN_FILE]}
    assert not train_ids & {o["set_id"] for o in made[pv.VALID_FILE]}
    data = pv.load(root, str(tmp_path / "stores"), synthetic=True, visual_dim=32,
                   vocab_size=800)
    assert data.num_categories == 120
    task = NGNNTask(data_config=NGNNDataConfig())
    test = task.baselines(data, "test")
    rule, ceiling = test["category_cooccurrence"], test["oracle"]
    # real structure: the rule is strong even from 600 outfits (0.94 on real Polyvore)
    assert rule["compat_auc"] > 0.85
    for metric in ("fitb_accuracy", "compat_auc", "pairwise_accuracy"):
        assert ceiling[metric] > rule[metric], metric
    # the same parameters give the same directory content (content-keyed, deterministic)
    again = real_outfits.generate(POLYVORE, n_train=600, n_valid=100, n_test=200,
                                  visual_dim=32, vocab_size=800, directory=str(tmp_path / "e"))
    for name in (pv.TRAIN_FILE, common.ORACLE_FILE):
        assert open(os.path.join(root, name), "rb").read() == \
            open(os.path.join(again, name), "rb").read()


def test_oracle_scores_one_palette_above_independent_items(tmp_path):
    """The exact Gaussian ratio: items sharing a palette score above independent items, an
    unknown item or a repeated category scores -1e9."""
    rng = np.random.RandomState(0)
    palette = rng.normal(size=4)
    shared = palette + 0.3 * rng.normal(size=(3, 4))
    independent = rng.normal(size=(3, 4)) * np.sqrt(1 + 0.09)
    saved = {"keys": np.asarray(["a", "b", "c", "x", "y", "z"]),
             "latent": np.concatenate([shared, independent]).astype(np.float32),
             "spread": np.asarray(0.3), "cooc": np.ones((3, 3)), "outfits": np.asarray(10),
             "frequency": np.full(3, 5.0)}
    np.savez(str(tmp_path / common.ORACLE_FILE), kind=np.asarray(real_outfits.KIND), **saved)
    scorer = real_outfits.oracle(str(tmp_path), ["a", "b", "c", "x", "y", "z", "new"], 3)
    cats = np.array([[0, 1, 2], [0, 1, 2], [0, 0, 2], [0, 1, 2]])
    items = np.array([[0, 1, 2], [3, 4, 5], [0, 1, 2], [0, 1, 6]])
    scores = scorer(items, cats, np.ones((4, 3)))
    assert scores[0] > scores[1] > -1e8
    assert scores[2] == -1e9 and scores[3] == -1e9


def test_missing_lists_are_named(tmp_path):
    with pytest.raises(DataError, match=pv.TRAIN_FILE):
        real_outfits.structure_dir(str(tmp_path))
