"""NGNN layers and model: golden values against a slow reference, masking, invariance, saving."""

import numpy as np
import pytest
import tensorflow as tf

from models.ngnn_layers import (CategoryBagProjection, CategoryPairs, CategoryProjection,
                           CooccurrencePrior, NodeWiseGGNN, OutfitReadout, category_counts)
from models.ngnn import NGNN, consistency_loss, ranking_loss
from core import compat

C, H = 5, 3


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_step(h, cats, mask, w_out, b_out, w_in, b_in, kernel, recurrent, bias, adjacency):
    """One message-passing step, written the slow obvious way (explicit loops, dense A)."""
    n = len(cats)
    new_h = np.zeros_like(h)
    for i in range(n):
        if not mask[i]:
            continue
        incoming = np.zeros(h.shape[1])
        for j in range(n):
            if j != i and mask[j]:
                incoming += adjacency[i, j] * (h[j].dot(w_out[cats[j]]) + b_out[cats[j]])
        m = incoming.dot(w_in[cats[i]]) + b_in[cats[i]]
        x = m.dot(kernel) + bias
        r_x = h[i].dot(recurrent)
        units = h.shape[1]
        z = _sigmoid(x[:units] + r_x[:units])
        r = _sigmoid(x[units:2 * units] + r_x[units:2 * units])
        cand = np.tanh(x[2 * units:] + r * r_x[2 * units:])
        new_h[i] = (1 - z) * h[i] + z * cand
    return new_h


def _random_weights(layer, seed):
    rng = np.random.RandomState(seed)
    for var in layer.trainable_weights:
        var.assign(rng.normal(0, 0.5, size=var.shape).astype(np.float32))


@pytest.mark.parametrize("edges", ["binary", "cooccurrence"])
def test_one_message_passing_step_matches_slow_reference(edges):
    layer = NodeWiseGGNN(C, H, steps=1, edges=edges)
    layer.build()
    _random_weights(layer, 0)
    rng = np.random.RandomState(1)
    edge_matrix = rng.uniform(0.1, 1.0, size=(C, C)).astype(np.float32)
    if edges == "cooccurrence":
        layer.set_edge_weights(edge_matrix)
    h = rng.normal(size=(1, 4, H)).astype(np.float32)
    cats = np.array([[2, 0, 4, 0]], np.int32)
    mask = np.array([[1, 1, 1, 0]], np.float32)  # a 3-node outfit plus one padding slot
    h[0, 3] = 0.0
    got = layer(h, cats, mask).numpy()[0]
    adjacency = np.ones((4, 4)) if edges == "binary" else edge_matrix[cats[0][:, None],
                                                                      cats[0][None, :]]
    w = {v.name.split("/")[-1].split(":")[0]: v.numpy() for v in layer.weights}
    want = reference_step(h[0], cats[0], mask[0], w["w_out"], w["b_out"], w["w_in"], w["b_in"],
                          w["gru_kernel"], w["gru_recurrent"], w["gru_bias"], adjacency)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.all(got[3] == 0.0)


@pytest.mark.parametrize("static_shapes", [False, True])
def test_category_projection_matches_per_node_matmul(static_shapes):
    layer = CategoryProjection(C, 6, H, static_shapes=static_shapes)
    layer.build()
    _random_weights(layer, 2)
    rng = np.random.RandomState(3)
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    cats = rng.randint(C, size=(2, 4)).astype(np.int32)
    got = layer(x, cats).numpy()
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    for b in range(2):
        for n in range(4):
            want = x[b, n].dot(kernel[cats[b, n]]) + bias[cats[b, n]]
            np.testing.assert_allclose(got[b, n], want, rtol=1e-5, atol=1e-5)


def test_bag_projection_equals_multi_hot_matmul():
    vocab = 7
    layer = CategoryBagProjection(C, vocab, H)
    layer.build()
    _random_weights(layer, 4)
    ids = np.array([[[1, 5, 0], [2, 0, 0]]], np.int32)
    word_mask = np.array([[[1, 1, 0], [1, 0, 0]]], np.float32)
    cats = np.array([[3, 1]], np.int32)
    got = layer(ids, word_mask, cats).numpy()[0]
    table = layer.table.numpy().reshape(C, vocab, H)
    for n in range(2):
        hot = np.zeros(vocab)
        hot[ids[0, n][word_mask[0, n] > 0]] = 1
        np.testing.assert_allclose(got[n], hot.dot(table[cats[0, n]]) + layer.bias.numpy()[cats[0, n]],
                                   rtol=1e-5, atol=1e-6)


def _inputs(rng, batch=3, nodes=8, feat=16, vocab=11, words=4, present=(5, 3, 8)):
    mask = np.zeros((batch, nodes), np.float32)
    for b, k in enumerate(present[:batch]):
        mask[b, :k] = 1
    return {"visual": rng.normal(size=(batch, nodes, feat)).astype(np.float32),
            "text_ids": rng.randint(vocab, size=(batch, nodes, words)).astype(np.int32),
            "text_mask": (rng.uniform(size=(batch, nodes, words)) < 0.7).astype(np.float32),
            "cats": rng.randint(C, size=(batch, nodes)).astype(np.int32),
            "mask": mask}


def _model(**kwargs):
    model = NGNN(C, visual_dim=16, vocab_size=11, hidden=H, **kwargs)
    model.build()
    return model


def test_padding_nodes_change_nothing():
    model = _model()
    inputs = _inputs(np.random.RandomState(0))
    base = model(inputs).numpy()
    noisy = dict(inputs)
    rng = np.random.RandomState(9)
    pad = (inputs["mask"] == 0)
    noisy["visual"] = np.where(pad[..., None], rng.normal(size=inputs["visual"].shape) * 100,
                               inputs["visual"]).astype(np.float32)
    noisy["cats"] = np.where(pad, rng.randint(C, size=pad.shape), inputs["cats"]).astype(np.int32)
    noisy["text_ids"] = np.where(pad[..., None], 3, inputs["text_ids"]).astype(np.int32)
    np.testing.assert_allclose(model(noisy).numpy(), base, rtol=1e-5, atol=1e-5)


def test_outfit_score_is_permutation_invariant():
    model = _model(edges="binary")
    inputs = _inputs(np.random.RandomState(1), present=(8, 8, 8))
    perm = np.random.RandomState(2).permutation(8)
    shuffled = {k: v[:, perm] for k, v in inputs.items()}
    np.testing.assert_allclose(model(shuffled).numpy(), model(inputs).numpy(), rtol=1e-5,
                               atol=1e-5)


def test_modalities_and_beta():
    inputs = _inputs(np.random.RandomState(3))
    both = _model(beta=0.2)
    visual = _model(modalities="visual")
    textual = _model(modalities="textual")
    visual.set_weights([both.get_weights()[i] for i in range(len(visual.get_weights()))])
    textual.set_weights(both.get_weights()[len(visual.get_weights()):])
    want = 0.2 * visual(inputs).numpy() + 0.8 * textual(inputs).numpy()
    np.testing.assert_allclose(both(inputs).numpy(), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="modalities"):
        NGNN(C, modalities="audio")


def test_losses():
    pos, neg = tf.constant([2.0, 0.0]), tf.constant([0.0, 0.0])
    np.testing.assert_allclose(ranking_loss(pos, neg).numpy(), -_sigmoid(np.array([2.0, 0.0])),
                               rtol=1e-6)
    np.testing.assert_allclose(ranking_loss(pos, neg, "bpr").numpy(),
                               np.log1p(np.exp(-np.array([2.0, 0.0]))), rtol=1e-6)
    hv = tf.constant([[[1.0, 0.0], [0.0, 0.0]]])
    ht = tf.constant([[[0.0, 0.0], [5.0, 5.0]]])
    np.testing.assert_allclose(consistency_loss(hv, ht, tf.constant([[1.0, 0.0]])).numpy(), [1.0])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_forward_is_finite_and_float32(policy):
    compat.set_global_policy(policy)
    model = _model()
    assert model.visual_projection.kernel.dtype == tf.float32
    score = model(_inputs(np.random.RandomState(4)))
    assert score.dtype == tf.float32 and np.all(np.isfinite(score.numpy()))


def test_config_round_trip_and_save_load(tmp_path):
    model = _model(edges="cooccurrence", beta=0.3)
    model.set_edge_weights(np.random.RandomState(0).uniform(size=(C, C)))
    inputs = _inputs(np.random.RandomState(5))
    clone = NGNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    want = model(inputs).numpy()  # Keras 2 saves the signature of a model that has been called
    path = str(tmp_path / ("ngnn" + compat.model_file_suffix()))
    compat.save_model(model, path)
    loaded = compat.load_model(path)
    np.testing.assert_allclose(loaded(inputs).numpy(), want, rtol=1e-6, atol=1e-6)


def _replacement(rng, batch=3):
    """One replacement item per outfit of :func:`_inputs` (for ``score_pairs``)."""
    return {"visual": rng.normal(size=(batch, 16)).astype(np.float32),
            "text_ids": rng.randint(11, size=(batch, 4)).astype(np.int32),
            "text_mask": np.ones((batch, 4), np.float32),
            "cats": rng.randint(C, size=batch).astype(np.int32)}


def test_score_pairs_equals_scoring_both_outfits():
    model = _model(edges="binary")
    rng = np.random.RandomState(6)
    inputs = _inputs(rng)
    replacement = _replacement(rng)
    slot = np.array([1, 0, 7], np.int32)
    pos, neg, h0v, h0t = model.score_pairs(inputs, replacement, slot)
    negative = {k: v.copy() for k, v in inputs.items()}
    for b, s in enumerate(slot):
        for key in ("visual", "text_ids", "text_mask", "cats"):
            negative[key][b, s] = replacement[key][b]
    np.testing.assert_allclose(pos.numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(neg.numpy(), model(negative).numpy(), rtol=1e-5, atol=1e-5)
    _, want_v, want_t = model.score_with_states(inputs)
    np.testing.assert_allclose(h0v.numpy(), want_v.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h0t.numpy(), want_t.numpy(), rtol=1e-5, atol=1e-6)


def test_mean_readout_is_the_sum_over_the_node_count():
    rng = np.random.RandomState(7)
    h = rng.normal(size=(2, 8, H)).astype(np.float32)
    mask = np.zeros((2, 8), np.float32)
    mask[0, :3], mask[1, :8] = 1, 1
    total, mean = OutfitReadout(H), OutfitReadout(H, "mean")
    total.build(None)
    mean.build(None)
    mean.set_weights(total.get_weights())
    np.testing.assert_allclose(mean(h, mask).numpy(), total(h, mask).numpy() / [3.0, 8.0],
                               rtol=1e-6)
    # golden: one node, w_conf = w_score = 1, zero biases -> sigmoid(s) * leaky_relu(s)
    total.set_weights([np.ones((H, 1)), np.zeros(1), np.ones((H, 1)), np.zeros(1)])
    one = np.zeros((1, 8, H), np.float32)
    one[0, 0] = [1.0, 0.5, 0.5]
    np.testing.assert_allclose(total(one, mask[:1] * 0 + np.eye(8)[0]).numpy(),
                               [_sigmoid(2.0) * 2.0], rtol=1e-6)
    with pytest.raises(ValueError, match="reduce"):
        OutfitReadout(H, "max")


def test_category_pairs_golden_value():
    layer = CategoryPairs(3)
    layer.build(None)
    table = np.array([[1.0, 2.0, 0.0], [4.0, -1.0, 0.0], [0.0, 6.0, 3.0]], np.float32)
    layer.set_weights([table])
    sym = 0.5 * (table + table.T)  # [[1, 3, 0], [3, -1, 3], [0, 3, 3]]
    cats = np.array([[0, 1, 1, 2], [2, 0, 0, 0]], np.int32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    # outfit 0: pairs (0,1) (0,1) (1,1) -> mean of 3, 3, -1 over both orders; outfit 1: (2,0)
    want = [(3.0 + 3.0 + -1.0) / 3.0, sym[2, 0]]
    np.testing.assert_allclose(layer(cats, mask).numpy(), want, rtol=1e-6)


def test_new_options_round_trip_and_start_from_the_papers_model():
    inputs = _inputs(np.random.RandomState(8))
    plain = _model()
    extended = _model(category_pairs=True)
    extended.set_weights(plain.get_weights() + [np.zeros((C, C), np.float32)])
    # the pair table starts at zero: the extended model scores like the paper's at first
    np.testing.assert_allclose(extended(inputs).numpy(), plain(inputs).numpy(), rtol=1e-6)
    model = _model(category_pairs=True, readout="mean")
    clone = NGNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.get_config()["readout"] == "mean" and clone.get_config()["category_pairs"]


def test_sublayers_take_the_models_dtype_policy_not_the_global_one():
    """NGNN(dtype="mixed_float16") under a float32 global policy: every branch layer
    (projections, GGNNs, readouts, category table) computes in float16, weights stay float32."""
    assert compat.global_policy_name() == "float32"
    model = _model(dtype="mixed_float16", category_pairs=True)
    # every nested layer (private, but the same call in Keras 2 and 3)
    layers = list(model._flatten_layers(include_self=False, recursive=True))  # pylint: disable=protected-access
    assert len(layers) >= 7
    for layer in layers:
        assert layer.compute_dtype == tf.float16, layer.name
    assert all(v.dtype == tf.float32 for v in model.trainable_variables)
    scores = model(_inputs(np.random.RandomState(0)))
    assert np.all(np.isfinite(np.asarray(scores, np.float32)))


@pytest.mark.parametrize("rows_per_batch", [3, 40])  # both kernel-gradient paths (<= and >
def test_category_projection_gradients_match_per_node_einsum(rows_per_batch):  # OUTER_SUM_ROWS)
    """Values and gradients (kernel, bias, inputs) of the partitioned projection, whose kernel
    gradient is a custom one, equal the per-node einsum's autodiff; padding nodes get none."""
    from models import ngnn_layers as layers

    batch = rows_per_batch * layers.OUTER_SUM_ROWS // 32  # 24 or 320 rows of 8 nodes
    rng = np.random.RandomState(5)
    x = tf.constant(rng.normal(size=(batch // 8, 8, 6)).astype(np.float32))
    cats = rng.randint(C, size=(batch // 8, 8)).astype(np.int32)
    mask = (rng.rand(batch // 8, 8) > 0.25).astype(np.float32)
    results = []
    for static_shapes in (False, True):
        layer = CategoryProjection(C, 6, H, static_shapes=static_shapes)
        layer.build()
        _random_weights(layer, 2)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, cats, mask)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, [layer.kernel, layer.bias, x])
        results.append([y.numpy()] + [tf.convert_to_tensor(g).numpy() for g in grads])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert np.all(results[0][3][mask == 0] == 0.0)  # no gradient reaches padding nodes


def _slow_prior(counts, frequency, outfits, mix, cats, mask, own=None):
    """The prior of one outfit written out pair by pair."""
    real = [c for c, m in zip(cats, mask) if m]
    counts = counts.astype(np.float64).copy()
    frequency = frequency.astype(np.float64).copy()
    if own is not None:
        counts -= np.outer(own, own)
        frequency -= np.minimum(own, 1)
        outfits -= 1
    counts, frequency = np.maximum(counts, 0), np.maximum(frequency, 0)
    p = (frequency + 1) / (outfits + len(frequency))
    rule, pmi = [], []
    for i, a in enumerate(real):
        for j, b in enumerate(real):
            if i != j:
                rule.append(np.log1p(counts[a, b]))
                pmi.append(np.log((counts[a, b] + p[a] * p[b]) / outfits / (p[a] * p[b])))
    common = np.mean([np.log1p(frequency[c]) for c in real])
    rule, pmi = (np.mean(rule), np.mean(pmi)) if rule else (0.0, 0.0)
    return mix[0] * rule + mix[1] * pmi + mix[2] * common


def test_cooccurrence_prior_starts_as_the_rule_and_leaves_the_own_outfit_out():
    """Mix (1, 0, 0): the prior scores exactly as the co-occurrence rule (training.tasks.ngnn);
    every statistic matches a pair-by-pair reference, with and without the own outfit."""
    from training.tasks.ngnn import cooccurrence_scores  # pylint: disable=import-outside-toplevel

    cooc = np.array([[0, 3, 0], [3, 0, 1], [0, 1, 0]], np.float32)
    frequency, outfits = np.array([4, 5, 1], np.float32), 6
    layer = CooccurrencePrior(3)
    layer.set_counts(cooc, frequency, outfits)
    cats = np.array([[0, 1, 2, 0], [0, 2, 0, 0]], np.int32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    np.testing.assert_allclose(layer(cats, mask).numpy(),
                               cooccurrence_scores(cooc)(cats, mask), rtol=1e-6)
    own = category_counts(cats, mask, 3).numpy()
    np.testing.assert_allclose(own, [[1, 1, 1], [1, 0, 1]])
    # outfit 0 without its own pairs: counts 01 -> 2, 02 -> 0 (clipped from -1), 12 -> 0
    np.testing.assert_allclose(layer(cats, mask, own).numpy()[0], 2 * np.log(3) / 6, atol=1e-6)
    mix = np.array([0.5, 1.5, -2.0], np.float32)
    layer.mix.assign(mix)
    for leave_out in (None, own):
        got = layer(cats, mask, leave_out).numpy()
        want = [_slow_prior(cooc, frequency, outfits, mix, cats[b], mask[b],
                            None if leave_out is None else leave_out[b]) for b in range(2)]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_score_pairs_leave_one_out_subtracts_the_positive_outfits_pairs():
    rng = np.random.RandomState(11)
    model = _model(cooccurrence_prior=True, readout="mean")
    counts = rng.randint(0, 6, size=(C, C)).astype(np.float32)
    counts = counts + counts.T
    model.set_cooccurrence(counts, rng.randint(5, 9, size=C).astype(np.float32), 10)
    model.prior.mix.assign([1.0, 0.5, 0.3])
    inputs = _inputs(rng)
    replacement = _replacement(rng)
    slot = np.array([1, 0, 2], np.int32)
    pos, neg, _, _ = model.score_pairs(inputs, replacement, slot)
    pos_loo, neg_loo, _, _ = model.score_pairs(inputs, replacement, slot, leave_one_out=True)
    prior = model.prior
    for b in range(3):
        own = np.zeros(C, np.float32)
        np.add.at(own, inputs["cats"][b][inputs["mask"][b] > 0], 1.0)
        negative_cats = inputs["cats"][b:b + 1].copy()
        negative_cats[0, slot[b]] = replacement["cats"][b]
        for full, loo, cats in ((pos, pos_loo, inputs["cats"][b:b + 1]),
                                (neg, neg_loo, negative_cats)):
            m = inputs["mask"][b:b + 1]
            change = (prior(cats, m, own[None]) - prior(cats, m)).numpy()[0]
            np.testing.assert_allclose(loo.numpy()[b] - full.numpy()[b], change, atol=1e-5)
    assert float(np.abs(pos_loo.numpy() - pos.numpy()).max()) > 1e-3  # the option reaches it


@pytest.mark.parametrize("static_shapes", [False, True])
def test_shared_projection_starts_as_one_map_for_every_category(static_shapes):
    layer = CategoryProjection(C, 6, H, static_shapes=static_shapes, shared=True)
    layer.build()
    rng = np.random.RandomState(12)
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    cats = rng.randint(C, size=(2, 4)).astype(np.int32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.float32)
    # per-category part at zero: every category maps x the same way
    want = x.dot(layer.shared_kernel.numpy()) * mask[..., None]
    np.testing.assert_allclose(layer(x, cats, mask).numpy(), want, rtol=1e-5, atol=1e-6)
    assert float(layer.category_penalty()) == 0.0
    kernel = rng.normal(size=(C, 6, H)).astype(np.float32)
    layer.kernel.assign(kernel)
    per_node = np.einsum("bnf,bnfh->bnh", x, kernel[cats])
    np.testing.assert_allclose(layer(x, cats, mask).numpy(), want + per_node * mask[..., None],
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(layer.category_penalty()), (kernel ** 2).sum(), rtol=1e-5)
    bag = CategoryBagProjection(C, 11, H, shared=True)
    bag.build()
    ids = rng.randint(11, size=(2, 4, 3)).astype(np.int32)
    word_mask = np.ones((2, 4, 3), np.float32)
    np.testing.assert_allclose(bag(ids, word_mask, cats).numpy(),
                               bag.shared_table.numpy()[ids].sum(axis=2), rtol=1e-5, atol=1e-6)


def test_prior_and_shared_options_round_trip():
    model = _model(cooccurrence_prior=True, shared_projection=True)
    clone = NGNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.get_config()["cooccurrence_prior"] and clone.get_config()["shared_projection"]
    with pytest.raises(ValueError, match="cooccurrence_prior"):
        _model().set_cooccurrence(np.zeros((C, C)), np.zeros(C), 1)


def test_input_dropout_acts_in_training_only():
    inputs = _inputs(np.random.RandomState(13))
    plain = _model(shared_projection=True)
    dropped = _model(shared_projection=True, input_dropout=0.5)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(dropped(inputs, training=False).numpy(), plain(inputs).numpy(),
                               rtol=1e-6)
    tf.random.set_seed(0)
    noisy = dropped.score_with_states(inputs, training=True)[0].numpy()
    assert float(np.abs(noisy - plain(inputs).numpy()).max()) > 1e-4
    with pytest.raises(ValueError, match="input_dropout"):
        _model(input_dropout=1.0)


def test_prior_leaves_out_exactly_the_outfits_own_pairs_when_a_category_repeats():
    """Two training outfits [0, 0, 1] and [0, 0, 2]: category 0 pairs with itself twice in
    each (the counts' diagonal is 4). Scoring the first with its own pairs left out must keep
    the other outfit's 2 (a product of counts would take 4 off: nothing would be left)."""
    from datasets import outfit_data  # pylint: disable=import-outside-toplevel
    from models.ngnn_layers import CooccurrencePrior  # pylint: disable=import-outside-toplevel
    packed = {"cats": np.array([[0, 0, 1], [0, 0, 2]], np.int32),
              "mask": np.ones((2, 3), np.float32)}
    counts = outfit_data.cooccurrence(packed, 3)
    assert counts[0, 0] == 4 and counts[0, 1] == 2 and counts[1, 2] == 0
    prior = CooccurrencePrior(3)
    prior.set_counts(counts, outfit_data.category_frequency(packed, 3), 2)
    cats, mask = packed["cats"][:1], packed["mask"][:1]
    left_out = float(prior(cats, mask, own=np.array([[2.0, 1.0, 0.0]]))[0])
    assert left_out == pytest.approx(2 * np.log1p(2.0) / 6)  # (0,0) twice: 2 left; (0,1): 0
    assert float(prior(cats, mask)[0]) == pytest.approx(
        (2 * np.log1p(4.0) + 4 * np.log1p(2.0)) / 6)
