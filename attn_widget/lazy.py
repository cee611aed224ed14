"""Attention computed on demand from queries and keys, for the longest inputs.

Storing every weight of a 12 × 12 model at 8,192 tokens takes 38 GB; its
queries and keys take a few hundred MB. :class:`LazyAttention` keeps, for each
case and layer, the queries ``(heads, q, d)`` and keys ``(kv_heads, k, d)`` as
the model used them (after rotary embeddings) and computes any block of rows
exactly: ``softmax(Q Kᵀ · scaling + mask)``, on the device the tensors live on
(the GPU when the model is on one). Memory grows as N·d, not N². What a layer
does beyond scaling (sliding windows, ALiBi and relative position biases,
soft-capping, sinks) is one :class:`~attn_widget.lazy_scores.ScoreModifier`
per case and layer, applied to each block by ``lazy_scores``.

It implements :class:`~attn_widget.data.AttentionSource`, so the widget,
the kernel's replies, the exports and the files take it as they take
:class:`~attn_widget.data.AttentionData`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .data import check_indices
from .lazy_scores import ScoreModifier, apply_to_block, sink_logit, visible_keys

__all__ = ["MAX_MATRIX_BYTES", "LazyAttention", "check_size"]

# Row blocks are computed this many scores at a time (bounded temporary memory).
# On the CPU a block that stays in cache is several times faster than one
# that streams through memory (2 MB: 91 ms against 720 ms for a pooled 8192²
# head on two cores); a GPU wants large blocks.
_BLOCK_SCORES = 1 << 23
_CPU_BLOCK_SCORES = 1 << 19
# The most float32 weights one call may hand back (rows, matrices, whole cases):
# a full matrix at 131,072 tokens would take 69 GB. Raise it to go further.
MAX_MATRIX_BYTES = 2 * 2**30


def _size(nbytes: float) -> str:
    return f"{nbytes / 1e9:,.1f} GB" if nbytes >= 1e9 else f"{nbytes / 1e6:,.1f} MB"


def check_size(count: int, what: str) -> None:
    """Refuse ``count`` float32 weights over :data:`MAX_MATRIX_BYTES`, saying how to ask less."""
    need = count * 4
    if need > MAX_MATRIX_BYTES:
        raise ValueError(
            f"{what} would take {_size(need)} as float32, more than "
            f"attn_widget.lazy.MAX_MATRIX_BYTES ({_size(MAX_MATRIX_BYTES)}) allows; ask "
            "for a window instead (export_pdf(..., window=(q0, q1, k0, k1)), or rows q0..q1 "
            "of a few thousand), or raise the limit"
        )


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
    modifiers:
        Instead of ``scaling`` and ``causal``: one
        :class:`~attn_widget.lazy_scores.ScoreModifier` per case and layer
        (``modifiers[case][layer]``), for layers with their own scaling, a
        sliding window, a position bias, soft-capping or sinks.
    """

    def __init__(
        self,
        queries: Sequence[Sequence[Any]],
        keys: Sequence[Sequence[Any]],
        tokens: Sequence[Sequence[str]],
        *,
        target_tokens: Sequence[Sequence[str]] | None = None,
        scaling: float | None = None,
        causal: bool = False,
        modifiers: Sequence[Sequence[ScoreModifier]] | None = None,
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
        self.modifiers = self._modifiers(modifiers, scaling, causal)
        self.causal = all(m.causal for case in self.modifiers for m in case)
        self.meta: dict[str, Any] = dict(meta or {})
        self.raw_tokens = raw_tokens

    def _modifiers(
        self,
        modifiers: Sequence[Sequence[ScoreModifier]] | None,
        scaling: float | None,
        causal: bool,
    ) -> list[list[ScoreModifier]]:
        if modifiers is None:
            if scaling is None:
                raise ValueError("scaling: expected the factor on Q·Kᵀ (or modifiers=), got None")
            plain = ScoreModifier(float(scaling), band=(None, 0) if causal else (None, None))
            return [[plain] * self.n_layers for _ in self.queries]
        found = [list(case) for case in modifiers]
        if len(found) != len(self.queries) or any(len(c) != self.n_layers for c in found):
            raise ValueError(
                f"modifiers: expected {len(self.queries)} case(s) x {self.n_layers} layers, got "
                f"{[len(c) for c in found]}"
            )
        device = self.queries[0][0].device
        return [[m.to(device) for m in case] for case in found]

    @property
    def scaling(self) -> float:
        """The first layer's factor on ``Q Kᵀ`` (see ``modifiers`` for every layer)."""
        return self.modifiers[0][0].scaling

    # The weights are computed when asked: never packed whole for the browser.
    holds_weights = False
    # Images or audio under the attention (attn_widget.media.Media), None for text.
    media: Any = None

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

    def _inputs(self, layer: int, head: int, case: int) -> tuple[Any, Any, ScoreModifier, int]:
        """One head's queries, (shared, for grouped heads) keys as float32, modifier and index."""
        query = self.queries[case][layer][head].float()
        key = self.keys[case][layer][head // (self.n_heads // self.kv_heads)].float()
        return query, key, self.modifiers[case][layer], head

    def _visible_keys(self, inputs: Sequence[tuple[Any, ...]], case: int, stop: int) -> int:
        """How many leading keys rows ``< stop`` can see (all of them unless causal)."""
        q, k = self.shape(case)
        return max(visible_keys(m, q, k, stop) for _, _, m, _ in inputs)

    def _scores(
        self,
        inputs: tuple[Any, Any, ScoreModifier, int],
        case: int,
        start: int,
        stop: int,
        cols: int,
        positions: Any = None,
    ) -> Any:
        """Scores of keys ``0:cols`` (rows) against queries ``start:stop`` (columns).

        Key-major: the reductions that follow (over keys, and over pooled
        groups of keys) then run across contiguous query columns, which on a
        CPU is twice as fast as reducing along each query's row. The layer's
        modifier scales, caps, biases and masks the block. ``positions``:
        the query rows to read instead of ``start:stop`` (an estimate's).
        """
        query, key, modifier, head = inputs
        q, k = self.shape(case)
        if positions is not None:
            block_query = query.index_select(0, positions)
        else:
            block_query = query[start:stop]
        block_key = key[:cols]
        scores = block_key @ block_query.T
        return apply_to_block(
            modifier, scores, head, q, k, start, stop, block_query, block_key, positions
        )

    @staticmethod
    def _log_normaliser(scores: Any, key_max: Any, sink: float | None) -> Any:
        """Each query's log-sum-exp over keys (and the sink); overwrites ``scores`` (key-major)."""
        torch = _torch()
        if sink is not None:
            key_max = torch.clamp(key_max, min=sink)
        total = scores.sub_(key_max).exp_().sum(0, keepdim=True)
        if sink is not None:
            total.add_(torch.exp(sink - key_max))
        return total.log_().add_(key_max)

    def _heads_inputs(
        self, layer: int, head: int | None, case: int
    ) -> list[tuple[Any, Any, ScoreModifier, int]]:
        """The float32 queries and keys of one head, or of every head for the mean."""
        heads = range(self.n_heads) if head is None else (head,)
        return [self._inputs(layer, h, case) for h in heads]

    def _probabilities(
        self,
        inputs: list[tuple[Any, ...]],
        case: int,
        start: int,
        stop: int,
        k0: int,
        k1: int,
        positions: Any = None,
    ) -> Any:
        """Weights of rows ``start:stop`` (or ``positions``) in key columns ``k0:k1``, key-major.

        ``inputs`` holds one head's queries and keys, or every head's (then the
        mean). Keys a causal row cannot see are never multiplied: they are zeros.
        """
        torch = _torch()
        if positions is not None:
            stop = int(positions.max()) + 1
        rows = len(positions) if positions is not None else stop - start
        visible = self._visible_keys(inputs, case, stop)
        seen = max(k0, min(k1, visible))
        out = torch.zeros((k1 - k0, rows), device=inputs[0][0].device)
        for one in inputs:
            scores = self._scores(one, case, start, stop, visible, positions)
            sink = sink_logit(one[2], one[3])
            top = scores.amax(0, keepdim=True)
            if sink is not None:
                top = torch.clamp(top, min=sink)
            weights = scores.sub_(top).exp_()
            total = weights.sum(0, keepdim=True)
            if sink is not None:
                total.add_(torch.exp(sink - top))
            out[: seen - k0].addcmul_(weights[k0:seen], total.reciprocal_())
        return out.div_(len(inputs)) if len(inputs) > 1 else out

    def _rows_per_block(self, cols: int, multiple: int, mean: bool = False) -> int:
        """Rows per block: a cache-sized block on the CPU, a large one on a GPU.

        A head mean holds its running sum beside each head's scores: half the
        rows keep both in the cache.
        """
        budget = _BLOCK_SCORES if self.queries[0][0].device.type != "cpu" else _CPU_BLOCK_SCORES
        if mean:
            budget //= 2
        return max(multiple, (budget // max(1, cols)) // multiple * multiple)

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
        of whole rows (used by :func:`attn_widget.tiles.tile`). For one head
        the pool never forms the weights: the largest weight of a block is
        ``exp(max score - logsumexp(row))``, so only the per-block maximum
        score is exponentiated.
        """
        torch = _torch()
        k0, k1 = window
        fq, fk = factors
        out_cols = -(-(k1 - k0) // fk)
        parts = []
        with torch.no_grad():
            inputs = self._heads_inputs(layer, head, case)
            visible = self._visible_keys(inputs, case, stop)
            step = self._rows_per_block(visible, fq, mean=head is None)
            for s in range(start, stop, step):
                e = min(stop, s + step)
                if head is None:
                    block = self._probabilities(inputs, case, s, e, k0, k1)
                    block = torch.nn.functional.pad(block, (0, 0, 0, -(k1 - k0) % fk))
                    pooled = block.reshape(out_cols, fk, e - s).amax(1).T
                else:
                    pooled = self._pooled_head(inputs[0], case, s, e, k0, k1, fk)
                pad = -(e - s) % fq
                if pad:
                    pooled = torch.nn.functional.pad(pooled, (0, 0, 0, pad))
                parts.append(pooled.reshape(-1, fq, out_cols).amax(1))
            return torch.cat(parts).cpu().numpy()

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
        """:meth:`pooled_rows` from ``reads`` query rows of each pooled row: a quick estimate.

        See :func:`attn_widget.lazy_estimate.estimated_rows`.
        """
        from .lazy_estimate import estimated_rows

        return estimated_rows(self, layer, head, case, start, stop, window, factors, reads)

    def _pooled_head(
        self,
        inputs: tuple[Any, Any, ScoreModifier, int],
        case: int,
        start: int,
        stop: int,
        k0: int,
        k1: int,
        fk: int,
        positions: Any = None,
    ) -> Any:
        """One head's rows ``start:stop`` (or ``positions``), keys ``k0:k1``, pooled by ``fk``."""
        torch = _torch()
        if positions is not None:
            stop = int(positions.max()) + 1
        visible = self._visible_keys([inputs], case, stop)
        scores = self._scores(inputs, case, start, stop, visible, positions)
        rows = len(positions) if positions is not None else stop - start
        out_cols = -(-(k1 - k0) // fk)
        # Group maxima of the scores, read in place; keys past the causal
        # edge stay -inf, i.e. weight 0.
        best = torch.full((out_cols, rows), float("-inf"), device=scores.device)
        seen = max(k0, min(k1, visible))
        whole = (seen - k0) // fk
        if whole:
            best[:whole] = scores[k0 : k0 + whole * fk].reshape(whole, fk, rows).amax(1)
        if k0 + whole * fk < seen:
            best[whole] = scores[k0 + whole * fk : seen].amax(0)
        # When the window holds every visible key, the maxima over all keys
        # come from the group maxima for free.
        covers = k0 == 0 and seen == visible
        key_max = best.amax(0, keepdim=True) if covers else scores.amax(0, keepdim=True)
        lse = self._log_normaliser(scores, key_max, sink_logit(inputs[2], inputs[3]))
        return torch.exp(best - lse).T

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of one matrix as float32 on the CPU (``head=None``: head mean)."""
        self.check_index(layer=layer, case=case)
        if head is not None:
            self.check_index(head=head)
        q, k = self.shape(case)
        start, stop = max(0, start), min(q, stop)
        rows = max(0, stop - start)
        check_size(rows * k, f"rows {start}..{stop} of layer {layer} ({rows:,} x {k:,} weights)")
        out = np.empty((rows, k), dtype=np.float32)
        step = self._rows_per_block(k, 1, mean=head is None)
        torch = _torch()
        with torch.no_grad():
            inputs = self._heads_inputs(layer, head, case)
            for s in range(start, stop, step):
                e = min(stop, s + step)
                block = self._probabilities(inputs, case, s, e, 0, k).T
                out[s - start : e - start] = block.cpu().numpy()
        return out

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        q, _ = self.shape(case)
        return self.rows(layer, head, case, 0, q)

    def case_values(self, case: int) -> np.ndarray:
        """Every weight of one case, computed: ``(layers, heads, q, k)`` float32."""
        q, k = self.shape(case)
        check_size(
            self.n_layers * self.n_heads * q * k,
            f"every weight of case {case} ({self.n_layers} x {self.n_heads} x {q:,} x {k:,})",
        )
        return np.stack(
            [
                np.stack([self.matrix(layer, head, case) for head in range(self.n_heads)])
                for layer in range(self.n_layers)
            ]
        )

    def is_causal(self, case: int = 0) -> bool:
        return all(m.causal for m in self.modifiers[case]) and not self.is_cross

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
