"""The generators' own scorers (the ceiling reported as ``baselines.oracle``): golden values on
hand-made rows, and on small generated sets the ceiling sits above the trivial rules."""
import numpy as np
import pytest

from datasets.generators import common
from datasets.generators import behaviour_oracles, outfit_oracles
from training.tasks import ngnn_metrics


def _polyvore_root(tmp_path, styles, num_styles=4):
    keys = sorted(styles)
    np.savez(str(tmp_path / common.ORACLE_FILE), kind=np.asarray("polyvore-style"),
             keys=np.asarray(keys), style=np.asarray([styles[k] for k in keys]),
             num_styles=np.asarray(num_styles))
    return str(tmp_path), keys


def test_polyvore_oracle_golden_values(tmp_path):
    root, keys = _polyvore_root(tmp_path, {"a": 0, "b": 0, "c": 0, "d": 1})
    rows = {k: i for i, k in enumerate(keys)}
    items = np.array([[rows["a"], rows["b"], rows["c"], 0],    # one style, 3 categories
                      [rows["a"], rows["b"], rows["d"], 0],    # two styles
                      [rows["a"], rows["b"], rows["c"], 0]])   # one style, a category twice
    cats = np.array([[0, 1, 2, 0], [0, 1, 2, 0], [0, 1, 1, 0]])
    mask = np.array([[1, 1, 1, 0]] * 3, dtype=np.float32)
    original = outfit_oracles.oracle(root, keys, num_categories=10)
    scores = original(items, cats, mask)
    # (n-1) log S + n log C - log(C (C-1) (C-2)) for n=3, S=4, C=10
    expected = 2 * np.log(4) + 3 * np.log(10) - np.log(10 * 9 * 8)
    np.testing.assert_allclose(scores[0], expected)
    assert scores[1] == scores[2] == -1e9
    distinct = outfit_oracles.oracle(root, keys, 10, distinct_categories=True)
    np.testing.assert_allclose(distinct(items, cats, mask), [2 * np.log(4), -1e9,
                                                             2 * np.log(4)])


def test_no_oracle_file_means_no_ceiling(tmp_path):
    assert outfit_oracles.oracle(str(tmp_path), ["a"], 3) is None
    assert behaviour_oracles.oracle(str(tmp_path), {"items": np.asarray(["", "B1"])}) is None


def test_tie_aware_metrics():
    scores = np.array([[1.0, 1.0, 0.0, 0.0],    # tied with one other: 1/2
                       [1.0, 1.0, 1.0, 1.0],    # tied with all: 1/4
                       [2.0, 1.0, 0.0, 0.0],    # right: 1
                       [0.0, 1.0, 0.0, 0.0]])   # wrong: 0
    assert ngnn_metrics.fitb_accuracy(scores) == (0.5 + 0.25 + 1.0) / 4  # every scorer: ties shared
    assert ngnn_metrics.fitb_accuracy(scores, ties="wrong") == 0.25
    assert ngnn_metrics.pairwise_accuracy([1, 1, 0], [0, 1, 1]) == 0.5
    assert ngnn_metrics.pairwise_accuracy([1, 1, 0], [0, 1, 1], ties="wrong") == 1.0 / 3


def test_polyvore_ceiling_beats_the_rule_on_generated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks.ngnn import NGNNDataConfig, NGNNTask

    task = NGNNTask(data_config=NGNNDataConfig(synthetic_outfits=120, visual_dim=16,
                                               vocab_size=40))
    data = task.prepare(seed=0)
    base = task.baselines(data, "test")
    oracle, rule = base["oracle"], base["category_cooccurrence"]
    assert oracle["compat_auc"] > 0.97 and oracle["compat_auc"] > rule["compat_auc"]
    assert oracle["fitb_accuracy"] > rule["fitb_accuracy"] + 0.2
    # 4 styles: a wrong candidate shares the outfit's style 1 time in 4, so FITB ties remain
    assert 0.6 < oracle["fitb_accuracy"] < 0.95


def test_amazon_ceiling_beats_the_rules_on_generated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks import din_baselines
    from training.tasks.din import DINDataConfig, DINTask

    task = DINTask(data_config=DINDataConfig(synthetic_users=600))
    data = task.prepare(seed=0)
    base = task.baselines(data, "test")
    assert set(base) == set(din_baselines.RULES + din_baselines.LEARNED) | {"base_rate",
                                                                            "oracle"}
    assert base["oracle"]["auc"] > base["category_in_history"]["auc"] + 0.02
    assert base["oracle"]["auc"] > 0.95
    # in_split negatives: the candidate alone says little (uniform: popularity 0.7 and more)
    for rule in ("item_popularity", "seen_in_training", "item_positive_rate"):
        assert abs(base[rule]["auc"] - 0.5) < 0.08, (rule, base[rule])


def test_compatibility_oracle_golden_values(tmp_path):
    # 2 groups x 2 categories (0,1 | 2,3), 2 styles; pref[s, c] within each group
    pref = np.array([[0.9, 0.1, 0.5, 0.5], [0.2, 0.8, 0.3, 0.7]])
    keys = ["a", "b", "c", "d"]
    np.savez(str(tmp_path / common.ORACLE_FILE), kind=np.asarray("polyvore-compatibility"),
             keys=np.asarray(keys), style=np.asarray([1, 1, 1, 0]), num_styles=np.asarray(2),
             groups=np.asarray(2), group_of=np.asarray([0, 0, 1, 1]), pref=pref)
    scorer = outfit_oracles.oracle(str(tmp_path), keys, num_categories=4)
    items = np.array([[0, 1], [0, 3], [0, 1]])       # a+b one style; a+d two styles
    cats = np.array([[1, 2], [1, 2], [0, 1]])        # last: both from group 0
    mask = np.ones((3, 2), np.float32)
    got = scorer(items, cats, mask)
    mass = pref.sum(axis=0)
    want = -np.log(2) - np.log(2 * 1) + 2 * np.log(4) + np.log(mass[1]) + np.log(mass[2])
    np.testing.assert_allclose(got[0], want)
    assert got[1] == got[2] == -1e9


def test_compatibility_generator_is_real_format_and_its_ceiling_beats_the_rule(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path))
    from training.tasks.ngnn import NGNNDataConfig, NGNNTask

    task = NGNNTask(data_config=NGNNDataConfig(synthetic_kind="compatibility",
                                               synthetic_outfits=300, visual_dim=16,
                                               vocab_size=60))
    data = task.prepare(seed=0)
    assert data.num_categories == 40 and len(data.splits["train"]["items"]) == 300
    base = task.baselines(data, "test")
    oracle, rule = base["oracle"], base["category_cooccurrence"]
    # categories carry signal here (unlike the style generator): the rule is well above chance
    assert rule["compat_auc"] > 0.8 and rule["fitb_accuracy"] > 0.4
    assert oracle["compat_auc"] > rule["compat_auc"]
    assert oracle["fitb_accuracy"] > rule["fitb_accuracy"] + 0.1


def test_fitb_mrr_golden_value():
    scores = np.array([[3.0, 1.0, 2.0, 0.0],    # rank 1
                       [1.0, 2.0, 0.0, 0.0],    # rank 2
                       [1.0, 1.0, 2.0, 0.0]])   # tie + one above: rank 2 or 3
    assert ngnn_metrics.fitb_mrr(scores, ties="wrong") == (1.0 + 0.5 + 1.0 / 3.0) / 3
    assert ngnn_metrics.fitb_mrr(scores) == pytest.approx((1.0 + 0.5 + (0.5 + 1.0 / 3.0) / 2) / 3)
