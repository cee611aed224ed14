"""LazyAttention: weights computed on demand equal the weights computed in full."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attn_widget as aw
from attn_widget.lazy import LazyAttention
from attn_widget.serve import tiles


def reference(q: torch.Tensor, k: torch.Tensor, scaling: float, causal: bool) -> np.ndarray:
    heads, kv = q.shape[0], k.shape[0]
    k = k.repeat_interleave(heads // kv, dim=0)
    scores = q @ k.transpose(-1, -2) * scaling
    if causal:
        n, m = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(n, m).triu(1 + m - n).bool(), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


def make(causal: bool = True, n: int = 37, heads: int = 4, kv: int = 2, cases: int = 2):
    gen = torch.Generator().manual_seed(0)
    lengths = [n, n - 10][:cases]
    queries = [[torch.randn(heads, m, 8, generator=gen) for _ in range(3)] for m in lengths]
    keys = [[torch.randn(kv, m, 8, generator=gen) for _ in range(3)] for m in lengths]
    tokens = [[f"t{i}" for i in range(m)] for m in lengths]
    lazy = LazyAttention(queries, keys, tokens, scaling=8**-0.5, causal=causal)
    return lazy, queries, keys


@pytest.mark.parametrize("causal", [True, False])
def test_rows_equal_softmax_of_scaled_scores_with_grouped_heads(causal: bool) -> None:
    lazy, queries, keys = make(causal)
    for case in range(2):
        expected = reference(queries[case][1], keys[case][1], 8**-0.5, causal)
        for head in range(4):
            np.testing.assert_allclose(lazy.matrix(1, head, case), expected[head], atol=1e-6)
        np.testing.assert_allclose(lazy.matrix(1, None, case), expected.mean(0), atol=1e-6)
        np.testing.assert_allclose(lazy.rows(1, 3, case, 5, 9), expected[3, 5:9], atol=1e-6)


def test_rows_are_computed_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("attn_widget.lazy._CPU_BLOCK_SCORES", 50)
    lazy, queries, keys = make(causal=True)
    np.testing.assert_allclose(
        lazy.matrix(2, 1, 0), reference(queries[0][2], keys[0][2], 8**-0.5, True)[1], atol=1e-6
    )


def test_a_lazy_widget_answers_from_queries_and_keys() -> None:
    lazy, queries, keys = make()
    w = aw.AttentionWidget(lazy)
    assert w._meta["tier"] == "slices" and w._cube == b""
    assert w._meta["cases"][1]["q"] == 27
    pooled = tiles.tile(lazy, 0, 2, 0, max_rows=10, max_cols=10)
    full = reference(queries[0][0], keys[0][0], 8**-0.5, True)[2]
    np.testing.assert_allclose(pooled.values, tiles.max_pool(full, 4, 4), atol=1e-6)
    with pytest.raises(ValueError, match=r"layer: expected 0..2"):
        w.layer = 3


def test_bad_shapes_are_refused() -> None:
    q = [[torch.zeros(3, 4, 8)]]
    with pytest.raises(ValueError, match="2 key heads do not divide 3 query heads"):
        LazyAttention(q, [[torch.zeros(2, 4, 8)]], [list("abcd")], scaling=1.0, causal=False)
    with pytest.raises(ValueError, match=r"case 0 has 3 x 3 tokens.*give 4 x 4"):
        LazyAttention(q, [[torch.zeros(1, 4, 8)]], [list("abc")], scaling=1.0, causal=False)


def test_pooling_on_the_device_equals_pooling_the_rows() -> None:
    lazy, _, _ = make(causal=True, n=53)
    full = lazy.matrix(2, 1, 0)
    pooled = tiles.tile(lazy, 2, 1, 0, (3, 50, 7, 53), max_rows=8, max_cols=5)
    np.testing.assert_allclose(pooled.values, tiles.max_pool(full[3:50, 7:53], 6, 10), atol=1e-6)
    mean = tiles.tile(lazy, 2, None, 0, max_rows=10, max_cols=10)
    np.testing.assert_allclose(
        mean.values, tiles.max_pool(lazy.matrix(2, None, 0), 6, 6), atol=1e-6
    )


def test_token_lines_of_a_lazy_source_match_the_matrix() -> None:
    lazy, _, _ = make(causal=True, n=41)
    full = lazy.matrix(1, 2, 0)
    np.testing.assert_allclose(tiles.token_links(lazy, 1, 2, 0, "key", 7), full[:, 7], atol=1e-6)
    np.testing.assert_allclose(tiles.token_links(lazy, 1, 2, 0, "query", 30), full[30], atol=1e-6)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("block", [50, 1 << 19])
def test_pooled_windows_equal_pooling_the_softmax(
    causal: bool, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any window and pool factor, small or large blocks, past the causal edge or not."""
    monkeypatch.setattr("attn_widget.lazy._CPU_BLOCK_SCORES", block)
    gen = torch.Generator().manual_seed(3)
    # More keys than queries: causal row i sees keys <= i + 9, as with a cached prefix.
    queries = [[torch.randn(4, 21, 8, generator=gen)]]
    keys = [[torch.randn(2, 30, 8, generator=gen)]]
    tokens = [[f"k{i}" for i in range(30)]]
    targets = [[f"q{i}" for i in range(21)]]
    lazy = LazyAttention(queries, keys, tokens, target_tokens=targets, scaling=0.3, causal=causal)
    expected = reference(queries[0][0], keys[0][0], 0.3, causal)
    rng = np.random.default_rng(0)
    for _ in range(40):
        q0, q1 = sorted(rng.choice(22, 2, replace=False))
        k0, k1 = sorted(rng.choice(31, 2, replace=False))
        fq, fk = (int(f) for f in rng.integers(1, 6, 2))
        for head in (None, 1, 3):
            full = expected.mean(0) if head is None else expected[head]
            got = lazy.pooled_rows(0, head, 0, q0, q1, (k0, k1), (fq, fk))
            want = tiles.max_pool(full[q0:q1, k0:k1], fq, fk)
            np.testing.assert_allclose(got, want, atol=1e-6, err_msg=f"{head} {q0, q1, k0, k1}")
