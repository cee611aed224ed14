"""A quick estimate of a pooled tile of attention computed on demand (the view's first sight).

An exact pooled tile reads every query row against every key; at 32,768
tokens that is seconds on a CPU. The estimate reads a few rows of each
pooled row, each exactly, so it costs that fraction of the exact tile and is
never brighter than the truth (see :mod:`attn_widget.serve.progressive`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .lazy import LazyAttention

__all__ = ["estimated_rows"]


def _torch() -> Any:
    import torch

    return torch


def estimated_rows(
    source: LazyAttention,
    layer: int,
    head: int | None,
    case: int,
    start: int,
    stop: int,
    window: tuple[int, int],
    factors: tuple[int, int],
    reads: int,
) -> np.ndarray:
    """``source.pooled_rows`` from ``reads`` query rows of each pooled row: a quick estimate.

    The rows read are each pooled row's ``reads`` longest queries: a query's
    length bounds how far apart its scores can spread, so the longest are the
    rows most able to attend sharply. Each row read is computed exactly over
    every key, so every value is the exact maximum of the rows read: never
    above the exact tile, equal to it wherever a pooled row's strongest row
    is among those read. A strong cell in a row not read (a short query
    that still attends sharply) shows only in the exact tile. Costs about
    ``reads / fq`` of the exact tile.
    """
    torch = _torch()
    fq, fk = factors
    if reads >= fq:
        return source.pooled_rows(layer, head, case, start, stop, window, factors)
    k0, k1 = window
    out_cols = -(-(k1 - k0) // fk)
    parts = []
    with torch.no_grad():
        inputs = source._heads_inputs(layer, head, case)
        positions = _longest_rows(inputs, start, stop, fq, reads)
        pooled_rows = positions.shape[0]
        flat = positions.reshape(-1)
        cols = source._visible_keys(inputs, case, stop)
        # Rows read are scattered: each block reads the keys once, so a block
        # holds a skinny matmul's worth of them (>= 64 rows read), not a cache's.
        rows_read = max(64, source._rows_per_block(cols, 1, mean=head is None))
        per_block = max(1, rows_read // reads)
        for p0 in range(0, pooled_rows, per_block):
            p1 = min(pooled_rows, p0 + per_block)
            at = flat[p0 * reads : p1 * reads]
            if head is None:
                block = source._probabilities(inputs, case, 0, 0, k0, k1, at)
                block = torch.nn.functional.pad(block, (0, 0, 0, -(k1 - k0) % fk))
                pooled = block.reshape(out_cols, fk, -1).amax(1).T
            else:
                pooled = source._pooled_head(inputs[0], case, 0, 0, k0, k1, fk, at)
            parts.append(pooled.reshape(p1 - p0, reads, out_cols).amax(1))
        return torch.cat(parts).cpu().numpy()


def _longest_rows(inputs: list[tuple[Any, ...]], start: int, stop: int, fq: int, reads: int) -> Any:
    """``(pooled rows, reads)`` indices: each pooled row's longest queries (over heads)."""
    torch = _torch()
    lengths = sum(one[0][start:stop].norm(dim=1) for one in inputs)
    pooled = -(-(stop - start) // fq)
    padded = torch.full((pooled * fq,), float("-inf"), device=lengths.device)
    padded[: stop - start] = lengths
    picked = padded.reshape(pooled, fq).topk(reads, dim=1).indices
    first = torch.arange(pooled, device=lengths.device)[:, None] * fq + start
    # A short last pooled row picks padding too: read its last row again instead.
    return (picked + first).clamp_(max=stop - 1)
