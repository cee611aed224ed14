"""What the kernel computes for the view of long inputs: pooled tiles, top links, thumbnails.

Everything here reads a matrix through the source protocol
(:class:`~attn_widget.data.AttentionSource`: ``rows`` and ``pooled_rows``)
in blocks of rows, so it works the same for stored weights and for attention
computed on demand (which pools on its device), and never holds more than a
block of rows at a time.

Pooling is a *max* pool (:func:`~attn_widget.data.max_pool`): a single strong
cell stays visible in an overview.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data import AttentionSource, max_pool

__all__ = [
    "Cancelled",
    "Tile",
    "column_means",
    "max_pool",
    "thumbnails",
    "tile",
    "token_links",
    "top_links",
]

# Rows are read in blocks of about this many values (16 MB of float32).
_BLOCK_VALUES = 1 << 22
# The scale without sinks pools each window to this many rows (then takes their
# maximum): rows enough for an estimate to read only some of them.
_REST_ROWS = 512


@dataclass(frozen=True)
class Tile:
    """A window ``[q0, q1) x [k0, k1)`` of a matrix, max-pooled by ``(fq, fk)``."""

    values: np.ndarray  # (ceil((q1 - q0) / fq), ceil((k1 - k0) / fk)) float32
    q0: int
    q1: int
    k0: int
    k1: int
    fq: int
    fk: int


def _check_window(q: int, k: int, q0: int, q1: int, k0: int, k1: int) -> None:
    if not (0 <= q0 < q1 <= q and 0 <= k0 < k1 <= k):
        raise ValueError(
            f"window: expected 0 <= q0 < q1 <= {q} and 0 <= k0 < k1 <= {k} inside the "
            f"{q} x {k} matrix; got rows {q0}..{q1}, columns {k0}..{k1}"
        )


def tile(
    source: AttentionSource,
    layer: int,
    head: int | None,
    case: int,
    window: tuple[int, int, int, int] | None = None,
    max_rows: int | None = None,
    max_cols: int | None = None,
    *,
    reads: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Tile:
    """The window of one matrix, max-pooled to at most ``max_rows x max_cols`` values.

    ``reads``: an estimate from that many query rows of each pooled row (a
    source's ``estimated_rows``; see :mod:`.progressive`). ``cancelled`` is
    asked between row blocks; when it says True the tile is abandoned
    (:class:`Cancelled`).
    """
    q, k = source.shape(case)
    q0, q1, k0, k1 = window if window is not None else (0, q, 0, k)
    _check_window(q, k, q0, q1, k0, k1)
    for name, limit in (("max_rows", max_rows), ("max_cols", max_cols)):
        if limit is not None and limit < 1:
            raise ValueError(f"{name}: expected at least 1, got {limit}")
    fq = math.ceil((q1 - q0) / max_rows) if max_rows else 1
    fk = math.ceil((k1 - k0) / max_cols) if max_cols else 1
    # Row blocks are whole multiples of fq so that no pooled block is split.
    step = max(fq, (_BLOCK_VALUES // max(1, k)) // fq * fq)
    if reads is not None:
        # An estimate reads `reads` rows of each pooled row: a block of as many
        # rows read, so that each pass over the keys serves many pooled rows.
        step = fq * max(1, (_BLOCK_VALUES // max(1, k)) // min(reads, fq))
    estimate = getattr(source, "estimated_rows", None) if reads is not None else None
    parts = []
    for start in range(q0, q1, step):
        if cancelled is not None and cancelled():
            raise Cancelled("the view asked for another tile")
        stop = min(q1, start + step)
        if estimate is not None:
            parts.append(estimate(layer, head, case, start, stop, (k0, k1), (fq, fk), reads))
        else:
            parts.append(source.pooled_rows(layer, head, case, start, stop, (k0, k1), (fq, fk)))
    return Tile(np.concatenate(parts), q0, q1, k0, k1, fq, fk)


class Cancelled(Exception):
    """A tile abandoned part-way because the view no longer wants it."""


def top_links(
    source: AttentionSource, layer: int, head: int | None, case: int, q0: int, q1: int, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` strongest key indices and weights of each query row in ``[q0, q1)``.

    Returns ``(indices, weights)``, both ``(q1 - q0, top')`` with ``top' = min(top, k)``,
    strongest first; ties go to the lower key index, so the answer is deterministic.
    """
    q, k = source.shape(case)
    _check_window(q, k, q0, q1, 0, k)
    if top < 1:
        raise ValueError(f"top: expected at least 1 link per token, got {top}")
    top = min(top, k)
    rows = source.rows(layer, head, case, q0, q1)
    if top < k:
        # Stable sort on -weight keeps the lower index first among equals.
        order = np.argsort(-rows, axis=1, kind="stable")[:, :top]
    else:
        order = np.argsort(-rows, axis=1, kind="stable")
    weights = np.take_along_axis(rows, order, axis=1)
    return order.astype(np.int32), weights.astype(np.float32)


def token_links(
    source: AttentionSource, layer: int, head: int | None, case: int, kind: str, index: int
) -> np.ndarray:
    """Every weight of one token: its row (a query token) or its column (a key token)."""
    q, k = source.shape(case)
    if kind == "query":
        _check_window(q, k, index, index + 1, 0, k)
        return source.rows(layer, head, case, index, index + 1)[0].astype(np.float32)
    if kind == "key":
        _check_window(q, k, 0, q, index, index + 1)
        step = max(1, _BLOCK_VALUES // max(1, k))
        # A one-column window: only the column leaves a device.
        column = [
            source.pooled_rows(layer, head, case, s, min(q, s + step), (index, index + 1), (1, 1))
            for s in range(0, q, step)
        ]
        return np.concatenate(column)[:, 0].astype(np.float32)
    raise ValueError(f"kind: expected 'query' or 'key', got {kind!r}")


def max_without(
    source: AttentionSource,
    layer: int,
    head: int | None,
    case: int,
    window: tuple[int, int, int, int],
    exclude: list[int],
    *,
    reads: int | None = None,
) -> float:
    """The largest weight of the window outside the ``exclude`` keys (the scale without sinks).

    ``reads``: estimated from that many query rows per pooled row, as a tile's estimate.
    """
    q0, q1, k0, k1 = window
    edges = [k0, *sorted(e for e in set(exclude) if k0 <= e < k1), k1]
    best = 0.0
    for left, right in itertools.pairwise(edges):
        start = left if left == k0 and left not in exclude else left + 1
        if start < right:
            part = tile(
                source, layer, head, case, (q0, q1, start, right), _REST_ROWS, 1, reads=reads
            ).values
            best = max(best, float(part.max()))
    return best


def column_means(source: AttentionSource, layer: int, head: int | None, case: int) -> np.ndarray:
    """Each key's weight averaged over every query row: what the whole input attends to."""
    q, k = source.shape(case)
    step = max(1, _BLOCK_VALUES // max(1, k))
    total = np.zeros(k, dtype=np.float64)
    for start in range(0, q, step):
        total += source.rows(layer, head, case, start, min(q, start + step)).sum(axis=0)
    return (total / q).astype(np.float32)


def thumbnails(source: AttentionSource, layer: int, case: int, size: int) -> np.ndarray:
    """Max-pooled thumbnails ``(heads, <= size, <= size)`` of every head of one layer."""
    if size < 1:
        raise ValueError(f"size: expected at least 1 pixel, got {size}")
    return np.stack(
        [
            tile(source, layer, head, case, max_rows=size, max_cols=size).values
            for head in range(source.n_heads)
        ]
    )
