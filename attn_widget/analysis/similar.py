"""Heads like this one (pattern similarity) and each head's sink keys.

:func:`similar_heads` ranks every head by how much its attention pattern
looks like one given head's (cosine of the flattened matrices, or their
correlation), averaged over cases. :func:`sink_columns` and :func:`sink_keys`
say which key positions a head dumps its weight on, so that a picture can
rescale its colours with those keys left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validate import as_finite
from .atlas import is_causal, layer_block

__all__ = ["SINK_RATIO", "SINK_THRESHOLD", "similar_heads", "sink_columns", "sink_keys"]

SINK_THRESHOLD = 0.3
SINK_RATIO = 3.0


def _cases(source: Any, case: int | Sequence[int] | None) -> list[int]:
    if case is None:
        return list(range(source.n_cases))
    picked = [case] if isinstance(case, (int, np.integer)) else list(case)
    if not picked:
        raise ValueError("case: expected a case index or a non-empty list of them, got []")
    for c in picked:
        source.check_index(case=c)
    return [int(c) for c in picked]


def similar_heads(
    source: Any,
    layer: int,
    head: int,
    *,
    case: int | Sequence[int] | None = None,
    measure: str = "cosine",
) -> list[tuple[int, int, float]]:
    """Every ``(layer, head, similarity)``, most like head ``(layer, head)`` first.

    ``measure="cosine"``: the cosine of the two flattened ``(q, k)`` matrices
    (1 for the same pattern, whatever its scale); ``"correlation"``: their
    Pearson correlation (the mean cell removed first, so two diffuse heads
    are not alike merely for being positive everywhere). Averaged over the
    cases (all by default; ``case`` picks one or a list). The head itself
    comes first with 1 (ties: lower layer, then head).
    """
    if measure not in ("cosine", "correlation"):
        raise ValueError(f"measure: expected 'cosine' or 'correlation', got {measure!r}")
    source.check_index(layer=layer, head=head)
    cases = _cases(source, case)
    total = np.zeros((source.n_layers, source.n_heads))
    for c in cases:
        target = np.asarray(source.matrix(layer, head, c), dtype=np.float64).ravel()
        if measure == "correlation":
            target = target - target.mean()
        target_norm = np.linalg.norm(target)
        for other in range(source.n_layers):
            block = layer_block(source, other, c).reshape(source.n_heads, -1)
            if measure == "correlation":
                block = block - block.mean(axis=1, keepdims=True)
            dots = block @ target.astype(block.dtype)
            norms = np.linalg.norm(block, axis=1) * target_norm
            total[other] += np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    total /= len(cases)
    total[layer, head] = 1.0  # exactly, not 1 - rounding
    order = np.lexsort((np.arange(total.size), -total.ravel()))
    return [(*divmod(int(i), source.n_heads), float(total.flat[i])) for i in order]


def _sink_mask(blocks: np.ndarray, causal: bool, threshold: float, ratio: float) -> np.ndarray:
    """Sink keys of ``(heads, q, k)`` matrices: bool ``(heads, k)``."""
    _, q, k = blocks.shape
    offset = k - q if causal else 0
    rows = np.arange(q)
    visible = np.clip(rows + 1 + offset, 1, k) if causal else np.full(q, k)
    informative = visible > 1
    if not informative.any():
        return np.zeros((blocks.shape[0], k), dtype=bool)
    # sees[i, j]: row i is informative and can see key j
    sees = np.broadcast_to(informative[:, None], (q, k))
    if causal:
        sees = sees & (np.arange(k)[None, :] <= (rows + offset)[:, None])
    seen_by = np.maximum(sees.sum(axis=0), 1)
    weights = sees.astype(blocks.dtype)
    incoming = np.einsum("hqk,qk->hk", blocks, weights, optimize=False) / seen_by
    uniform = (weights / visible[:, None]).sum(axis=0) / seen_by
    enough_rows = sees.sum(axis=0) * 2 >= informative.sum()
    return enough_rows & (incoming >= threshold) & (incoming >= ratio * uniform)


def _check_levels(threshold: float, ratio: float) -> None:
    if not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise ValueError(f"threshold: expected a number in (0, 1], got {threshold!r}")
    if not (isinstance(ratio, (int, float)) and ratio >= 1):
        raise ValueError(f"ratio: expected a number >= 1, got {ratio!r}")


def sink_columns(
    matrix: Any,
    *,
    causal: bool = False,
    threshold: float = SINK_THRESHOLD,
    ratio: float = SINK_RATIO,
) -> np.ndarray:
    """Key positions a ``(q, k)`` attention matrix sinks on, ascending.

    Key ``j`` is a sink when, averaged over the rows that can see it (rows
    that see a single key left out), it takes at least ``threshold`` of a
    row's weight and at least ``ratio`` times a uniform row's share, and at
    least half of those rows can see it (so the last key of a causal matrix,
    seen by one row, is never a sink by accident).
    """
    _check_levels(threshold, ratio)
    array = as_finite(matrix, "matrix", ndim=2, layout="(q, k)").astype(np.float64, copy=False)
    return np.flatnonzero(_sink_mask(array[None], causal, threshold, ratio)[0])


def sink_keys(
    source: Any,
    case: int = 0,
    *,
    threshold: float = SINK_THRESHOLD,
    ratio: float = SINK_RATIO,
    mean: bool = False,
) -> np.ndarray:
    """Which keys are sinks, per (layer, head): bool ``(layers, heads, k)`` (:func:`sink_columns`).

    ``mean=True`` adds the head mean as head index ``heads`` (shape
    ``(layers, heads + 1, k)``), for a view showing the mean of heads.
    """
    _check_levels(threshold, ratio)
    source.check_index(case=case)
    causal = is_causal(source, case)
    k = source.shape(case)[1]
    heads = source.n_heads + (1 if mean else 0)
    out = np.zeros((source.n_layers, heads, k), dtype=bool)
    for layer in range(source.n_layers):
        block = layer_block(source, layer, case)
        out[layer, : source.n_heads] = _sink_mask(block, causal, threshold, ratio)
        if mean:
            average = block.mean(axis=0, dtype=np.float64)[None]
            out[layer, -1] = _sink_mask(average, causal, threshold, ratio)[0]
    return out
