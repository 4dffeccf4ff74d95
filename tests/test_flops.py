"""Arithmetic counts behind the benchmark runner's utilisation column, checked by hand."""
import numpy as np
import pytest

from benchmarks import flops
from models.din import DIN
from models.ngnn import NGNN


def test_din_flops_by_hand():
    """Embeddings 4 (item + category: D = 8), attention (8, 4), MLP (6, 3), history 10:
    per row the query term 8x8 and the MLP; per position [k, q*k] 16x8, then 8x4 and 4x1."""
    model = DIN(50, 5, embedding_dim=4, attention_units=(8, 4), mlp_units=(6, 3))
    model.build()
    mlp_in = int(model.mlp[0].kernel.shape[0])
    per_row = 8 * 8 + mlp_in * 6 + 6 * 3 + 3 * 1
    per_position = 16 * 8 + 8 * 4 + 4 * 1
    assert flops.din_train_flops(model, 10) == 3 * 2 * (per_row + 10 * per_position)
    assert flops.din_train_flops(model, 20) > flops.din_train_flops(model, 10)


def test_a_packed_attention_counts_the_real_positions_only():
    """The packed unit (default) computes the real history positions, the static one (NPU)
    every slot; the utilisation column must count what is computed."""
    hist_len = np.array([1, 4, 20, 25])  # a length over maxlen is capped (left-aligned)
    packed = DIN(50, 5, embedding_dim=4)
    static = DIN(50, 5, embedding_dim=4, static_shapes=True)
    assert flops.scored_positions(packed, hist_len, 20) == pytest.approx((1 + 4 + 20 + 20) / 4)
    assert flops.scored_positions(static, hist_len, 20) == 20
    assert flops.scored_positions(DIN(50, 5, pooling="sum"), hist_len, 20) == 20  # no unit
    packed.build()
    static.build()
    full, packed_flops = flops.din_train_flops(static, 20, hist_len), flops.din_train_flops(
        packed, 20, hist_len)
    assert packed_flops < full == flops.din_train_flops(packed, 20)  # no lengths: every slot


def test_ngnn_flops_by_hand():
    """Hidden 2, 16-d images, 3 steps, 4 nodes: the visual projection on 5 distinct nodes
    (forward + weight gradient); per node and step 2 H x H + 2 H x 3H products on 2 outfits
    in 2 branches, forward + 2 gradients."""
    model = NGNN(3, visual_dim=16, vocab_size=7, hidden=2, steps=3)
    visual = 2 * 2 * 5 * 16 * 2
    passing = 3 * 2 * 2 * 2 * 4 * 3 * (2 * 4 + 2 * 2 * 6)
    assert flops.ngnn_train_flops(model, 4) == visual + passing
    text_only = NGNN(3, visual_dim=16, vocab_size=7, hidden=2, steps=3, modalities="textual")
    assert flops.ngnn_train_flops(text_only, 4) == passing / 2


def test_matmul_peak_is_measured_here():
    """A real measurement: positive, and a bigger matmul does not look absurdly faster."""
    small = flops.matmul_peak_gflops("cpu", size=128, repeats=2)
    assert 0.01 < small < 1e5
    assert flops.matmul_peak_gflops("cpu", size=256, repeats=2) < 100 * small
