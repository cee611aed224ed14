"""Attention rollout (Abnar & Zuidema 2020): how much each input token reaches each position.

Each layer's heads are fused into one matrix (mean, max or min over heads,
as in the vit-explain scripts), optionally with the weakest weights
discarded, mixed with the residual connection as ``(1 − r)·A + r·I`` (the
paper's 0.5·A + 0.5·I for ``r = 0.5``) and renormalised so every row sums
to 1. The rollout up to layer ``l`` is the product ``Ã_l · Ã_{l−1} ⋯ Ã_0``:
row ``i`` says how much of position ``i``'s representation after layer
``l`` comes from each input token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import as_finite

__all__ = ["HEAD_FUSIONS", "attention_rollout", "check_mixing", "fuse_heads", "mix_residual"]

HEAD_FUSIONS = ("mean", "max", "min")


def check_mixing(head_fusion: str, residual: float, discard_ratio: float) -> None:
    """The options shared by rollout and flow, each checked with the allowed values named."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(
            f"head_fusion: expected one of {', '.join(HEAD_FUSIONS)}, got {head_fusion!r}"
        )
    for name, value, top in (("residual", residual, 1.0), ("discard_ratio", discard_ratio, 1.0)):
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, (int, float, np.floating))
            or not 0 <= float(value) < top
        ):
            raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")


def fuse_heads(block: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """One layer's ``(heads, q, k)`` weights fused into one ``(q, k)`` float64 matrix."""
    check_mixing(head_fusion, 0.5, 0.0)
    if head_fusion == "mean":
        return block.mean(axis=0, dtype=np.float64)
    reduce = np.max if head_fusion == "max" else np.min
    return reduce(block, axis=0).astype(np.float64)


def mix_residual(
    fused: np.ndarray, residual: float = 0.5, discard_ratio: float = 0.0, *, layer: int = 0
) -> np.ndarray:
    """``(1 − r)·A + r·I`` with rows renormalised to 1, after discarding the weakest weights.

    ``discard_ratio``: that fraction of the matrix's weights, the smallest
    first (ties by position), is set to 0 before mixing; as in vit-explain
    the first token's weight on itself is never discarded.
    """
    n = fused.shape[0]
    if fused.shape != (n, n):
        raise ValueError(
            f"attentions: rollout and flow need self-attention (q == k); layer {layer} is "
            f"{fused.shape[0]} x {fused.shape[1]}"
        )
    matrix = np.array(fused, dtype=np.float64)
    dropped = int(matrix.size * discard_ratio)
    if dropped:
        flat = matrix.reshape(-1)
        weakest = np.argsort(flat, kind="stable")[:dropped]
        flat[weakest[weakest != 0]] = 0.0
    matrix *= 1.0 - residual
    matrix[np.diag_indices(n)] += residual
    sums = matrix.sum(axis=1, keepdims=True)
    if not (sums > 0).all():
        row = int(np.flatnonzero(sums[:, 0] <= 0)[0])
        raise ValueError(
            f"attentions: layer {layer} row {row} has no weight left to normalise "
            "(residual=0 with a zero row); use residual > 0"
        )
    return matrix / sums


def rollout_of_mixed(mixed: np.ndarray) -> np.ndarray:
    """Cumulative products ``Ã_l ⋯ Ã_0`` of ``(layers, n, n)`` mixed matrices."""
    out = np.empty_like(mixed)
    current = mixed[0]
    out[0] = current
    for layer in range(1, mixed.shape[0]):
        current = mixed[layer] @ current
        out[layer] = current
    return out


def attention_rollout(
    attentions: Any,
    *,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
) -> np.ndarray:
    """Rollout up to each layer of ``(layers, heads, n, n)`` weights: ``(layers, n, n)`` float64.

    ``rollout[l] = Ã_l ⋯ Ã_0`` with ``Ã = rownorm((1 − residual)·fuse(A) + residual·I)``;
    ``head_fusion`` is ``"mean"``, ``"max"`` or ``"min"`` over heads and
    ``discard_ratio`` the share of each fused layer's smallest weights set to
    0 first (see :func:`mix_residual`). Every row of every layer sums to 1.
    """
    check_mixing(head_fusion, residual, discard_ratio)
    array = as_finite(attentions, "attentions", ndim=4, layout="(layers, heads, n, n)")
    if (array < 0).any():
        raise ValueError("attentions: expected non-negative weights, got negative values")
    mixed = np.stack(
        [
            mix_residual(fuse_heads(array[m], head_fusion), residual, discard_ratio, layer=m)
            for m in range(array.shape[0])
        ]
    )
    return rollout_of_mixed(mixed)
