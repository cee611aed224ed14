"""capture_attention on torch.nn transformers, including PyTorch's fast path (eval + no_grad)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import attn_widget as aw  # noqa: E402

D, HEADS = 16, 4


def _transformer(batch_first: bool = True) -> Any:
    torch.manual_seed(0)
    return nn.Transformer(
        d_model=D,
        nhead=HEADS,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=32,
        dropout=0.1,
        batch_first=batch_first,
    ).eval()


def _by_hand(mha: Any, query: Any, key: Any, batch_first: bool, causal: bool = False) -> Any:
    """softmax(Q Kᵀ / sqrt(d)) per head from the module's own projection weights."""
    if not batch_first:
        query, key = query.transpose(0, 1), key.transpose(0, 1)
    w, b = mha.in_proj_weight, mha.in_proj_bias
    q = query @ w[:D].T + b[:D]
    k = key @ w[D : 2 * D].T + b[D : 2 * D]
    d = D // HEADS

    def split(x: Any) -> Any:
        return x.reshape(x.shape[0], x.shape[1], HEADS, d).transpose(1, 2)

    scores = split(q) @ split(k).transpose(-1, -2) / d**0.5
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1).detach().numpy()


def _inputs_of_every_attention(model: Any) -> tuple[list[Any], list[Any]]:
    """Record each nn.MultiheadAttention's (query, key) with hooks of the test's own."""
    seen: list[tuple[str, Any, Any]] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):

            def hook(_m: Any, args: Any, kwargs: Any, name: str = name) -> None:
                seen.append((name, args[0].detach().clone(), args[1].detach().clone()))

            handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
    return seen, handles


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("batch_first", [True, False])
def test_eval_no_grad_weights_equal_softmax_by_hand(batch_first: bool) -> None:
    model = _transformer(batch_first)
    src, tgt = torch.randn(3, 7, D), torch.randn(3, 5, D)
    if not batch_first:
        src, tgt = src.transpose(0, 1), tgt.transpose(0, 1)
    mask = model.generate_square_subsequent_mask(5)
    assert torch.backends.mha.get_fastpath_enabled()
    fast = mock.patch.object(
        torch, "_transformer_encoder_layer_fwd", wraps=torch._transformer_encoder_layer_fwd
    )
    with torch.no_grad():
        with fast as fused:
            plain = model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
        # batch_first: PyTorch's fast path runs the encoder layers fused, without
        # calling their attention modules.
        assert fused.call_count == (2 if batch_first else 0)
        with fast as fused, aw.capture_attention(model) as captured:
            out = model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
        assert fused.call_count == 0
        seen, handles = _inputs_of_every_attention(model)
        with aw.capture_attention(model):
            model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
        for h in handles:
            h.remove()
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=0)  # the model's output is unchanged
    parts = captured.components()
    assert list(parts) == ["encoder", "decoder", "cross"]
    assert [a.shape for a in parts["encoder"]] == [(3, HEADS, 7, 7)] * 2
    assert [a.shape for a in parts["decoder"]] == [(3, HEADS, 5, 5)] * 2
    assert [a.shape for a in parts["cross"]] == [(3, HEADS, 5, 7)] * 2
    modules = dict(model.named_modules())
    order = {"encoder": 0, "decoder": 0, "cross": 0}
    for name, query, key in seen:
        part = "cross" if name.endswith("multihead_attn") else name.split(".")[0]
        expected = _by_hand(modules[name], query, key, batch_first, causal=part == "decoder")
        np.testing.assert_allclose(parts[part][order[part]], expected, atol=1e-5)
        order[part] += 1
    assert order == {"encoder": 2, "decoder": 2, "cross": 2}
    assert torch.backends.mha.get_fastpath_enabled()  # restored


@pytest.mark.parametrize("enabled", [True, False])
def test_every_setting_is_restored(enabled: bool) -> None:
    model = _transformer()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        training = [m.training for m in model.modules()]
        with torch.no_grad(), aw.capture_attention(model):
            assert not torch.backends.mha.get_fastpath_enabled()
            model(torch.randn(1, 4, D), torch.randn(1, 3, D))
        assert torch.backends.mha.get_fastpath_enabled() is enabled
        assert [m.training for m in model.modules()] == training
        for module in model.modules():
            assert not module._forward_hooks and not module._forward_pre_hooks
            assert not module._forward_hooks_with_kwargs
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


def test_settings_are_restored_when_the_forward_fails() -> None:
    model = _transformer()
    with pytest.raises(RuntimeError), aw.capture_attention(model):
        model(torch.randn(1, 4, D + 1), torch.randn(1, 3, D))
    assert torch.backends.mha.get_fastpath_enabled()
    assert all(not m._forward_hooks for m in model.modules())


def test_nested_tensor_fast_path_with_padding_is_captured_and_cropped() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D, HEADS, dim_feedforward=32, batch_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=True).eval()
    src = torch.randn(2, 6, D)
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    with torch.no_grad(), aw.capture_attention(encoder) as captured:
        encoder(src, src_key_padding_mask=padding)
    layers = captured.components()["encoder"]
    assert len(layers) == 2 and layers[0].shape == (2, HEADS, 6, 6)
    assert np.all(layers[0][1, :, :, 4:] == 0)  # padded keys get no weight
    tokens = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(4)]]
    data = captured.to_data(tokens)
    assert data.shape(0) == (6, 6) and data.shape(1) == (4, 4)
    np.testing.assert_allclose(data.values[1].sum(-1), 1.0, atol=1e-5)


def test_direct_calls_keep_what_the_caller_asked_for() -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(D, HEADS, batch_first=True).eval()
    x = torch.randn(2, 5, D)
    with torch.no_grad():
        _, averaged = mha(x, x, x)
        with aw.capture_attention(mha) as captured:
            _, inside = mha(x, x, x)
            _, none = mha(x, x, x, need_weights=False)
            _, per_head = mha(x, x, x, None, True, None, False)  # positional arguments
            mha(x[0], x[0], x[0])  # unbatched: one case
    torch.testing.assert_close(inside, averaged)
    assert none is None
    assert per_head.shape == (2, HEADS, 5, 5)
    layers = captured.components()["attention"]
    assert [a.shape for a in layers] == [(2, HEADS, 5, 5)] * 3 + [(1, HEADS, 5, 5)]
    np.testing.assert_allclose(layers[0].mean(1), averaged.numpy(), atol=1e-6)
    assert len(captured) == 4


def test_each_forward_pass_is_a_run() -> None:
    model = _transformer()
    with torch.no_grad(), aw.capture_attention(model) as captured:
        model(torch.randn(1, 4, D), torch.randn(1, 3, D))
        model(torch.randn(1, 6, D), torch.randn(1, 2, D))
    assert len(captured.runs) == 2
    assert captured.components(0)["encoder"][0].shape[-1] == 4
    assert captured.components()["encoder"][0].shape[-1] == 6
    with pytest.raises(ValueError, match=r"run: expected 0\.\.1"):
        captured.components(5)


def test_components_become_a_widget_with_tokens_on_the_right_axes() -> None:
    model = _transformer()
    with torch.no_grad(), aw.capture_attention(model) as captured:
        model(torch.randn(1, 4, D), torch.randn(1, 3, D))
    source, target = ["the", "cat", "sat", "."], ["le", "chat", "."]
    parts = captured.to_components(source, target)
    assert parts["encoder"].tokens[0] == source
    assert parts["decoder"].tokens[0] == target
    assert parts["cross"].tokens[0] == source and parts["cross"].query_tokens[0] == target
    w = aw.AttentionWidget(captured.to_components(source, target))
    assert list(w.components) == ["encoder", "decoder", "cross"]
    with pytest.raises(ValueError, match="component: expected one of"):
        captured.to_data(source)


def test_train_mode_records_weights_after_dropout() -> None:
    model = _transformer().train()
    with aw.capture_attention(model) as captured:
        model(torch.randn(2, 6, D), torch.randn(2, 3, D))
    weights = captured.components()["encoder"][0]
    assert weights.shape == (2, HEADS, 6, 6)
    assert not np.allclose(weights.sum(-1), 1.0)  # dropout zeroes and rescales weights


def test_bad_modules_are_refused() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"), aw.capture_attention("model"):  # type: ignore[arg-type]
        pass
    with (
        pytest.raises(ValueError, match=r"no nn\.MultiheadAttention"),
        aw.capture_attention(nn.Linear(2, 2)),
    ):
        pass
    with aw.capture_attention(_transformer()) as captured:
        pass
    with pytest.raises(ValueError, match="recorded nothing"):
        captured.components()
