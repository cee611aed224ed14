"""LazyAttention with score modifiers equals softmax of the modified scores, computed in full."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from attn_widget.lazy import LazyAttention
from attn_widget.lazy_scores import ScoreModifier, expand_table, offset_table, toeplitz_table
from attn_widget.serve import tiles

HEADS, KV, D = 4, 2, 8


def _reference(q: torch.Tensor, k: torch.Tensor, m: ScoreModifier) -> np.ndarray:
    """Eager attention written out: every step on the whole (heads, q, k) matrix."""
    k = k.repeat_interleave(q.shape[0] // k.shape[0], dim=0)
    scores = (q @ k.transpose(-1, -2)).double() * m.scaling
    n, c = scores.shape[-2:]
    if m.softcap is not None:
        scores = torch.tanh(scores / m.softcap) * m.softcap
    if m.offset_bias is not None:
        scores = scores + expand_table(m.offset_bias, n, c).double()
    if m.full_bias is not None:
        scores = scores + m.full_bias.double()
    rel = torch.arange(c)[None, :] - torch.arange(n)[:, None] - (c - n)
    left, right = m.band
    hidden = torch.zeros(n, c, dtype=torch.bool)
    if right is not None:
        hidden |= rel > right
    if left is not None:
        hidden |= rel < -left
    scores = scores.masked_fill(hidden, float("-inf"))
    if m.sinks is not None:
        sink = m.sinks.double()[:, None, None].expand(-1, n, 1)
        return torch.softmax(torch.cat([scores, sink], -1), -1)[..., :-1].float().numpy()
    return torch.softmax(scores, -1).float().numpy()


def _modifiers(n: int, gen: torch.Generator) -> dict[str, ScoreModifier]:
    slopes = torch.tensor([0.5, 0.25, 0.125, 0.0625])
    table = torch.randn(HEADS, 2 * n - 1, generator=gen)
    return {
        "plain": ScoreModifier(0.35),
        "causal": ScoreModifier(0.35, band=(None, 0)),
        "sliding window 5": ScoreModifier(0.35, band=(4, 0)),
        "local 3 either side": ScoreModifier(0.35, band=(3, 3)),
        "alibi causal": ScoreModifier(0.35, band=(None, 0), offset_bias=offset_table(slopes, n, n)),
        "t5 bias": ScoreModifier(1.0, offset_bias=table),
        "shared bias": ScoreModifier(1.0, band=(None, 0), offset_bias=table[:1]),
        "full bias": ScoreModifier(0.5, full_bias=torch.randn(HEADS, n, n, generator=gen)),
        "softcap window": ScoreModifier(0.9, band=(6, 0), softcap=2.0),
        "sinks": ScoreModifier(0.35, band=(None, 0), sinks=torch.randn(HEADS, generator=gen) + 2),
        "sinks window": ScoreModifier(0.35, band=(2, 0), sinks=torch.tensor([9.0, -3, 0, 1])),
    }


def _make(n: int, kind: str) -> tuple[LazyAttention, list[np.ndarray]]:
    gen = torch.Generator().manual_seed(1)
    queries = [[torch.randn(HEADS, n, D, generator=gen) * 2 for _ in range(2)]]
    keys = [[torch.randn(KV, n, D, generator=gen) * 2 for _ in range(2)]]
    mods = _modifiers(n, gen)
    # Layer 0 has the variant, layer 1 is plain: layers differ in one source.
    layers = [mods[kind], ScoreModifier(0.2, band=(None, 0))]
    tokens = [[f"t{i}" for i in range(n)]]
    lazy = LazyAttention(queries, keys, tokens, modifiers=[layers])
    expected = [_reference(queries[0][i], keys[0][i], layers[i]) for i in range(2)]
    return lazy, expected


KINDS = list(_modifiers(4, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block", [37, 1 << 19])
def test_every_variant_equals_the_full_computation(
    kind: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("attn_widget.lazy._CPU_BLOCK_SCORES", block)
    lazy, expected = _make(29, kind)
    for layer in range(2):
        for head in range(HEADS):
            np.testing.assert_allclose(
                lazy.matrix(layer, head), expected[layer][head], atol=1e-5, err_msg=kind
            )
        np.testing.assert_allclose(lazy.matrix(layer, None), expected[layer].mean(0), atol=1e-5)
        np.testing.assert_allclose(
            lazy.rows(layer, 2, 0, 7, 19), expected[layer][2, 7:19], atol=1e-5
        )
    assert lazy.is_causal(0) == (lazy.modifiers[0][0].causal and lazy.modifiers[0][1].causal)


@pytest.mark.parametrize("kind", KINDS)
def test_pooled_tiles_of_every_variant_equal_pooling_the_matrix(kind: str) -> None:
    lazy, expected = _make(29, kind)
    rng = np.random.default_rng(0)
    for _ in range(15):
        q0, q1 = sorted(rng.choice(30, 2, replace=False))
        k0, k1 = sorted(rng.choice(30, 2, replace=False))
        fq, fk = (int(f) for f in rng.integers(1, 5, 2))
        for head in (None, 1):
            full = expected[0].mean(0) if head is None else expected[0][head]
            got = lazy.pooled_rows(0, head, 0, q0, q1, (k0, k1), (fq, fk))
            want = tiles.max_pool(full[q0:q1, k0:k1], fq, fk)
            np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"{kind} {head}")


def test_a_toeplitz_bias_becomes_its_offset_table_and_others_do_not() -> None:
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(3, 2 * 6 - 1, generator=gen)
    bias = expand_table(table, 6, 6)
    assert torch.equal(toeplitz_table(bias), table)
    bias[1, 4, 2] += 1e-3
    assert toeplitz_table(bias) is None


def test_modifiers_must_cover_every_case_and_layer() -> None:
    q = [[torch.zeros(2, 3, 4)] * 2]
    with pytest.raises(ValueError, match=r"1 case\(s\) x 2 layers"):
        LazyAttention(q, q, [list("abc")], modifiers=[[ScoreModifier(1.0)]])
    with pytest.raises(ValueError, match="scaling"):
        LazyAttention(q, q, [list("abc")])


def _band_mask(q: int, k: int, left: int | None, right: int | None) -> torch.Tensor:
    rel = torch.arange(k)[None, :] - torch.arange(q)[:, None] - (k - q)
    allowed = torch.ones(q, k, dtype=torch.bool)
    if right is not None:
        allowed &= rel <= right
    if left is not None:
        allowed &= rel >= -left
    return allowed


@pytest.mark.parametrize(
    ("q", "k", "band"),
    [
        (9, 9, (None, None)),
        (9, 9, (None, 0)),
        (9, 9, (3, 0)),
        (9, 9, (2, 2)),
        (9, 9, (None, 2)),
        (4, 9, (None, 0)),  # queries after a prefix of cached keys
        (4, 9, (2, 0)),
    ],
)
def test_a_mask_is_read_back_as_its_band(q: int, k: int, band: tuple[Any, Any]) -> None:
    from attn_widget.extract.lazy_capture import band_of

    assert band_of(_band_mask(q, k, *band)) == band


def test_masks_that_are_no_band_are_refused() -> None:
    from attn_widget.extract.lazy_capture import band_of

    holed = _band_mask(9, 9, None, 0)
    holed[6, 2] = False  # a key hidden in the middle of a row
    assert band_of(holed) is None
    ragged = _band_mask(9, 9, 3, 0)
    ragged[7, 3] = True  # one row's window reaches further back than the others'
    assert band_of(ragged) is None
    empty = _band_mask(9, 9, None, 0)
    empty[4] = False
    assert band_of(empty) is None
