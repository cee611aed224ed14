"""Attention weights from the queries and keys a layer used, as eager attention computes them.

``softmax(Q Kᵀ · scaling + position bias + mask)`` in float32, with the
causal pattern applied when the layer relies on it instead of a mask (what
transformers' sdpa path does when there is no padding), tanh soft-capping and
attention sinks where a model has them.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["attention_weights", "slice_heads"]


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


def attention_weights(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    scaling: float,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    position_bias: torch.Tensor | None = None,
    softcap: float | None = None,
    sinks: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weights ``(batch, heads, q, k)`` in float32 whose rows sum to 1.

    ``query`` is ``(batch, heads, q, d)`` and ``key`` ``(batch, heads, k, d)``
    (key heads already matched to query heads). A boolean ``mask`` is True
    where attention is allowed; a float one is added to the scores.
    """
    scores = torch.matmul(query.float(), key.float().transpose(-1, -2))
    scores.mul_(scaling)
    if softcap is not None:
        scores = torch.tanh(scores / softcap).mul_(softcap)
    if position_bias is not None:
        scores.add_(position_bias.float())
    # The most negative float32, not -inf: a row with every key masked (a pad
    # row) then comes out uniform instead of NaN; it is cropped anyway.
    lowest = torch.finfo(torch.float32).min
    if mask is not None:
        if mask.dtype == torch.bool:
            scores.masked_fill_(~mask, lowest)
        else:
            scores.add_(mask.float()).clamp_(min=lowest)
    elif causal and scores.shape[-2] > 1:
        q, k = scores.shape[-2:]
        above = torch.ones(q, k, dtype=torch.bool, device=scores.device).triu_(1)
        scores.masked_fill_(above, lowest)
    if sinks is not None:
        # A sink is one extra logit per head that takes weight but has no value.
        sink = sinks.float().reshape(1, -1, 1, 1).expand(*scores.shape[:-1], 1)
        return torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[..., :-1]
    return torch.softmax(scores, dim=-1)


def scaling_of(query: torch.Tensor, kwargs: dict[str, Any]) -> float:
    """The factor on ``Q Kᵀ``: what the layer passed, else ``1/sqrt(head_dim)`` as sdpa uses."""
    scaling = kwargs.get("scaling")
    return float(scaling) if scaling is not None else float(query.shape[-1]) ** -0.5
