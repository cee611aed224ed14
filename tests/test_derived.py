"""Derived attentions against direct numpy: rollout, flow (min cuts), value norms; their source."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.analysis import (
    DerivedAttention,
    attention_flow,
    attention_rollout,
    head_value_norms,
    value_weighted,
)
from attn_widget.data import AttentionSource


def random_weights(seed: int, layers: int, heads: int, n: int, causal: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = rng.random((layers, heads, n, n)) ** 3
    if causal:
        weights *= np.tril(np.ones((n, n)))
    return weights / weights.sum(axis=-1, keepdims=True)


def mixed_by_hand(layer: np.ndarray, fusion: str, residual: float = 0.5) -> np.ndarray:
    fused = {"mean": layer.mean(0), "max": layer.max(0), "min": layer.min(0)}[fusion]
    n = fused.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        row = [(1 - residual) * fused[i, j] + (residual if i == j else 0.0) for j in range(n)]
        out[i] = np.array(row) / sum(row)
    return out


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_rollout_is_the_product_of_residual_mixed_layers(fusion: str) -> None:
    weights = random_weights(0, 3, 2, 5)
    rolled = attention_rollout(weights, head_fusion=fusion)
    expected = np.eye(5)
    for layer in range(3):
        expected = mixed_by_hand(weights[layer], fusion) @ expected
        np.testing.assert_allclose(rolled[layer], expected, rtol=1e-10)
    np.testing.assert_allclose(rolled.sum(axis=-1), 1.0)


def test_rollout_discard_ratio_drops_the_weakest_weights_but_the_first_cell() -> None:
    fused = np.array([[0.05, 0.9, 0.05], [0.3, 0.3, 0.4], [0.2, 0.7, 0.1]])
    rolled = attention_rollout(fused[None, None], discard_ratio=0.4, residual=0.5)
    kept = fused.copy()
    # 9 cells * 0.4 -> the 3 smallest: (0,0) 0.05, (0,2) 0.05, (2,2) 0.1; (0,0) is kept.
    kept[0, 2] = kept[2, 2] = 0.0
    np.testing.assert_allclose(rolled[0], mixed_by_hand(kept[None], "mean"), rtol=1e-12)


def test_rollout_of_a_source_case_and_of_a_widget() -> None:
    data = aw.AttentionData.from_cases(
        [random_weights(1, 2, 3, 4), random_weights(2, 2, 3, 6)],
        [list("abcd"), list("abcdef")],
    )
    np.testing.assert_allclose(
        aw.rollout(data, case=1), attention_rollout(data.case_values(1)), rtol=1e-6
    )
    widget = aw.AttentionWidget(random_weights(3, 2, 2, 4), list("wxyz"))
    assert aw.rollout(widget).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="head_fusion: expected one of mean, max, min"):
        aw.rollout(data, head_fusion="median")
    with pytest.raises(ValueError, match=r"residual: expected a number in \[0, 1\)"):
        aw.rollout(data, residual=1.0)


def min_cut(capacity: np.ndarray, source: int, sink: int) -> float:
    """The minimum s-t cut by trying every set of the other nodes (max-flow = min-cut)."""
    others = [v for v in range(len(capacity)) if v not in (source, sink)]
    best = np.inf
    for picks in itertools.product([False, True], repeat=len(others)):
        side = np.zeros(len(capacity), dtype=bool)
        side[source] = True
        side[[v for v, p in zip(others, picks, strict=True) if p]] = True
        best = min(best, capacity[side][:, ~side].sum())
    return float(best)


def test_flow_equals_the_minimum_cut_of_the_layer_graph() -> None:
    weights = random_weights(4, 2, 2, 3, causal=True)
    flows = attention_flow(weights)
    mixed = [mixed_by_hand(weights[m], "mean") for m in range(2)]
    n = 3
    # nodes: level m position i -> m * n + i; an edge from (m + 1, i) to (m, j)
    for layer in range(2):
        size = (layer + 2) * n
        capacity = np.zeros((size, size))
        for m in range(layer + 1):
            capacity[(m + 1) * n : (m + 2) * n, m * n : (m + 1) * n] = mixed[m]
        for i in range(n):
            for j in range(n):
                expected = min_cut(capacity, (layer + 1) * n + i, j)
                assert flows[layer][i, j] == pytest.approx(expected, abs=1e-8)
    # one layer: the flow is the edge itself; causal stays causal
    np.testing.assert_allclose(flows[0], mixed[0], atol=1e-8)
    assert np.all(np.triu(flows[1], 1) == 0)
    np.testing.assert_allclose(attention_flow(weights, layer=1), flows[1])
    np.testing.assert_allclose(aw.flow(aw.AttentionData(weights, list("abc")), layer=1), flows[1])


def test_flow_is_refused_above_a_few_seconds_with_the_sizes() -> None:
    weights = random_weights(5, 6, 2, 64)
    started = time.perf_counter()
    with pytest.raises(
        ValueError, match=r"flow: 64 tokens up to layers 0\.\.5 .* at most \d+ tokens"
    ):
        attention_flow(weights)
    with pytest.raises(ValueError, match="flow: 64 tokens"):
        DerivedAttention(aw.AttentionData(weights, None), "flow")
    assert time.perf_counter() - started < 2.0  # refused before any work


def loop_value_norms(alpha: np.ndarray, values: np.ndarray, out_proj: np.ndarray) -> tuple:
    heads, q, k = alpha.shape
    d_head = values.shape[2]
    group = heads // values.shape[0]
    per_head = np.zeros((heads, q, k))
    summed = np.zeros((q, k))
    for i in range(q):
        for j in range(k):
            total = np.zeros(out_proj.shape[1])
            for h in range(heads):
                term = (
                    alpha[h, i, j] * values[h // group, j] @ out_proj[h * d_head : (h + 1) * d_head]
                )
                per_head[h, i, j] = np.linalg.norm(term)
                total += term
            summed[i, j] = np.linalg.norm(total)
    return per_head, summed


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_value_weighting_equals_the_norm_of_each_term(kv_heads: int) -> None:
    rng = np.random.default_rng(6)
    alpha = random_weights(7, 1, 4, 5)[0]
    values = rng.normal(size=(kv_heads, 5, 3))
    out_proj = rng.normal(size=(4 * 3, 6))
    per_head, summed = loop_value_norms(alpha, values, out_proj)
    np.testing.assert_allclose(value_weighted(alpha, values, out_proj), per_head, rtol=1e-10)
    np.testing.assert_allclose(
        value_weighted(alpha, values, out_proj, combine=True), summed, rtol=1e-9
    )
    assert head_value_norms(values, out_proj).shape == (4, 5)


def test_value_weighting_refuses_mismatched_shapes() -> None:
    alpha = random_weights(8, 1, 4, 5)[0]
    with pytest.raises(ValueError, match=r"out_proj: expected 4 heads x 3 .* = 12 rows"):
        value_weighted(alpha, np.ones((4, 5, 3)), np.ones((8, 6)))
    with pytest.raises(ValueError, match="values: 3 value heads do not divide 4"):
        value_weighted(alpha, np.ones((3, 5, 3)), np.ones((12, 6)))
    with pytest.raises(ValueError, match="values: expected 5 value vectors"):
        value_weighted(alpha, np.ones((4, 7, 3)), np.ones((12, 6)))


def test_derived_attention_is_a_source_every_picture_takes() -> None:
    from attn_widget.export import render_pdf

    pypdf = pytest.importorskip("pypdf")
    import io

    data = aw.AttentionData(random_weights(9, 3, 2, 6, causal=True), list("abcdef"))
    rollout = DerivedAttention(data, "rollout")
    assert isinstance(rollout, AttentionSource)
    assert (rollout.n_layers, rollout.n_heads, rollout.shape(0)) == (3, 1, (6, 6))
    np.testing.assert_allclose(
        rollout.matrix(2, 0), attention_rollout(data.values[0])[2], rtol=1e-6
    )
    np.testing.assert_array_equal(rollout.matrix(2, None), rollout.matrix(2, 0))
    assert rollout.case_values(0).shape == (3, 1, 6, 6)
    assert rollout.is_causal(0) and rollout.meta["derived"] == "rollout"
    np.testing.assert_array_equal(rollout.rows(1, 0, 0, 2, 4), rollout.matrix(1, 0)[2:4])
    pdf = render_pdf(rollout, "heatmap", layer=2, head=0)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    widget = aw.AttentionWidget.from_components({"attention": data, "rollout": rollout})
    widget.component = "rollout"
    np.testing.assert_allclose(widget.current_matrix(), rollout.matrix(0, 0))

    flow = DerivedAttention(data, "flow")
    assert not flow.holds_weights
    np.testing.assert_allclose(
        flow.matrix(1, 0), attention_flow(data.values[0], layer=1), atol=1e-6
    )

    rng = np.random.default_rng(10)
    values = [[rng.normal(size=(2, 6, 3)) for _ in range(3)]]
    out_proj = [rng.normal(size=(6, 4)) for _ in range(3)]
    norms = DerivedAttention(data, "value_norm", values=values, out_proj=out_proj)
    assert norms.n_heads == 2
    np.testing.assert_allclose(
        norms.matrix(1, 1),
        value_weighted(data.values[0][1], values[0][1], out_proj[1])[1],
        rtol=1e-5,
    )
    summed = DerivedAttention(data, "value_norm_sum", values=values, out_proj=out_proj)
    assert summed.n_heads == 1
    with pytest.raises(ValueError, match=r"value_norm: needs values=\[case\]\[layer\]"):
        DerivedAttention(data, "value_norm")
    with pytest.raises(ValueError, match="kind: expected one of rollout, flow"):
        DerivedAttention(data, "gradient")


def test_a_widget_offers_rollout_and_flow_beside_the_heads() -> None:
    data = aw.AttentionData(random_weights(11, 3, 2, 5), list("abcde"))
    widget = aw.AttentionWidget(data, derived=["rollout", "flow"])
    assert widget._meta["components"] == ["attention", "rollout", "flow"]
    widget.component = "rollout"
    widget.layer = 2
    np.testing.assert_allclose(
        widget.current_matrix(), attention_rollout(data.values[0])[2], rtol=1e-6
    )
    widget.component = "flow"
    np.testing.assert_allclose(
        widget.current_matrix(), attention_flow(data.values[0], layer=2), atol=1e-6
    )
    with pytest.raises(ValueError, match="derived: expected a list of rollout, flow"):
        aw.AttentionWidget(data, derived="rollout")


def test_the_atlas_trait_names_a_head_score() -> None:
    widget = aw.AttentionWidget(random_weights(12, 2, 2, 4), list("abcd"), atlas="entropy")
    assert widget.atlas == "entropy"
    with pytest.raises(ValueError, match=r"atlas: expected one of .*'' for none"):
        widget.atlas = "loudness"
