"""Attention weights from the queries and keys a layer used, as eager attention computes them.

``softmax(Q Kᵀ · scaling + position bias + mask)`` in float32, with tanh
soft-capping and attention sinks where a model has them. Every step after the
product works in place, and the product can be written straight into the
caller's storage (``out``), so a layer's weights cost one buffer, not four.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "attention_weights",
    "blocked_of",
    "causal_blocked",
    "eager_output",
    "scaling_of",
    "slice_heads",
]

# The most negative float32, not -inf: a row with every key masked (a pad row)
# then comes out uniform instead of NaN; it is cropped anyway.
LOWEST = torch.finfo(torch.float32).min


def slice_heads(tensor: torch.Tensor | None, case: int, h0: int, h1: int) -> torch.Tensor | None:
    """``tensor[case, h0:h1]`` of a ``(batch|1, heads|1, q, k)`` mask or bias (broadcasts kept)."""
    if tensor is None:
        return None
    if tensor.ndim == 2:  # (q, k): shared by every case and head
        return tensor[None, None]
    if tensor.ndim == 3:  # (batch|1, q, k)
        tensor = tensor[:, None]
    rows = tensor[case : case + 1] if tensor.shape[0] > 1 else tensor
    return rows[:, h0:h1] if rows.shape[1] > 1 else rows


def blocked_of(mask: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(blocked, additive)``: a boolean mask (True = attend) becomes its complement."""
    if mask is None:
        return None, None
    if mask.dtype == torch.bool:
        return mask.logical_not(), None
    return None, mask


def attention_weights(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    scaling: float,
    blocked: torch.Tensor | None = None,
    additive: torch.Tensor | None = None,
    position_bias: torch.Tensor | None = None,
    softcap: float | None = None,
    sinks: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weights ``(batch, heads, q, k)`` in float32 whose rows sum to 1.

    ``query`` is ``(batch, heads, q, d)`` and ``key`` ``(batch, heads, k, d)``
    (key heads already matched to query heads). ``blocked`` is True where
    attention is not allowed (the causal triangle, padding); ``additive`` is a
    float mask added to the scores. ``out``, a float32 tensor of the result's
    shape, receives the weights and is returned.
    """
    q, k = query.float(), key.float().transpose(-1, -2)
    scores = torch.matmul(q, k) if out is None else torch.matmul(q, k, out=out)
    scores.mul_(scaling)
    if softcap is not None:
        scores.div_(softcap).tanh_().mul_(softcap)
    if position_bias is not None:
        scores.add_(position_bias)
    if blocked is not None:
        scores.masked_fill_(blocked, LOWEST)
    if additive is not None:
        # A float mask already holds its dtype's lowest value: adding it may overflow.
        scores.add_(additive).clamp_(min=LOWEST)
    if sinks is not None:
        # A sink is one extra logit per head that takes weight but has no value.
        sink = sinks.float().reshape(1, -1, 1, 1).expand(*scores.shape[:-1], 1)
        weights = torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[..., :-1]
        return scores.copy_(weights)
    return torch.softmax(scores, dim=-1, out=scores)


def causal_blocked(q: int, k: int, device: Any) -> torch.Tensor:
    """True above the diagonal: what a causal layer without a mask may not see."""
    return torch.ones(q, k, dtype=torch.bool, device=device).triu_(1)


def scaling_of(query: torch.Tensor, kwargs: dict[str, Any]) -> float:
    """The factor on ``Q Kᵀ``: what the layer passed, else ``1/sqrt(head_dim)`` as sdpa uses."""
    scaling = kwargs.get("scaling")
    return float(scaling) if scaling is not None else float(query.shape[-1]) ** -0.5


def eager_output(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    causal: bool,
    scaling: float,
    kwargs: dict[str, Any],
) -> tuple[torch.Tensor, None]:
    """The layer's output where sdpa cannot compute it (soft-capping, sinks), case by case."""
    cases, heads, q, _ = query.shape
    group = heads // key.shape[1]
    out = torch.empty(cases, q, heads, value.shape[-1], dtype=value.dtype, device=value.device)
    triangle = causal_blocked(q, key.shape[2], query.device) if causal else None
    sinks = kwargs.get("s_aux")
    for c in range(cases):
        blocked, additive = blocked_of(slice_heads(mask, c, 0, heads))
        if blocked is None and triangle is not None:
            blocked = triangle
        weights = attention_weights(
            query[c : c + 1],
            key[c : c + 1].repeat_interleave(group, dim=1),
            scaling=scaling,
            blocked=blocked,
            additive=additive,
            position_bias=slice_heads(kwargs.get("position_bias"), c, 0, heads),
            softcap=kwargs.get("softcap"),
            sinks=sinks,
        )
        values = value[c : c + 1].repeat_interleave(group, dim=1)
        out[c] = torch.matmul(weights.to(value.dtype), values)[0].transpose(0, 1)
    return out, None
