"""Attention of a long generation kept as queries and keys: memory grows as N·d, not N².

:class:`GrowingLazyAttention` is the ``lazy=True`` twin of
:class:`~attn_widget.growing.GrowingAttention`: the recorder writes each
step's query and key rows (after rotary embeddings, as the model used them)
into buffers allocated once for the longest the sequence can get, and each
layer's :class:`~attn_widget.lazy_scores.ScoreModifier` (scaling, causal band
or sliding window, soft-cap, sinks). Readers see the published part through
a :class:`~attn_widget.lazy.LazyAttention` over views of the buffers, so any
row is computed exactly when the view asks for it. An 8,192-token prompt
with 256 new tokens in a 12 × 12 model holds about 100 MB of queries and keys
in float16, where its weights would take 20 GB.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .data import check_indices
from .lazy import LazyAttention
from .lazy_scores import ScoreModifier

__all__ = ["GrowingLazyAttention"]


class GrowingLazyAttention:
    """One decoder's queries and keys ``(layers, heads, rows, d)`` of one case, filled as it runs.

    Buffers are made at a layer's first write (its head size and key heads
    come from the model's own call); ``rows`` is the most positions there can be.
    """

    holds_weights = False  # rows are computed when asked, also once generation has ended
    is_cross = False
    media: Any = None

    def __init__(
        self,
        layers: int,
        heads: int,
        rows: int,
        *,
        dtype: Any = np.float32,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.n_layers, self.n_heads, self.capacity = layers, heads, rows
        self.dtype = np.dtype(dtype)
        self.meta: dict[str, Any] = dict(meta or {})
        self.raw_tokens: Any = None
        self.causal = True
        self.queries: list[Any] = [None] * layers
        self.keys: list[Any] = [None] * layers
        self.modifiers: list[ScoreModifier | None] = [None] * layers
        self.tokens: list[list[str]] = [[]]
        self.query_tokens = self.tokens
        self._length = 0
        self._growing = True
        # generate_lazy's bookkeeping: the prompt's length, and by layer the last
        # call kept but not yet compared with the model's own rows.
        self.prompt_rows = 0
        self.unchecked: dict[int, tuple[Any, ...]] = {}
        self._view: LazyAttention | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------- writing
    def write(self, layer: int, start: int, query: Any, key: Any) -> None:
        """Query rows ``(heads, n, d)`` and key rows ``(kv_heads, n, d)`` at ``start..``."""
        import torch

        if self.queries[layer] is None:
            storage = torch.float16 if self.dtype == np.float16 else torch.float32
            self.queries[layer] = torch.zeros(
                (query.shape[0], self.capacity, query.shape[-1]), dtype=storage
            )
            self.keys[layer] = torch.zeros(
                (key.shape[0], self.capacity, key.shape[-1]), dtype=storage
            )
        stop = start + query.shape[1]
        if stop > self.capacity:
            raise ValueError(
                f"layer {layer}: rows up to {stop} do not fit the generation's {self.capacity}"
            )
        self.queries[layer][:, start:stop] = query.detach().to("cpu", self.queries[layer].dtype)
        self.keys[layer][:, start:stop] = key.detach().to("cpu", self.keys[layer].dtype)

    def set_modifier(self, layer: int, modifier: ScoreModifier) -> None:
        """The layer's scores beyond ``Q Kᵀ`` (read from the model's first call)."""
        with self._lock:
            self.modifiers[layer] = modifier
            self._view = None

    def view_until(self, length: int, layers: list[int] | None = None) -> LazyAttention:
        """A LazyAttention over the first ``length`` positions of ``layers`` (default: all)."""
        chosen = list(range(self.n_layers)) if layers is None else layers
        missing = [i for i in chosen if self.modifiers[i] is None or self.queries[i] is None]
        if missing:
            raise ValueError(f"layers {missing} have not been written yet")
        return LazyAttention(
            [[self.queries[i][:, :length] for i in chosen]],
            [[self.keys[i][:, :length] for i in chosen]],
            [[str(i) for i in range(length)]],
            modifiers=[[self.modifiers[i] for i in chosen]],  # type: ignore[misc]
            meta=self.meta,
        )

    def publish(self, query_tokens: list[str], key_tokens: list[str]) -> None:
        """Make the positions of these tokens visible (their queries and keys are written)."""
        length = len(key_tokens)
        if len(query_tokens) != length or length > self.capacity:
            raise ValueError(
                f"publish: {len(query_tokens)} x {length} tokens, but room for "
                f"{self.capacity} positions of self-attention"
            )
        with self._lock:
            self.tokens[0] = list(key_tokens)
            self._length = length
            self._view = None

    def finish(self) -> None:
        self._growing = False

    @property
    def growing(self) -> bool:
        return self._growing

    # ------------------------------------------------------------- reading
    def _lazy(self) -> LazyAttention:
        with self._lock:
            if self._view is None:
                length = self._length
                if length == 0:
                    raise ValueError("no token has been generated yet")
                view = self.view_until(length)
                view.tokens = view.query_tokens = [list(self.tokens[0])]
                self._view = view
            return self._view

    @property
    def n_cases(self) -> int:
        return 1

    @property
    def kv_heads(self) -> int:
        return int(self.keys[0].shape[0]) if self.keys[0] is not None else self.n_heads

    def shape(self, case: int = 0) -> tuple[int, int]:
        self.check_index(case=case)
        return self._length, self._length

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None:
        check_indices(self, layer=layer, head=head, case=case)

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        return self._lazy().rows(layer, head, case, start, stop)

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
        return self._lazy().pooled_rows(layer, head, case, start, stop, window, factors)

    def estimated_rows(
        self,
        layer: int,
        head: int | None,
        case: int,
        start: int,
        stop: int,
        window: tuple[int, int],
        factors: tuple[int, int],
        reads: int,
    ) -> np.ndarray:
        return self._lazy().estimated_rows(layer, head, case, start, stop, window, factors, reads)

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        return self._lazy().matrix(layer, head, case)

    def case_values(self, case: int) -> np.ndarray:
        return self._lazy().case_values(case)

    def is_causal(self, case: int = 0) -> bool:
        return True

    def nbytes(self) -> int:
        kept = [t for t in self.queries + self.keys if t is not None]
        return sum(t.element_size() * t.nelement() for t in kept)

    def __repr__(self) -> str:
        state = "growing" if self._growing else "done"
        return (
            f"GrowingLazyAttention(layers={self.n_layers}, heads={self.n_heads}, "
            f"q x k={self._length} x {self._length}, {self.nbytes() / 1e6:.1f} MB, {state})"
        )
