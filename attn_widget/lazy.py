"""Attention computed on demand from queries and keys, for the longest inputs.

Storing every weight of a 12 × 12 model at 8,192 tokens takes 38 GB; its
queries and keys take a few hundred MB. :class:`LazyAttention` keeps, for each
case and layer, the queries ``(heads, q, d)`` and keys ``(kv_heads, k, d)`` as
the model used them (after rotary embeddings) and computes any block of rows
exactly: ``softmax(Q Kᵀ · scaling + mask)``, on the device the tensors live on
(the GPU when the model is on one). Memory grows as N·d, not N².

It reads like :class:`~attn_widget.data.AttentionData` (``rows``, ``matrix``,
``shape``, ``check_index``, tokens), so the widget, tiles and exports take
either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .data import check_indices

__all__ = ["LazyAttention"]

# Row blocks are computed this many scores at a time (bounded temporary memory).
_BLOCK_SCORES = 1 << 23


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:  # pragma: no cover - torch is there whenever a model is
        raise ImportError("LazyAttention needs torch: pip install torch") from error
    return torch


class LazyAttention:
    """Queries and keys per case and layer; weights computed when asked.

    Parameters
    ----------
    queries, keys:
        ``queries[case][layer]`` is ``(heads, q, d)`` and ``keys[case][layer]``
        is ``(kv_heads, k, d)``; ``heads`` must be a multiple of ``kv_heads``
        (grouped-query attention shares each key head among a group of query heads).
    tokens, target_tokens:
        Key-axis and query-axis tokens per case (``target_tokens`` defaults to ``tokens``).
    scaling:
        The factor on ``Q Kᵀ`` (``1 / sqrt(d)`` for most models).
    causal:
        Whether query ``i`` sees only keys ``<= i + (k - q)`` (decoder self-attention).
    """

    def __init__(
        self,
        queries: Sequence[Sequence[Any]],
        keys: Sequence[Sequence[Any]],
        tokens: Sequence[Sequence[str]],
        *,
        target_tokens: Sequence[Sequence[str]] | None = None,
        scaling: float,
        causal: bool,
        meta: Mapping[str, Any] | None = None,
        raw_tokens: Any = None,
    ) -> None:
        torch = _torch()
        if len(queries) == 0 or len(queries) != len(keys) or len(tokens) != len(queries):
            raise ValueError(
                f"queries, keys, tokens: expected one entry per case, got {len(queries)}, "
                f"{len(keys)} and {len(tokens)}"
            )
        self.queries = [[torch.as_tensor(t) for t in case] for case in queries]
        self.keys = [[torch.as_tensor(t) for t in case] for case in keys]
        layers = {len(case) for case in self.queries} | {len(case) for case in self.keys}
        if len(layers) != 1 or 0 in layers:
            raise ValueError(
                f"queries, keys: expected the same number of layers in every case, got {layers}"
            )
        first_q, first_k = self.queries[0][0], self.keys[0][0]
        if first_q.ndim != 3 or first_k.ndim != 3:
            raise ValueError(
                "queries, keys: expected (heads, q, d) and (kv_heads, k, d) per layer, got "
                f"{tuple(first_q.shape)} and {tuple(first_k.shape)}"
            )
        self.n_layers = layers.pop()
        self.n_heads = first_q.shape[0]
        self.kv_heads = first_k.shape[0]
        if self.n_heads % self.kv_heads:
            raise ValueError(
                f"keys: {self.kv_heads} key heads do not divide {self.n_heads} query heads"
            )
        self.tokens = [list(t) for t in tokens]
        self.query_tokens = [
            list(t) for t in (target_tokens if target_tokens is not None else tokens)
        ]
        for c in range(len(self.queries)):
            q, k = self.shape(c)
            if (len(self.query_tokens[c]), len(self.tokens[c])) != (q, k):
                raise ValueError(
                    f"tokens: case {c} has {len(self.query_tokens[c])} x {len(self.tokens[c])} "
                    f"tokens (query x key) but its queries and keys give {q} x {k}"
                )
        self.is_cross = target_tokens is not None
        self.scaling = float(scaling)
        self.causal = bool(causal)
        self.meta: dict[str, Any] = dict(meta or {})
        self.raw_tokens = raw_tokens

    @property
    def n_cases(self) -> int:
        return len(self.queries)

    def shape(self, case: int = 0) -> tuple[int, int]:
        self.check_index(case=case)
        return self.queries[case][0].shape[1], self.keys[case][0].shape[1]

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None:
        check_indices(self, layer=layer, head=head, case=case)

    def _head_rows(self, layer: int, head: int, case: int, start: int, stop: int) -> Any:
        torch = _torch()
        query = self.queries[case][layer][head, start:stop].float()
        key = self.keys[case][layer][head // (self.n_heads // self.kv_heads)].float()
        scores = (query @ key.T).mul_(self.scaling)
        if self.causal:
            q, k = self.shape(case)
            rows = torch.arange(start, stop, device=scores.device)[:, None] + (k - q)
            cols = torch.arange(k, device=scores.device)[None, :]
            scores.masked_fill_(cols > rows, float("-inf"))
        return torch.softmax(scores, dim=-1)

    def _block(self, layer: int, head: int | None, case: int, start: int, stop: int) -> Any:
        if head is None:
            total = self._head_rows(layer, 0, case, start, stop)
            for h in range(1, self.n_heads):
                total += self._head_rows(layer, h, case, start, stop)
            return total / self.n_heads
        return self._head_rows(layer, head, case, start, stop)

    def pooled_rows(
        self,
        layer: int,
        head: int | None,
        case: int,
        start: int,
        stop: int,
        window: tuple[int, int],
        factors: tuple[int, int],
    ) -> np.ndarray:
        """Rows ``start:stop``, columns ``window``, max-pooled by ``factors``, on the device.

        Pooling before the copy to the CPU moves a screenful of values instead
        of whole rows (used by :func:`attn_widget.tiles.tile`).
        """
        torch = _torch()
        k0, k1 = window
        fq, fk = factors
        with torch.no_grad():
            block = self._block(layer, head, case, start, stop)[:, k0:k1]
            rows, cols = block.shape
            pad_q, pad_k = -rows % fq, -cols % fk
            if pad_q or pad_k:
                block = torch.nn.functional.pad(block, (0, pad_k, 0, pad_q))
            pooled = block.reshape((rows + pad_q) // fq, fq, (cols + pad_k) // fk, fk).amax((1, 3))
            return pooled.cpu().numpy()

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of one matrix as float32 on the CPU (``head=None``: head mean)."""
        self.check_index(layer=layer, case=case)
        if head is not None:
            self.check_index(head=head)
        q, k = self.shape(case)
        start, stop = max(0, start), min(q, stop)
        out = np.empty((max(0, stop - start), k), dtype=np.float32)
        step = max(1, _BLOCK_SCORES // max(1, k))
        torch = _torch()
        with torch.no_grad():
            for s in range(start, stop, step):
                e = min(stop, s + step)
                out[s - start : e - start] = self._block(layer, head, case, s, e).cpu().numpy()
        return out

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        q, _ = self.shape(case)
        return self.rows(layer, head, case, 0, q)

    def is_causal(self, case: int = 0) -> bool:
        return self.causal and not self.is_cross

    def nbytes(self) -> int:
        """Memory held by the queries and keys."""
        return sum(
            t.element_size() * t.nelement() for case in self.queries + self.keys for t in case
        )

    def __repr__(self) -> str:
        lengths = sorted({self.shape(c) for c in range(self.n_cases)})
        return (
            f"LazyAttention(layers={self.n_layers}, heads={self.n_heads}, "
            f"kv_heads={self.kv_heads}, cases={self.n_cases}, q x k={lengths}, "
            f"{self.nbytes() / 1e6:.1f} MB)"
        )
