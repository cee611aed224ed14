"""What the kernel computes for the view of long inputs: pooled tiles, top links, thumbnails.

Everything here reads a matrix through ``source.rows(layer, head, case, start,
stop)`` in blocks of rows, so it works the same for stored weights
(:class:`~attn_widget.data.AttentionData`) and for attention computed on
demand, and never holds more than a block of rows at a time.

Pooling is a *max* pool: a single strong cell stays visible in an overview.
Attention weights are non-negative, so padding a partial block with zeros does
not change its maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["RowSource", "Tile", "max_pool", "thumbnails", "tile", "token_links", "top_links"]

# Rows are read in blocks of about this many values (16 MB of float32).
_BLOCK_VALUES = 1 << 22


class RowSource(Protocol):
    n_layers: int
    n_heads: int

    def shape(self, case: int = 0) -> tuple[int, int]: ...

    def rows(
        self, layer: int, head: int | None, case: int, start: int, stop: int
    ) -> np.ndarray: ...


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


def max_pool(block: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """Max over ``fq x fk`` blocks; a partial block at the edge pools what it has."""
    if fq < 1 or fk < 1:
        raise ValueError(f"pool factors: expected >= 1, got {fq} x {fk}")
    if fq == fk == 1:
        return np.ascontiguousarray(block, dtype=np.float32)
    q, k = block.shape
    padded_q, padded_k = -(-q // fq) * fq, -(-k // fk) * fk
    if (padded_q, padded_k) != (q, k):
        full = np.zeros((padded_q, padded_k), dtype=np.float32)
        full[:q, :k] = block
        block = full
    return block.reshape(padded_q // fq, fq, padded_k // fk, fk).max(axis=(1, 3))


def _check_window(q: int, k: int, q0: int, q1: int, k0: int, k1: int) -> None:
    if not (0 <= q0 < q1 <= q and 0 <= k0 < k1 <= k):
        raise ValueError(
            f"window: expected 0 <= q0 < q1 <= {q} and 0 <= k0 < k1 <= {k} inside the "
            f"{q} x {k} matrix; got rows {q0}..{q1}, columns {k0}..{k1}"
        )


def tile(
    source: RowSource,
    layer: int,
    head: int | None,
    case: int,
    window: tuple[int, int, int, int] | None = None,
    max_rows: int | None = None,
    max_cols: int | None = None,
) -> Tile:
    """The window of one matrix, max-pooled to at most ``max_rows x max_cols`` values."""
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
    # A source that computes on a device pools there (LazyAttention.pooled_rows).
    pooled_rows = getattr(source, "pooled_rows", None)
    parts = []
    for start in range(q0, q1, step):
        stop = min(q1, start + step)
        if pooled_rows is not None:
            parts.append(pooled_rows(layer, head, case, start, stop, (k0, k1), (fq, fk)))
        else:
            parts.append(max_pool(source.rows(layer, head, case, start, stop)[:, k0:k1], fq, fk))
    return Tile(np.concatenate(parts), q0, q1, k0, k1, fq, fk)


def top_links(
    source: RowSource, layer: int, head: int | None, case: int, q0: int, q1: int, top: int
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
    source: RowSource, layer: int, head: int | None, case: int, kind: str, index: int
) -> np.ndarray:
    """Every weight of one token: its row (a query token) or its column (a key token)."""
    q, k = source.shape(case)
    if kind == "query":
        _check_window(q, k, index, index + 1, 0, k)
        return source.rows(layer, head, case, index, index + 1)[0].astype(np.float32)
    if kind == "key":
        _check_window(q, k, 0, q, index, index + 1)
        step = max(1, _BLOCK_VALUES // max(1, k))
        pooled_rows = getattr(source, "pooled_rows", None)

        def column(s: int) -> np.ndarray:
            stop = min(q, s + step)
            if pooled_rows is not None:  # only the column leaves the device
                return pooled_rows(layer, head, case, s, stop, (index, index + 1), (1, 1))[:, 0]
            return source.rows(layer, head, case, s, stop)[:, index]

        return np.concatenate([column(s) for s in range(0, q, step)]).astype(np.float32)
    raise ValueError(f"kind: expected 'query' or 'key', got {kind!r}")


def thumbnails(source: RowSource, layer: int, case: int, size: int) -> np.ndarray:
    """Max-pooled thumbnails ``(heads, <= size, <= size)`` of every head of one layer."""
    if size < 1:
        raise ValueError(f"size: expected at least 1 pixel, got {size}")
    return np.stack(
        [
            tile(source, layer, head, case, max_rows=size, max_cols=size).values
            for head in range(source.n_heads)
        ]
    )
