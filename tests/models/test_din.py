"""DIN layers and model: golden values, masking, mixed precision, MBA, serialisation."""
import numpy as np
import pytest
import tensorflow as tf

from models.din import DIN
from models.din_layers import Dice, LocalActivationUnit
from core import compat
from training.tasks import din_metrics


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_dice_golden_values_training_and_inference():
    layer = Dice(epsilon=1e-8, momentum=0.5)
    x = np.array([[1.0, -2.0], [3.0, 2.0]], np.float32)
    layer.build(x.shape)
    layer.alpha.assign([0.5, 0.25])
    out = layer(x, training=True).numpy()
    mean, var = x.mean(0), x.var(0)
    p = _sigmoid((x - mean) / np.sqrt(var + 1e-8))
    np.testing.assert_allclose(out, p * x + (1 - p) * np.array([0.5, 0.25]) * x, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * var, rtol=1e-6)
    # inference uses the running statistics, not the batch's
    out = layer(x, training=False).numpy()
    p = _sigmoid((x - 0.5 * mean) / np.sqrt(0.5 + 0.5 * var + 1e-8))
    np.testing.assert_allclose(out, p * x + (1 - p) * np.array([0.5, 0.25]) * x, rtol=1e-5)


def _ones_unit(softmax=False):
    unit = LocalActivationUnit(units=(2,), activation="linear", softmax=softmax)
    q = np.array([[1.0, 2.0]], np.float32)
    k = np.array([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]], np.float32)
    mask = np.array([[1.0, 1.0, 0.0]], np.float32)
    unit(q, k, mask)
    for var in unit.trainable_weights:
        var.assign(np.ones(var.shape, np.float32) * (0.0 if "bias" in var.name else 1.0))
    return unit, q, k, mask


def test_activation_unit_golden_values_and_masking():
    unit, q, k, mask = _ones_unit()
    got = unit(q, k, mask).numpy()[0]
    # all-ones weights: each hidden unit = sum([q, k, q-k, q*k]); output = 2 * that sum
    want = []
    for j in range(2):
        feats = np.concatenate([q[0], k[0, j], q[0] - k[0, j], q[0] * k[0, j]])
        want.append(2 * feats.sum())
    np.testing.assert_allclose(got[:2], want, rtol=1e-6)
    assert got[2] == 0.0  # a masked position weighs exactly 0
    soft, q, k, mask = _ones_unit(softmax=True)
    w = soft(q, k, mask).numpy()[0]
    e = np.exp(np.array(want) - max(want))
    np.testing.assert_allclose(w[:2], e / e.sum(), rtol=1e-5)
    assert w[2] == 0.0
    empty = soft(q, k, np.zeros_like(mask)).numpy()
    assert np.all(empty == 0.0)


def _unit_pair(softmax, activation="sigmoid"):
    """The same attention unit twice, packed and scoring every slot, with equal weights."""
    rng = np.random.RandomState(5)
    q = rng.normal(size=(5, 4)).astype(np.float32)
    k = rng.normal(size=(5, 7, 4)).astype(np.float32)
    mask = (np.arange(7)[None, :] < np.array([7, 3, 0, 1, 5])[:, None]).astype(np.float32)
    static = LocalActivationUnit((6, 3), activation=activation, softmax=softmax)
    packed = LocalActivationUnit((6, 3), activation=activation, softmax=softmax, packed=True)
    static(q, k, mask)
    packed(q, k, mask)
    packed.set_weights([rng.normal(size=w.shape) for w in static.get_weights()])
    static.set_weights(packed.get_weights())
    return static, packed, q, k, mask


@pytest.mark.parametrize("softmax", [False, True])
def test_packed_attention_equals_scoring_every_slot(softmax):
    """Packing the real positions (CPU/GPU) must give the same weights and gradients as the
    static-shape unit (NPU), an empty history (row 2) included, eagerly and compiled."""
    static, packed, q, k, mask = _unit_pair(softmax)
    assert packed.packed and not static.packed

    def run(unit):
        keys, query = tf.constant(k), tf.constant(q)
        with tf.GradientTape() as tape:
            tape.watch([keys, query])
            weights = unit(query, keys, mask)
            loss = tf.reduce_sum(weights * np.arange(35, dtype=np.float32).reshape(5, 7))
        grads = tape.gradient(loss, [keys, query] + unit.trainable_weights)
        return [weights] + [tf.convert_to_tensor(g) for g in grads]

    for call in (run, tf.function(run)):
        want, got = call(static), call(packed)
        for a, b in zip(want, got):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(got[0].numpy()[mask == 0] == 0.0)  # padding weighs exactly 0


@pytest.mark.parametrize("activation", ["dice", "prelu"])
def test_units_that_are_not_position_wise_are_never_packed(activation):
    """Dice's batch statistics include the padding and Keras' PReLU has a slope per slot, so
    packing would change them: the unit scores every slot whatever ``packed`` says."""
    unit = LocalActivationUnit((6, 3), activation=activation, packed=True)
    assert unit.packed is False


def test_din_static_shapes_only_changes_how_the_attention_runs():
    """DIN(static_shapes=True) (the NPU's) and the default packed DIN give the same logits
    from the same weights."""
    packed = DIN(30, 5, embedding_dim=4)
    static = DIN(30, 5, embedding_dim=4, static_shapes=True)
    packed.build()
    static.build()
    static.set_weights(packed.get_weights())
    assert packed.attention.packed and not static.attention.packed
    batch = _batch(np.random.RandomState(2))
    np.testing.assert_allclose(packed(batch).numpy(), static(batch).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert DIN.from_config(static.get_config()).static_shapes is True


def _batch(rng, batch=4, length=6, items=30, cats=5):
    lens = np.array([6, 3, 0, 1][:batch], np.int32)
    hist = rng.randint(1, items, size=(batch, length)).astype(np.int32)
    hcat = rng.randint(1, cats, size=(batch, length)).astype(np.int32)
    slots = np.arange(length)[None, :] < lens[:, None]
    return {"hist_items": np.where(slots, hist, 0).astype(np.int32),
            "hist_cats": np.where(slots, hcat, 0).astype(np.int32), "hist_len": lens,
            "target_item": rng.randint(1, items, size=batch).astype(np.int32),
            "target_cat": rng.randint(1, cats, size=batch).astype(np.int32)}


@pytest.mark.parametrize("pooling, recency, stats", [("attention", 0, False), ("sum", 0, False),
                                                     ("attention", 4, True)])
def test_padding_changes_nothing(pooling, recency, stats):
    model = DIN(30, 5, embedding_dim=4, pooling=pooling, recency=recency, history_stats=stats)
    model.build()
    if recency:
        model.recency_embedding.assign(np.random.RandomState(3).normal(size=(recency, 8)))
    batch = _batch(np.random.RandomState(0))
    base = model(batch).numpy()
    noisy = dict(batch)
    slots = np.arange(6)[None, :] < batch["hist_len"][:, None]
    noisy["hist_items"] = np.where(slots, batch["hist_items"], 7).astype(np.int32)
    noisy["hist_cats"] = np.where(slots, batch["hist_cats"], 3).astype(np.int32)
    np.testing.assert_allclose(model(noisy).numpy(), base, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(base))  # the empty history (row 2) included


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_forward_is_finite(policy):
    compat.set_global_policy(policy)
    model = DIN(30, 5, embedding_dim=4, attention_softmax=True)
    model.build()
    assert model.item_embedding.dtype == tf.float32
    logits = model(_batch(np.random.RandomState(1)), training=True)
    assert logits.dtype == tf.float32 and np.all(np.isfinite(logits.numpy()))
    dice = [l for l in model.mlp if isinstance(l, Dice)][0]
    assert dice.alpha.dtype == tf.float32 and dice.moving_mean.dtype == tf.float32


def test_mini_batch_aware_regularisation_golden_value():
    model = DIN(6, 3, embedding_dim=2, pooling="sum", mba_l2=0.5)
    model.build()
    emb = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    cemb = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    model.item_embedding.assign(emb)
    model.category_embedding.assign(cemb)
    item_freq = np.array([1, 2, 4, 1, 1, 5], np.float32)
    cat_freq = np.array([1, 3, 2], np.float32)
    model.set_frequencies(item_freq, cat_freq)
    batch = {"hist_items": np.array([[1, 2, 0], [2, 2, 3]], np.int32),
             "hist_cats": np.array([[1, 1, 0], [1, 1, 2]], np.int32),
             "hist_len": np.array([2, 3], np.int32),
             "target_item": np.array([5, 1], np.int32), "target_cat": np.array([2, 1], np.int32)}
    model(batch, training=True)
    assert len(model.losses) == 1
    items, cats = {1, 2, 3, 5}, {1, 2}  # distinct non-padding rows used by the batch
    want = sum((emb[i] ** 2).sum() / item_freq[i] for i in items) + sum(
        (cemb[c] ** 2).sum() / cat_freq[c] for c in cats)
    np.testing.assert_allclose(float(model.losses[0]), 0.5 * want, rtol=1e-5)
    model(batch, training=False)
    assert not model.losses


def test_recency_lets_the_order_of_the_history_matter():
    """Without recency the unit sees a set (a permuted history scores the same); with it,
    the same items in another order score differently, and the LAST real item is the one at
    distance 0 whatever the padding. Seeded: how far the scores move depends on the initial
    weights, which otherwise depend on what ran before in the process."""
    compat.set_seed(0)
    batch = _batch(np.random.RandomState(4))
    reversed_ = dict(batch)
    for key in ("hist_items", "hist_cats"):
        rows = batch[key].copy()
        for r, n in enumerate(batch["hist_len"]):
            rows[r, :n] = rows[r, :n][::-1]
        reversed_[key] = rows
    plain = DIN(30, 5, embedding_dim=4)
    plain.build()
    np.testing.assert_allclose(plain(reversed_).numpy(), plain(batch).numpy(), rtol=1e-5,
                               atol=1e-6)
    ordered = DIN(30, 5, embedding_dim=4, recency=3)
    ordered.build()
    ordered.recency_embedding.assign(10 * np.random.RandomState(5).normal(size=(3, 8)))
    moved = np.abs(ordered(reversed_).numpy() - ordered(batch).numpy())
    assert moved[0] > 1e-5 and moved[1] > 1e-5  # histories of 6 and 3 items (noise: ~1e-7)
    assert moved[2] == 0 and moved[3] == 0  # empty history, one item: nothing to reorder
    with pytest.raises(ValueError, match="recency"):
        DIN(30, 5, recency=-1)


def test_config_round_trip_and_save_load(tmp_path):
    model = DIN(30, 5, embedding_dim=4, attention_units=(6, 3), mlp_units=(8, 4),
                activation="prelu", attention_softmax=True, recency=5, history_stats=True)
    model.build()
    batch = _batch(np.random.RandomState(2))
    model(batch, training=True)  # move Dice/PReLU state away from its initial values
    clone = DIN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = str(tmp_path / ("din" + compat.model_file_suffix()))
    compat.save_model(model, path)
    loaded = compat.load_model(path)
    np.testing.assert_allclose(loaded(batch).numpy(), model(batch).numpy(), rtol=1e-6, atol=1e-6)


def test_gauc_against_a_hand_computed_example():
    users = [1, 1, 1, 2, 2, 2, 2, 3, 3]
    labels = [1, 0, 0, 1, 1, 0, 0, 1, 1]
    scores = [0.9, 0.8, 0.95, 0.3, 0.6, 0.5, 0.1, 0.2, 0.4]
    # user 1: pos 0.9 vs negs 0.8 (win), 0.95 (loss) -> 0.5, 3 impressions
    # user 2: pos 0.3, 0.6 vs negs 0.5, 0.1 -> wins 0.3>0.1, 0.6>0.5, 0.6>0.1 -> 3/4, 4 impr.
    # user 3: one class only -> excluded
    want = (3 * 0.5 + 4 * 0.75) / 7
    assert din_metrics.gauc(users, labels, scores) == pytest.approx(want)
    # ties count one half
    assert din_metrics.gauc([1, 1], [1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert din_metrics.rela_impr(0.75, 0.7) == pytest.approx(0.25)


def test_history_stats_give_the_mlp_the_length_and_the_mean():
    """The MLP's input grows by the mean of the weighted keys, its product with the candidate
    and the log length (padding invariance with the option on is checked above)."""
    model = DIN(10, 3, embedding_dim=2, mlp_units=(4,), history_stats=True)
    model.build()
    assert model.mlp_0.kernel.shape[0] == 5 * 4 + 1  # [sum, q, sum*q, mean, mean*q] 4-d, log1p n
    plain = DIN(10, 3, embedding_dim=2, mlp_units=(4,))
    plain.build()
    assert plain.mlp_0.kernel.shape[0] == 3 * 2 * 2


def test_dice_round_trips_through_keras_serialization():
    layer = Dice(epsilon=1e-6, momentum=0.9)
    clone = compat.keras.layers.deserialize(compat.keras.layers.serialize(layer))
    assert isinstance(clone, Dice)
    assert (clone.epsilon, clone.momentum) == (1e-6, 0.9)


def test_sublayers_take_the_models_dtype_policy_not_the_global_one():
    """DIN(dtype="mixed_float16") under a float32 global policy computes in float16 in every
    sublayer (attention, MLP, activations), except the float32 logit."""
    assert compat.global_policy_name() == "float32"
    model = DIN(30, 5, embedding_dim=4, dtype="mixed_float16")
    model.build()
    # every nested layer (private, but the same call in Keras 2 and 3)
    layers = list(model._flatten_layers(include_self=False, recursive=True))  # pylint: disable=protected-access
    assert len(layers) > 8
    for layer in layers:
        want = tf.float32 if layer.name == "logit" else tf.float16
        assert layer.compute_dtype == want, layer.name
    logits = model(_batch(np.random.RandomState(0)), training=True)
    assert logits.dtype == tf.float32 and np.all(np.isfinite(logits.numpy()))


def test_the_popularity_input_reaches_the_logit_only_when_asked():
    batch = _batch(np.random.RandomState(0))
    low = dict(batch, target_count=np.zeros(4, np.float32))
    high = dict(batch, target_count=np.full(4, 50.0, np.float32))
    with_feature = DIN(30, 5, embedding_dim=4, popularity=True)
    with_feature.build()
    assert not np.allclose(with_feature(low).numpy(), with_feature(high).numpy())
    without = DIN(30, 5, embedding_dim=4)
    without.build()
    np.testing.assert_array_equal(without(low).numpy(), without(high).numpy())
    assert DIN.from_config(with_feature.get_config()).popularity


def _with_real_log_inputs(batch, rng):
    """The inputs of real logs beside a :func:`_batch`: feedback codes, rates and the user's
    running statistics."""
    n, length = batch["hist_items"].shape
    slots = np.arange(length)[None, :] < batch["hist_len"][:, None]
    out = dict(batch)
    out["hist_feedback"] = np.where(slots, rng.randint(1, 4, (n, length)), 0).astype(np.int32)
    out["target_count"] = rng.randint(0, 9, n).astype(np.float32)
    out["target_rate"] = rng.uniform(0.1, 0.9, n).astype(np.float32)
    out["target_feedback"] = rng.normal(size=n).astype(np.float32)
    out["prior_events"] = (batch["hist_len"] + 5).astype(np.int32)
    out["prior_positives"] = (batch["hist_len"] + 1).astype(np.int32)
    out["prior_cat_events"] = (batch["hist_len"] // 2).astype(np.int32)
    out["prior_cat_positives"] = (batch["hist_len"] // 3).astype(np.int32)
    return out


def test_feedback_reaches_the_keys_and_padding_still_changes_nothing():
    """A history event's feedback (a rating) is part of its key: changing the feedback of a
    real event changes the score, changing that of a padding slot does not."""
    rng = np.random.RandomState(0)
    batch = _with_real_log_inputs(_batch(rng), rng)
    model = DIN(30, 5, embedding_dim=4, num_feedback=4)
    model.build()
    model.feedback_embedding.assign(rng.normal(size=(4, 8)).astype(np.float32))
    base = model(batch).numpy()
    slots = np.arange(6)[None, :] < batch["hist_len"][:, None]
    padded = dict(batch, hist_feedback=np.where(slots, batch["hist_feedback"], 3).astype(
        np.int32))
    np.testing.assert_allclose(model(padded).numpy(), base, rtol=1e-6, atol=1e-6)
    shifted = batch["hist_feedback"] % 3 + 1  # every real event's feedback changed
    rated = dict(batch, hist_feedback=np.where(slots, shifted, 0).astype(np.int32))
    changed = np.abs(model(rated).numpy() - base) > 1e-6
    assert changed[batch["hist_len"] > 0].all() and not changed[batch["hist_len"] == 0].any()
    assert DIN.from_config(model.get_config()).num_feedback == 4
    # what the unit weighs, as call() weighs it: 0 on padding, moved by the feedback
    weights = model.attention_weights(batch).numpy()
    assert np.all(weights[~slots] == 0.0)
    assert not np.allclose(weights[slots], model.attention_weights(rated).numpy()[slots])
    without = DIN(30, 5, embedding_dim=4)
    without.build()
    assert "feedback_embedding" not in [w.name.split("/")[-1].split(":")[0]
                                        for w in without.weights]


def test_the_wide_term_is_a_logistic_regression_on_the_simple_features():
    """With the deep part's output weights at zero, the logit IS a linear model on the simple
    features (the learned simple baseline is a special case of the model): checked against
    the features computed by hand."""
    rng = np.random.RandomState(1)
    batch = _with_real_log_inputs(_batch(rng), rng)
    model = DIN(30, 5, embedding_dim=4, popularity=True, item_rate=True, user_stats=True,
                wide=True)
    model.build()
    kernel = model.logit.kernel
    kernel.assign(np.zeros(kernel.shape, np.float32))
    model.logit.bias.assign(np.zeros(1, np.float32))
    weights = rng.normal(size=(9, 1)).astype(np.float32)
    model.wide_logit.bias.assign([0.25])

    def log_odds(p):
        p = np.clip(p, 1e-4, 1 - 1e-4)
        return np.log(p) - np.log1p(-p)

    length = batch["hist_len"].astype(np.float64)
    valid = np.arange(6)[None, :] < length[:, None]
    same = ((batch["hist_cats"] == batch["target_cat"][:, None]) & valid).sum(axis=1)
    events = batch["prior_events"].astype(np.float64)
    cat_events = batch["prior_cat_events"].astype(np.float64)
    features = np.stack([
        np.log1p(batch["target_count"]), log_odds(batch["target_rate"]),
        batch["target_feedback"], np.log1p(events),
        log_odds((batch["prior_positives"] + 1.0) / (events + 2.0)), np.log1p(cat_events),
        cat_events / np.maximum(events, 1.0),
        log_odds((batch["prior_cat_positives"] + 1.0) / (cat_events + 2.0)),
        same / np.maximum(length, 1.0)], axis=1)
    # the wide layer sees these 9 columns (popularity, rate, mean feedback, 5 user
    # statistics, share)
    model.wide_logit.kernel.assign(weights)
    np.testing.assert_allclose(model(batch).numpy(), features.dot(weights).ravel() + 0.25,
                               rtol=1e-4, atol=1e-5)
    config = DIN.from_config(model.get_config()).get_config()
    assert config["wide"] and config["item_rate"] and config["user_stats"]


@pytest.mark.parametrize("options", [
    {},
    {"recency": 20, "num_feedback": 6, "history_stats": True, "popularity": True,
     "item_rate": True, "user_stats": True, "wide": True},
    {"embedding_dim": 32, "attention_units": (16,), "mlp_units": (64, 32, 16), "recency": 5},
    {"pooling": "sum", "mlp_units": (7,)},
])
def test_the_weight_estimate_bounds_the_built_model_closely(options):
    """DIN.weight_count is what sizes are refused by before anything is allocated: never
    below the real count, and not far above it."""
    options = dict(options)
    dim = options.pop("embedding_dim", 8)
    model = DIN(500, 20, embedding_dim=dim, **options)
    model.build()
    estimate = DIN.weight_count(
        500, 20, dim, attention_units=options.get("attention_units", (80, 40)),
        mlp_units=options.get("mlp_units", (200, 80)),
        recency=options.get("recency", 0), num_feedback=options.get("num_feedback", 0),
        attention=options.get("pooling", "attention") == "attention")
    actual = model.count_params()
    assert actual <= estimate <= 1.35 * actual, (actual, estimate)
