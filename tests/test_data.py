"""AttentionData: every input layout of DESIGN.md, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attn_widget import AttentionData


def softmax_rows(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


TOKENS = ["a", "b", "c", "d"]


def masked_softmax(shape: tuple[int, ...], lengths: list[int], left: bool = False) -> np.ndarray:
    """``(layers, cases, heads, n, n)`` weights where case c's padding keys get none (a mask)."""
    x = np.random.default_rng(0).normal(size=shape)
    n = shape[-1]
    for c, length in enumerate(lengths):
        pad = slice(0, n - length) if left else slice(length, n)
        x[:, c, :, :, pad] = -np.inf
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def test_per_layer_batched_arrays_like_transformers_outputs() -> None:
    layers = [softmax_rows((2, 3, 4, 4), seed=i) for i in range(5)]
    data = AttentionData(layers, TOKENS)
    assert (data.n_layers, data.n_cases, data.n_heads) == (5, 2, 3)
    np.testing.assert_array_equal(data.matrix(4, 2, case=1), layers[4][1, 2])
    assert data.tokens == [TOKENS, TOKENS]
    assert not data.is_cross


def test_per_layer_arrays_of_one_case() -> None:
    layers = [softmax_rows((3, 4, 4), seed=i) for i in range(2)]
    data = AttentionData(layers, TOKENS)
    assert (data.n_layers, data.n_cases, data.n_heads) == (2, 1, 3)
    np.testing.assert_array_equal(data.matrix(1, 0), layers[1][0])


def test_stacked_five_and_four_dimensional_arrays() -> None:
    stacked = softmax_rows((2, 3, 4, 4, 4))
    data = AttentionData(stacked, TOKENS)
    assert (data.n_layers, data.n_cases, data.n_heads) == (2, 3, 4)
    np.testing.assert_array_equal(data.matrix(1, 3, case=2), stacked[1, 2, 3])
    one_case = AttentionData(stacked[:, 0], TOKENS)
    assert (one_case.n_layers, one_case.n_cases, one_case.n_heads) == (2, 1, 4)


def test_single_matrix() -> None:
    m = softmax_rows((4, 4))
    data = AttentionData(m, TOKENS)
    assert (data.n_layers, data.n_cases, data.n_heads) == (1, 1, 1)
    np.testing.assert_array_equal(data.matrix(0, 0), m)


def test_head_mean() -> None:
    stacked = softmax_rows((1, 3, 4, 4))
    data = AttentionData(stacked, TOKENS)
    np.testing.assert_allclose(data.matrix(0, None), stacked[0].mean(0), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_torch_tensors_of_every_float_dtype_with_grad(dtype: torch.dtype) -> None:
    base = torch.softmax(torch.randn(2, 3, 4, 4), dim=-1)
    tensor = base.clone().to(dtype).requires_grad_(True)
    data = AttentionData([tensor, tensor * 1], TOKENS)
    tolerance = 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-6
    np.testing.assert_allclose(data.matrix(1, 2, 1), base[1, 2].numpy(), atol=tolerance)
    assert data.values[0].dtype == np.float32


def test_float16_storage_on_request() -> None:
    data = AttentionData(softmax_rows((1, 2, 4, 4)), TOKENS, dtype=np.float16)
    assert data.values[0].dtype == np.float16
    assert data.matrix(0, 0).dtype == np.float32


def test_cases_of_different_lengths_are_cropped_to_their_tokens() -> None:
    padded = masked_softmax((1, 2, 2, 5, 5), [3, 5])
    data = AttentionData(padded, [["a", "b", "c"], ["a", "b", "c", "d", "e"]])
    assert data.shape(0) == (3, 3)
    assert data.shape(1) == (5, 5)
    np.testing.assert_array_equal(data.matrix(0, 1, case=0), padded[0, 0, 1, :3, :3])


def test_left_padding() -> None:
    padded = masked_softmax((1, 2, 2, 5, 5), [2, 5], left=True)
    data = AttentionData(padded, [["c", "d"], list("abcde")], padding_side="left")
    np.testing.assert_array_equal(data.matrix(0, 0, case=0), padded[0, 0, 0, 3:, 3:])


def test_cross_attention_with_target_tokens() -> None:
    cross = softmax_rows((2, 1, 2, 3, 5))
    data = AttentionData(cross, list("abcde"), target_tokens=["x", "y", "z"])
    assert data.is_cross
    assert data.shape() == (3, 5)
    assert data.query_tokens == [["x", "y", "z"]]
    assert data.tokens == [list("abcde")]


def test_default_tokens_number_the_positions() -> None:
    data = AttentionData(softmax_rows((3, 3)))
    assert data.tokens == [["0", "1", "2"]]


def test_is_causal() -> None:
    causal = np.tril(np.ones((4, 4), dtype=np.float32))
    assert AttentionData(causal).is_causal()
    assert not AttentionData(np.ones((4, 4), dtype=np.float32)).is_causal()


@pytest.mark.parametrize(
    ("attentions", "message"),
    [
        (np.zeros((2, 3, 4)), r"got an array of shape \(2, 3, 4\).*pass it in a list"),
        (np.zeros((1, 1, 1, 1, 4, 4)), r"got an array of shape \(1, 1, 1, 1, 4, 4\)"),
        (np.zeros(4), r"expected an array of shape"),
        ([], r"expected at least one layer, got an empty sequence"),
        ((), r"sdpa"),
        ([np.zeros((4, 4))], r"per-layer arrays of shape \(4, 4\)"),
        ([np.zeros((2, 4, 4)), np.zeros((3, 4, 4))], r"same shape"),
        ("text", r"got str"),
        (np.zeros((1, 1, 0, 0)), r"non-empty sequence"),
        (np.zeros((0, 1, 4, 4)), r"at least one layer, case and head"),
    ],
)
def test_wrong_layouts_are_refused(attentions: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AttentionData(attentions)


def test_nan_and_infinite_values_are_refused_with_their_position() -> None:
    m = softmax_rows((2, 1, 4, 4))
    m[1, 0, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN or infinite value\(s\).*\(1, 0, 0, 2, 3\)"):
        AttentionData(m, TOKENS)
    m[1, 0, 2, 3] = np.inf
    with pytest.raises(ValueError, match="finite"):
        AttentionData(m, TOKENS)


def test_negative_values_are_refused() -> None:
    m = softmax_rows((4, 4))
    m[0, 1] = -0.5
    with pytest.raises(ValueError, match=r"non-negative.*-0.5"):
        AttentionData(m, TOKENS)


def test_token_count_must_match_the_matrix() -> None:
    with pytest.raises(ValueError, match=r"got 3 tokens for 4 key positions.*not padding"):
        AttentionData(softmax_rows((4, 4)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="case 0 has 5 x 5 tokens"):
        AttentionData(softmax_rows((1, 1, 4, 4)), [list("abcde")])
    with pytest.raises(ValueError, match="got 1 token lists but the attention has 2"):
        AttentionData(softmax_rows((1, 2, 1, 4, 4)), [TOKENS])
    with pytest.raises(ValueError, match="case 0 has no tokens"):
        AttentionData(softmax_rows((1, 1, 1, 4, 4)), [[]])


def test_cross_attention_needs_target_tokens() -> None:
    with pytest.raises(ValueError, match="target_tokens"):
        AttentionData(softmax_rows((3, 5)), list("abcde"))


def test_index_checks_name_the_range() -> None:
    data = AttentionData(softmax_rows((2, 3, 4, 4)), TOKENS)
    with pytest.raises(ValueError, match=r"layer: expected 0..1, got 2"):
        data.matrix(2, 0)
    with pytest.raises(ValueError, match=r"head: expected 0..2, got -1"):
        data.matrix(0, -1)
    with pytest.raises(ValueError, match=r"case: expected 0..0, got 1"):
        data.matrix(0, 0, case=1)


def test_from_cases_keeps_each_case_length() -> None:
    a, b = softmax_rows((2, 3, 2, 2)), softmax_rows((2, 3, 4, 4))
    data = AttentionData.from_cases([a, b], [["x", "y"], TOKENS])
    assert data.n_cases == 2
    assert data.shape(0) == (2, 2) and data.shape(1) == (4, 4)
    np.testing.assert_array_equal(data.matrix(1, 2, case=1), b[1, 2])


def test_a_shared_and_a_per_case_token_list_crop_padding_alike() -> None:
    """tokens[:3] and [tokens[:3]] mean the same: crop padding, refuse positions with weight."""
    masked = masked_softmax((2, 1, 3, 5, 5), [3])
    shared = AttentionData(masked, list("abc"))
    per_case = AttentionData(masked, [list("abc")])
    assert shared.shape() == per_case.shape() == (3, 3)
    np.testing.assert_array_equal(shared.values[0], masked[:, 0, :, :3, :3])
    np.testing.assert_array_equal(per_case.values[0], shared.values[0])
    dense = softmax_rows((2, 1, 3, 5, 5))
    for tokens in (list("abc"), [list("abc")]):
        with pytest.raises(ValueError, match=r"position\(s\) left out \(3\.\.4, right padding\)"):
            AttentionData(dense, tokens)
    with pytest.raises(ValueError, match="more tokens than positions"):
        AttentionData(masked, list("abcdef"))
