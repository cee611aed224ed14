"""Attention that grows while a model writes: rows filled one forward step at a time.

:class:`GrowingAttention` holds one component of a generation (decoder-only
self-attention, or an encoder–decoder's encoder, decoder or cross-attention)
in arrays allocated once for the longest the sequence can get; the recorder
fills rows as the model runs, and :meth:`GrowingAttention.publish` makes the
filled part visible. Everything a reader sees (shape, tokens, rows) is the
published part, so the widget's kernel thread can read while the generating
thread writes further rows: a row, once published, never changes (a causal
row holds every key it will ever see).

It implements :class:`~attn_widget.data.AttentionSource`; while it grows it
does not offer its weights to be packed whole (``holds_weights`` is False):
the view asks for what it draws, and the cube goes once generation ends.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .data import check_indices, max_pool

__all__ = ["GrowingAttention"]


class GrowingAttention:
    """One component's weights ``(layers, heads, rows, keys)`` of one case, filled as it runs.

    Parameters
    ----------
    layers, heads:
        The model's attention layers and heads (of this component).
    rows, keys:
        The most query rows and keys there can be (prompt + new tokens).
    cross:
        Queries and keys are different sequences (cross-attention); the key
        tokens are then fixed and the query tokens grow.
    """

    def __init__(
        self,
        layers: int,
        heads: int,
        rows: int,
        keys: int,
        *,
        cross: bool = False,
        causal: bool = True,
        dtype: Any = np.float32,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.n_layers, self.n_heads = layers, heads
        self.weights = np.zeros((layers, heads, rows, keys), dtype=np.dtype(dtype))
        self.is_cross = cross
        self.causal = causal and not cross
        self.meta: dict[str, Any] = dict(meta or {})
        self.raw_tokens: Any = None
        self.media: Any = None
        self.tokens: list[list[str]] = [[]]
        self.query_tokens: list[list[str]] = self.tokens if not cross else [[]]
        self._shape = (0, 0)
        self._growing = True
        self._lock = threading.Lock()

    # ------------------------------------------------------------- writing
    def write(self, layer: int, rows: slice, keys: slice, weights: np.ndarray) -> None:
        """Weights ``(heads, rows, keys)`` of one layer's step (beyond the published part)."""
        self.weights[layer, :, rows, keys] = weights

    def publish(self, query_tokens: list[str], key_tokens: list[str]) -> None:
        """Make the rows and keys of these tokens visible (everything up to them is written)."""
        q, k = len(query_tokens), len(key_tokens)
        if q > self.weights.shape[2] or k > self.weights.shape[3]:
            raise ValueError(
                f"publish: {q} x {k} tokens, but room for {self.weights.shape[2]} x "
                f"{self.weights.shape[3]}"
            )
        with self._lock:
            self.tokens[0] = list(key_tokens)
            if self.is_cross:
                self.query_tokens[0] = list(query_tokens)
            self._shape = (q, k)

    def finish(self) -> None:
        """Generation ended: the weights may now be packed whole for the browser."""
        self._growing = False

    @property
    def growing(self) -> bool:
        return self._growing

    # ------------------------------------------------------------- reading
    @property
    def holds_weights(self) -> bool:
        return not self._growing

    @property
    def n_cases(self) -> int:
        return 1

    def shape(self, case: int = 0) -> tuple[int, int]:
        self.check_index(case=case)
        return self._shape

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None:
        check_indices(self, layer=layer, head=head, case=case)

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as float32 over the visible keys (``head=None``: the head mean)."""
        self.check_index(layer=layer, case=case)
        q, k = self._shape
        start, stop = max(0, start), min(q, stop)
        block = self.weights[layer, :, start:stop, :k]
        if head is None:
            return block.mean(axis=0, dtype=np.float32)
        self.check_index(head=head)
        return block[head].astype(np.float32)

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
        k0, k1 = window
        return max_pool(self.rows(layer, head, case, start, stop)[:, k0:k1], *factors)

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        q, _ = self.shape(case)
        return self.rows(layer, head, case, 0, q)

    def case_values(self, case: int) -> np.ndarray:
        self.check_index(case=case)
        q, k = self._shape
        return np.ascontiguousarray(self.weights[:, :, :q, :k])

    def is_causal(self, case: int = 0) -> bool:
        return self.causal

    def __repr__(self) -> str:
        q, k = self._shape
        state = "growing" if self._growing else "done"
        return (
            f"GrowingAttention(layers={self.n_layers}, heads={self.n_heads}, q x k={q} x {k}, "
            f"{state})"
        )
