"""``lazy=True`` for models outside transformers' attention interface: hook the attention modules.

Such models (GPT-Neo, BLOOM, MPT, Falcon, XGLM, MPNet, BigBird, DeBERTa) compute
their attention in their own code, so no attention function hands over
queries and keys. Instead a forward hook on each attention module reads what
the module was given (hidden states, ALiBi tensor, position bias, mask) and
the recipe for that module class recomputes its queries and keys with the
module's own projections. The model runs once with eager attention and
``output_attentions``: each layer's own weights are compared with the rows
computed from what was kept (:mod:`.lazy_capture`), then dropped from the
module's output at once, so no more than one layer's weights are ever held.

Modules without a recipe (Longformer's and LED's global tokens, BigBird's
block-sparse attention, DeBERTa v1) are refused in one sentence.
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
    relative: Any = None  # lazy_scores.RelativeTerms over the padded length (DeBERTa)
    # The layer's own (B, heads, q, k) weights from its output, where they are not
    # there as such (Longformer's banded rows), and which output slot holds them.
    own_weights: Callable[[Any], torch.Tensor] | None = None
    weights_slot: int = 1
    # Positions past the batch's length are the model's own padding (Longformer
    # pads to a multiple of its window): cropped off.
    padded: bool = False
    # What replaces the dropped weights: None, or an empty tensor of their rank for
    # models whose next layer still transposes and crops them (Longformer's encoder).
    empty_in_place: bool = False


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


def _bart_like(m: Any, a: dict[str, Any]) -> LayerInputs:
    """XGLM's and LED's decoder attention (BART's shape): ``q · scaling``, keys from the
    encoder's states for cross-attention; the mask holds causality and padding."""
    h = a["hidden_states"]
    source = a.get("key_value_states")
    q = _heads(m.q_proj(h), m.num_heads)
    k = _heads(m.k_proj(h if source is None else source), m.num_heads)
    allowed = _allowed_from_additive(a.get("attention_mask"))
    causal = source is None and bool(getattr(m, "is_decoder", True))
    return LayerInputs(q, k, float(m.scaling), allowed, causal)


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


def _longformer(m: Any, a: dict[str, Any]) -> LayerInputs:
    """Longformer and LED encoders without global tokens: a band of ``w`` keys either side."""
    from .banded import full_from_banded

    if a.get("is_global_attn"):
        raise _NoRecipe("global tokens (their own query and key projections)")
    h = a["hidden_states"]  # (B, S_pad, D)
    q = _heads(m.query(h), m.num_heads) / math.sqrt(m.head_dim)
    k = _heads(m.key(h), m.num_heads)
    w = m.one_sided_attn_window_size
    n = h.shape[1]
    near = torch.arange(n, device=h.device)[None, :] - torch.arange(n, device=h.device)[:, None]
    keys = a["attention_mask"] == 0  # (B, S_pad): 0 = attends locally, < 0 = masked
    allowed = (near.abs() <= w)[None, None] & keys[:, None, None, :]

    def own(output: Any) -> torch.Tensor:
        banded = output[1].transpose(1, 2)  # (B, heads, S_pad, 2w + 1)
        return full_from_banded(banded, None, w, [[] for _ in range(banded.shape[0])])

    return LayerInputs(q, k, 1.0, allowed, False, own_weights=own, padded=True, empty_in_place=True)


def _offsets(matrix: torch.Tensor) -> torch.Tensor:
    """The ``(q + k - 1,)`` vector of a ``(q, k)`` matrix that depends on ``j - i`` only."""
    from ..lazy_scores import toeplitz_table

    vector = toeplitz_table(matrix[None])
    if vector is None:
        raise _NoRecipe("relative positions that do not depend on the offset alone")
    return vector[0]


def _deberta(m: Any, a: dict[str, Any]) -> LayerInputs:
    """DeBERTa (v2, v3): ``(q·k + c2p + p2c) / sqrt(d · factor)``, the relative terms by offset."""
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

    from ..lazy_scores import RelativeTerms

    h = a["hidden_states"]
    states = a.get("query_states")
    states = h if states is None else states
    heads = m.num_attention_heads

    def split(x: torch.Tensor) -> torch.Tensor:
        flat = m.transpose_for_scores(x, heads)  # (B * heads, n, d)
        return flat.view(x.shape[0], heads, *flat.shape[1:])

    q, k = split(m.query_proj(states)), split(m.key_proj(h))
    types = m.pos_att_type or []
    factor = 1 + ("c2p" in types) + ("p2c" in types)
    scaling = 1.0 / math.sqrt(q.shape[-1] * factor)
    allowed = a["attention_mask"].bool()
    relative = None
    if m.relative_attention:
        if q.shape[2] != k.shape[2]:
            raise _NoRecipe("queries and keys of different lengths")
        positions = a.get("relative_pos")
        if positions is None:
            positions = build_relative_position(
                q[0], k[0], bucket_size=m.position_buckets, max_position=m.max_relative_positions
            )
        positions = positions.reshape(-1, *positions.shape[-2:])[0].long()
        span = m.pos_ebd_size
        embeddings = m.pos_dropout(a["rel_embeddings"])[: 2 * span][None]
        keys_proj: Any = m.key_proj if m.share_att_key else getattr(m, "pos_key_proj", None)
        queries_proj: Any = m.query_proj if m.share_att_key else getattr(m, "pos_query_proj", None)
        c2p = "c2p" in types
        p2c = "p2c" in types
        relative = RelativeTerms(
            position_keys=split(keys_proj(embeddings))[0] if c2p else None,
            c2p_index=_offsets(torch.clamp(positions + span, 0, 2 * span - 1)) if c2p else None,
            position_queries=split(queries_proj(embeddings))[0] if p2c else None,
            # p2c[i, j] reads bucket p2c_pos[j, i]: the transposed matrix, by offset.
            p2c_index=_offsets(torch.clamp(-positions + span, 0, 2 * span - 1).T) if p2c else None,
        )
    return LayerInputs(q, k, scaling, allowed, False, None, relative)


# "model.Class" (transformers' models/<model>/modeling_<model>.py) -> recipe. Each
# recipe mirrors that class's forward in transformers 5.x; the sampled-row check
# catches any drift. Classes of the same name elsewhere (DeBERTa v1's
# DisentangledSelfAttention) have no recipe.
RECIPES: dict[str, Callable[[Any, dict[str, Any]], LayerInputs]] = {
    "bloom.BloomAttention": _bloom,
    "mpt.MptAttention": _mpt,
    "falcon.FalconAttention": _falcon,
    "gpt_neo.GPTNeoSelfAttention": _gpt_neo,
    "xglm.XGLMAttention": _bart_like,
    "led.LEDDecoderAttention": _bart_like,
    "mpnet.MPNetSelfAttention": _bert_like("q", "k", "attention_head_size"),
    "big_bird.BigBirdSelfAttention": _bert_like("query", "key", "attention_head_size"),
    "deberta_v2.DisentangledSelfAttention": _deberta,
    "longformer.LongformerSelfAttention": _longformer,
    "led.LEDEncoderSelfAttention": _longformer,
}

# Attention modules known to have no recipe, and why (one clause each).
WHY_NOT: dict[str, str] = {
    "big_bird.BigBirdBlockSparseAttention": "attends to random blocks of keys",
}


class _NoRecipe(Exception):
    pass


def recipe_key(module: Any) -> str:
    """``"model.Class"`` of a transformers module (``"bloom.BloomAttention"``)."""
    where = type(module).__module__.rsplit(".", 1)[-1].removeprefix("modeling_")
    return f"{where}.{type(module).__name__}"


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
        name, key = type(module).__name__, recipe_key(module)
        if key in WHY_NOT:
            raise _refuse(
                model,
                f"uses {name}, which {WHY_NOT[key]}, so queries and keys "
                "alone cannot reproduce its weights",
            )
        if key not in RECIPES:
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
            layer = RECIPES[recipe_key(module)](module, arguments)
        except _NoRecipe as why:
            raise _refuse(
                model, f"has {why} in {type(module).__name__}, for which attn_widget has no recipe"
            ) from None
        except (AttributeError, KeyError, TypeError, RuntimeError) as error:
            # Another library's class of the same name, or a version that moved things.
            raise _refuse(
                model,
                f"has a {type(module).__name__} that attn_widget's recipe of that name does "
                f"not fit ({type(error).__name__}: {error})",
            ) from error
        if layer.own_weights is not None:
            slot, weights = layer.weights_slot, layer.own_weights(output)
        else:
            slot, weights = _own_weights(output, layer.query, layer.key)
        if weights is None:
            raise _refuse(
                model,
                f"returned no weights from {type(module).__name__} to check "
                "the kept queries and keys against",
            )
        recorder.keep_hooked(module, layer, weights)
        # The layer's weights were checked: drop them, so no more than one is ever held.
        dropped = output[slot].new_zeros((0,) * output[slot].ndim) if layer.empty_in_place else None
        return (*output[:slot], dropped, *output[slot + 1 :])

    # First in line: transformers' own output-capturing hooks then see the dropped weights.
    handles = [m.register_forward_hook(hook, with_kwargs=True, prepend=True) for m in modules]
    try:
        with restored(model):
            forced_eager(model)
            run(output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
