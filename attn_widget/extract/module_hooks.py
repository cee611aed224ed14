"""``lazy=True`` for models outside transformers' attention interface: hook the attention modules.

Such models (GPT-Neo, BLOOM, MPT, Falcon, XGLM, MPNet, BigBird) compute
their attention in their own code, so no attention function hands over
queries and keys. Instead a forward hook on each attention module reads what
the module was given (hidden states, ALiBi tensor, position bias, mask) and
the recipe for that module class recomputes its queries and keys with the
module's own projections. The model runs once with eager attention and
``output_attentions``: each layer's own weights are compared with the rows
computed from what was kept (:mod:`.lazy_capture`), then dropped from the
module's output at once, so no more than one layer's weights are ever held.

Modules without a recipe (DeBERTa's disentangled attention, Longformer's
global tokens, BigBird's block-sparse attention) are refused in one sentence.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .eager import forced_eager
from .interface import restored

__all__ = ["RECIPES", "lazy_outside_interface"]


@dataclass
class LayerInputs:
    """What a recipe recomputes: the layer's queries, keys and what it adds to their product."""

    query: torch.Tensor  # (B, heads, q, d)
    key: torch.Tensor  # (B, kv_heads, k, d)
    scaling: float
    allowed: torch.Tensor | None  # bool (B|1, 1, q, k), True = attend; None: all (or causal)
    causal: bool = False
    bias: torch.Tensor | None = None  # (B|1, heads, q|1, k)


def _allowed_from_additive(mask: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return mask
    return mask > torch.finfo(mask.dtype).min / 2


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, S, heads * d) -> (B, heads, S, d)."""
    b, s, _ = x.shape
    return x.view(b, s, heads, -1).transpose(1, 2)


def _bloom(m: Any, a: dict[str, Any]) -> LayerInputs:
    h = a["hidden_states"]
    b = h.shape[0]
    q, k, _ = m._reshape(m.query_key_value(h))
    alibi = a["alibi"].view(b, m.num_heads, 1, -1) * m.beta
    return LayerInputs(
        q, k, float(m.inv_norm_factor), _allowed_from_additive(a.get("attention_mask")), True, alibi
    )


def _mpt(m: Any, a: dict[str, Any]) -> LayerInputs:
    h = a["hidden_states"]
    qkv = m.Wqkv(h)
    if m.clip_qkv:
        qkv = qkv.clamp(min=-m.clip_qkv, max=m.clip_qkv)
    q, k, _ = qkv.chunk(3, dim=2)
    q, k = _heads(q, m.n_heads), _heads(k, m.n_heads)
    bias = a.get("position_bias")
    if bias is not None:
        bias = bias[:, -q.shape[2] :, -k.shape[2] :][None]
    mask = a.get("attention_mask")  # bool, True = masked out
    allowed = None if mask is None else ~mask
    return LayerInputs(q, k, float(m.softmax_scale), allowed, True, bias)


def _falcon(m: Any, a: dict[str, Any]) -> LayerInputs:
    h = a["hidden_states"]
    q, k, _ = m._split_heads(m.query_key_value(h))
    b, n = q.shape[:2]
    kv_heads = m.num_heads if m.new_decoder_architecture else m.num_kv_heads
    q = q.transpose(1, 2).reshape(b, m.num_heads, n, m.head_dim)
    k = k.transpose(1, 2).reshape(b, kv_heads, n, m.head_dim)
    allowed = _allowed_from_additive(a.get("attention_mask"))
    alibi = a.get("alibi")
    if alibi is None:
        from transformers.models.falcon.modeling_falcon import apply_rotary_pos_emb

        cos, sin = a["position_embeddings"]
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        return LayerInputs(q, k, 1.0 / math.sqrt(m.head_dim), allowed, True)
    # (scores + alibi) * inv_norm: the bias is scaled too.
    bias = alibi.view(b, m.num_heads, 1, -1) * m.inv_norm_factor
    mask = a.get("attention_mask")
    if mask is not None and mask.dtype != torch.bool:
        # FalconModel folds alibi / sqrt(d) into the mask as well: a second, per-key bias,
        # read off the last row (which sees every key of a right-padded case).
        last = mask[..., -1:, :]
        bias = bias + torch.where(last > torch.finfo(last.dtype).min / 2, last, 0.0)
    return LayerInputs(q, k, float(m.inv_norm_factor), allowed, True, bias)


def _gpt_neo(m: Any, a: dict[str, Any]) -> LayerInputs:
    h = a["hidden_states"]
    q = m._split_heads(m.q_proj(h), m.num_heads, m.head_dim)
    k = m._split_heads(m.k_proj(h), m.num_heads, m.head_dim)
    n = q.shape[2]
    allowed = m.bias[:, :, :n, :n]  # the causal (or local) pattern, True = attend
    mask = _allowed_from_additive(a.get("attention_mask"))
    if mask is not None:
        allowed = allowed & mask
    return LayerInputs(q, k, 1.0, allowed, True)


def _xglm(m: Any, a: dict[str, Any]) -> LayerInputs:
    if a.get("key_value_states") is not None:
        raise _NoRecipe("its cross-attention")
    h = a["hidden_states"]
    q, k = _heads(m.q_proj(h), m.num_heads), _heads(m.k_proj(h), m.num_heads)
    return LayerInputs(
        q, k, float(m.scaling), _allowed_from_additive(a.get("attention_mask")), True
    )


def _bert_like(query: str, key: str, size: str) -> Callable[[Any, dict[str, Any]], LayerInputs]:
    """MPNet and BigBird (full attention): ``q · k / sqrt(d)`` (+ MPNet's position bias)."""

    def recipe(m: Any, a: dict[str, Any]) -> LayerInputs:
        if a.get("encoder_hidden_states") is not None:
            raise _NoRecipe("its cross-attention")
        h = a["hidden_states"]
        d = getattr(m, size)
        q = getattr(m, query)(h).view(*h.shape[:2], -1, d).transpose(1, 2)
        k = getattr(m, key)(h).view(*h.shape[:2], -1, d).transpose(1, 2)
        allowed = _allowed_from_additive(a.get("attention_mask"))
        bias = a.get("position_bias")
        return LayerInputs(q, k, 1.0 / math.sqrt(d), allowed, False, bias)

    return recipe


# Module class name -> recipe. Each recipe mirrors that class's forward in
# transformers 5.x; the sampled-row check catches any drift.
RECIPES: dict[str, Callable[[Any, dict[str, Any]], LayerInputs]] = {
    "BloomAttention": _bloom,
    "MptAttention": _mpt,
    "FalconAttention": _falcon,
    "GPTNeoSelfAttention": _gpt_neo,
    "XGLMAttention": _xglm,
    "MPNetSelfAttention": _bert_like("q", "k", "attention_head_size"),
    "BigBirdSelfAttention": _bert_like("query", "key", "attention_head_size"),
}

# Attention modules known to have no recipe, and why (one clause each).
WHY_NOT: dict[str, str] = {
    "DisentangledSelfAttention": (
        "adds content-to-position and position-to-content terms from relative position "
        "embeddings to every score"
    ),
    "LongformerSelfAttention": "mixes a sliding window with global tokens of their own projections",
    "LEDEncoderSelfAttention": "mixes a sliding window with global tokens of their own projections",
    "BigBirdBlockSparseAttention": "attends to random blocks of keys",
}


class _NoRecipe(Exception):
    pass


def _attention_modules(model: Any) -> list[Any]:
    """Innermost attention modules (as in structure.expected_layers), in call order."""
    found = []
    for module in model.modules():
        if "attention" not in type(module).__name__.lower():
            continue
        inner = (m for m in module.modules() if m is not module)
        if any("attention" in type(m).__name__.lower() for m in inner):
            continue
        found.append(module)
    return found


def _refuse(model: Any, reason: str) -> ValueError:
    return ValueError(f"lazy=True: {type(model).__name__} {reason}; use lazy=False")


def _own_weights(output: Any, query: torch.Tensor, key: torch.Tensor) -> tuple[int, Any]:
    """Where in the module's output its ``(B, H, q, k)`` weights are, and them."""
    if isinstance(output, tuple):
        for i, item in enumerate(output[1:], start=1):
            same = (query.shape[2], key.shape[2])
            if isinstance(item, torch.Tensor) and item.ndim == 4 and item.shape[-2:] == same:
                return i, item
            if isinstance(item, torch.Tensor) and item.ndim == 3:  # (B * H, q, k)
                b, h = query.shape[:2]
                if item.shape == (b * h, query.shape[2], key.shape[2]):
                    return i, item.view(b, h, *item.shape[1:])
    return -1, None


def lazy_outside_interface(model: Any, recorder: Any, run: Any) -> None:
    """Keep queries and keys of every layer through module hooks, or refuse in one sentence."""
    modules = _attention_modules(model)
    if not modules:
        raise _refuse(model, "has no attention module that attn_widget can find")
    for module in modules:
        name = type(module).__name__
        if name in WHY_NOT:
            raise _refuse(
                model,
                f"uses {name}, which {WHY_NOT[name]}, so queries and keys "
                "alone cannot reproduce its weights",
            )
        if name not in RECIPES:
            raise _refuse(
                model,
                f"computes attention in its own code ({name}) rather than through "
                "transformers' attention interface, and attn_widget has no recipe for its "
                "queries and keys",
            )
    signatures = {type(m): inspect.signature(type(m).forward) for m in modules}

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        bound = signatures[type(module)].bind(module, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.update(arguments.pop("kwargs", {}) or {})
        try:
            layer = RECIPES[type(module).__name__](module, arguments)
        except _NoRecipe as why:
            raise _refuse(
                model, f"has {why} in {type(module).__name__}, for which attn_widget has no recipe"
            ) from None
        slot, weights = _own_weights(output, layer.query, layer.key)
        if weights is None:
            raise _refuse(
                model,
                f"returned no weights from {type(module).__name__} to check "
                "the kept queries and keys against",
            )
        recorder.keep_hooked(module, layer, weights)
        # The layer's weights were checked: drop them, so no more than one is ever held.
        return (*output[:slot], None, *output[slot + 1 :])

    # First in line: transformers' own output-capturing hooks then see the dropped weights.
    handles = [m.register_forward_hook(hook, with_kwargs=True, prepend=True) for m in modules]
    try:
        with restored(model):
            forced_eager(model)
            run(output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
