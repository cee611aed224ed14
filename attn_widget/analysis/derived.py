"""Derived attentions as attention sources: rollout and flow (one "head" per layer), value norms.

:class:`DerivedAttention` implements :class:`~attn_widget.data.AttentionSource`
over another source, so every picture, tooltip, PDF and file that takes a
source takes a derived attention too (e.g. as one more component of a
widget, beside the model's own). Values are computed the first time a case
(rollout, value norms) or a layer of a case (flow) is asked for, then held.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data import check_indices, max_pool
from .atlas import layer_block
from .flow import MAX_SECONDS, check_flow_size, flow_of_mixed
from .rollout import check_mixing, fuse_heads, mix_residual, rollout_of_mixed
from .value_norm import value_weighted

__all__ = ["DERIVED_KINDS", "DerivedAttention", "mixed_layers"]

DERIVED_KINDS = ("rollout", "flow", "value_norm", "value_norm_sum")


def mixed_layers(
    source: Any,
    case: int,
    *,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
    upto: int | None = None,
) -> np.ndarray:
    """The fused, residual-mixed ``(layers, n, n)`` matrices of one case (rollout's, flow's Ã)."""
    check_mixing(head_fusion, residual, discard_ratio)
    last = source.n_layers - 1 if upto is None else upto
    return np.stack(
        [
            mix_residual(
                fuse_heads(layer_block(source, layer, case), head_fusion),
                residual,
                discard_ratio,
                layer=layer,
            )
            for layer in range(last + 1)
        ]
    )


class DerivedAttention:
    """A derived attention over ``base``, readable like any attention source.

    ``kind``:

    * ``"rollout"``: layer ``l`` is the rollout up to layer ``l``; one head.
    * ``"flow"``: layer ``l`` is the attention flow up to layer ``l``; one
      head. Refused at construction when the deepest layer of the longest
      case would take more than ``max_seconds`` (the sizes in the message).
    * ``"value_norm"``: ``αʰᵢⱼ ‖fʰ(xⱼ)‖`` per head (as many heads as ``base``).
    * ``"value_norm_sum"``: ``‖Σₕ αʰᵢⱼ fʰ(xⱼ)‖``, the whole layer; one head.

    The value norms need ``values[case][layer]`` ``(kv_heads, k, d_head)``
    and ``out_proj[layer]`` ``(heads · d_head, d_model)``, see
    :func:`~attn_widget.analysis.value_norm.value_weighted`.
    """

    def __init__(
        self,
        base: Any,
        kind: str = "rollout",
        *,
        head_fusion: str = "mean",
        residual: float = 0.5,
        discard_ratio: float = 0.0,
        max_seconds: float = MAX_SECONDS,
        values: Sequence[Sequence[Any]] | None = None,
        out_proj: Sequence[Any] | None = None,
    ) -> None:
        if kind not in DERIVED_KINDS:
            raise ValueError(f"kind: expected one of {', '.join(DERIVED_KINDS)}, got {kind!r}")
        self.base, self.kind = base, kind
        self.n_layers = base.n_layers
        self.tokens = base.tokens
        self.query_tokens = base.query_tokens
        self.is_cross = bool(base.is_cross)
        self.raw_tokens = base.raw_tokens
        self._options: dict[str, Any] = {
            "head_fusion": head_fusion,
            "residual": float(residual),
            "discard_ratio": float(discard_ratio),
        }
        if kind in ("rollout", "flow"):
            check_mixing(head_fusion, residual, discard_ratio)
            if self.is_cross:
                raise ValueError(f"{kind}: needs self-attention; this source is cross-attention")
            self.n_heads = 1
            self._values: list[list[np.ndarray]] | None = None
            self._out_proj: list[np.ndarray] | None = None
            options: dict[str, Any] = dict(self._options)
            if kind == "flow":
                longest = max(base.shape(c)[0] for c in range(base.n_cases))
                check_flow_size(longest, [self.n_layers - 1], max_seconds)
        else:
            self._values, self._out_proj = self._check_values(base, values, out_proj)
            self.n_heads = base.n_heads if kind == "value_norm" else 1
            options = {}
        self.meta: dict[str, Any] = {**base.meta, "derived": kind, **options}
        # Rollout and value norms are computed whole per case in a fraction of a
        # second, so they count as held; flow is computed per layer when asked.
        self.holds_weights = kind != "flow"
        self.media: Any = base.media  # the image or audio under the attention, if any
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._mixed: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _check_values(
        base: Any, values: Any, out_proj: Any
    ) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
        if values is None or out_proj is None:
            raise ValueError(
                "value_norm: needs values=[case][layer] (kv_heads, k, d_head) and "
                "out_proj=[layer] (heads * d_head, d_model)"
            )
        if len(values) != base.n_cases or any(len(v) != base.n_layers for v in values):
            raise ValueError(
                f"values: expected [case][layer] for {base.n_cases} cases x {base.n_layers} "
                f"layers, got {len(values)} cases of {[len(v) for v in values]} layers"
            )
        if len(out_proj) != base.n_layers:
            raise ValueError(
                f"out_proj: expected one matrix per layer ({base.n_layers}), got {len(out_proj)}"
            )
        return [[np.asarray(v) for v in case] for case in values], [np.asarray(w) for w in out_proj]

    # -- the protocol
    @property
    def n_cases(self) -> int:
        return int(self.base.n_cases)

    def shape(self, case: int = 0) -> tuple[int, int]:
        self.check_index(case=case)
        q, k = self.base.shape(case)
        return int(q), int(k)

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None:
        check_indices(self, layer=layer, head=head, case=case)

    def is_causal(self, case: int = 0) -> bool:
        # A product (or flow) of lower-triangular matrices stays lower-triangular.
        return bool(self.base.is_causal(case))

    def _layer(self, layer: int, case: int) -> np.ndarray:
        """``(n_heads, q, k)`` float32 of one layer, computed once."""
        key = (case, layer)
        with self._lock:
            if key not in self._cache:
                self._compute(layer, case)
            return self._cache[key]

    def _compute(self, layer: int, case: int) -> None:
        if self.kind == "rollout":
            rolled = rollout_of_mixed(mixed_layers(self.base, case, **self._options))
            for index in range(self.n_layers):
                self._cache[(case, index)] = rolled[index][None].astype(np.float32)
        elif self.kind == "flow":
            if case not in self._mixed:
                self._mixed[case] = mixed_layers(self.base, case, **self._options)
            flow = flow_of_mixed(self._mixed[case], layer)
            self._cache[(case, layer)] = flow[None].astype(np.float32)
        else:
            assert self._values is not None and self._out_proj is not None
            combine = self.kind == "value_norm_sum"
            for index in range(self.n_layers):
                weighted = value_weighted(
                    layer_block(self.base, index, case),
                    self._values[case][index],
                    self._out_proj[index],
                    combine=combine,
                )
                self._cache[(case, index)] = (weighted[None] if combine else weighted).astype(
                    np.float32
                )

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        self.check_index(layer=layer, head=head, case=case)
        block = self._layer(layer, case)
        if head is None:
            return block.mean(axis=0, dtype=np.float32) if len(block) > 1 else block[0]
        return block[head]

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        return self.matrix(layer, head, case)[start:stop]

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

    def case_values(self, case: int) -> np.ndarray:
        """``(layers, heads, q, k)`` float32 of one case (computed if not yet)."""
        self.check_index(case=case)
        return np.stack([self._layer(layer, case) for layer in range(self.n_layers)])

    def __repr__(self) -> str:
        return (
            f"DerivedAttention({self.kind}, layers={self.n_layers}, heads={self.n_heads}, "
            f"cases={self.n_cases}, over {self.base!r})"
        )
