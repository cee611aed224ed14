"""The numbers behind the analysis views: compare, stability across runs, evolution over training.

Each view's heatmap background is one matrix (A, the mean over runs, the mean
over checkpoints) and its cells carry an overlay: circles for compare and
stability, sparklines for evolution. :class:`Overlay` computes the channels of
one slice at a time from :mod:`attn_widget.analysis`, so the views work at any
size; the ``*_overlay`` functions check the inputs and return the background
data with its overlay. Nothing here builds a widget (``attn_widget.api`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import analysis
from .data import AttentionData

__all__ = ["Overlay", "compare_overlay", "evolution_overlay", "stability_overlay"]


def _same_shape(first: AttentionData, other: AttentionData, what: str, index: int) -> None:
    expected = (
        first.n_layers,
        first.n_heads,
        first.n_cases,
        [first.shape(c) for c in range(first.n_cases)],
    )
    got = (
        other.n_layers,
        other.n_heads,
        other.n_cases,
        [other.shape(c) for c in range(other.n_cases)],
    )
    if expected != got:
        raise ValueError(
            f"{what}[{index}]: expected the shape of {what}[0] "
            f"(layers, heads, cases, q x k per case) = {expected}; got {got}"
        )


def _as_data(values: Any, tokens: Any, target_tokens: Any, what: str) -> AttentionData:
    if isinstance(values, AttentionData):
        return values
    try:
        return AttentionData(values, tokens, target_tokens=target_tokens)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from error


def _series(
    values: Sequence[Any] | np.ndarray, tokens: Any, target_tokens: Any, what: str, minimum: int
) -> list[AttentionData]:
    array_like = isinstance(values, np.ndarray) or hasattr(values, "detach")
    if array_like or (isinstance(values, Sequence) and not isinstance(values, str)):
        items = list(values)
    else:
        raise ValueError(
            f"{what}: expected a sequence or array of attentions, got {type(values).__name__}"
        )
    if len(items) < minimum:
        raise ValueError(f"{what}: expected at least {minimum}, got {len(items)}")
    data = [_as_data(v, tokens, target_tokens, f"{what}[{i}]") for i, v in enumerate(items)]
    for i, d in enumerate(data[1:], start=1):
        _same_shape(data[0], d, what, i)
    return data


def _mean_data(items: list[AttentionData]) -> AttentionData:
    first = items[0]
    cases = [np.mean([d.values[c] for d in items], axis=0) for c in range(first.n_cases)]
    mean = AttentionData.from_cases(
        cases, first.tokens, target_tokens=first.query_tokens if first.is_cross else None
    )
    return mean


@dataclass
class Overlay:
    """Per-slice overlay channels for the view, computed on request."""

    kind: str
    tooltip: list[list[Any]]
    sources: list[AttentionData]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "tooltip": self.tooltip, "n": len(self.sources)}

    def channels(
        self, layer: int, head: int | None, case: int
    ) -> tuple[dict[str, np.ndarray], float, int]:
        """``(channels, colour-scale maximum, series length)`` of one slice."""
        stack = np.stack([d.matrix(layer, head, case) for d in self.sources])
        if self.kind == "compare":
            a, b = stack
            cmp = analysis.compare_cells(a, b)
            channels = {"base": a, "b": b, "radius": cmp.radius, "delta": cmp.diff}
            return channels, float(max(a.max(), b.max())), 0
        if self.kind == "stability":
            st = analysis.stability_stats(stack, spread=self.options["spread"], k=self.options["k"])
            n = np.full(st.mean.shape, len(self.sources), dtype=np.float32)
            channels = {
                "base": st.mean,
                "spread": st.spread,
                "radius": st.radius,
                "low": st.low,
                "high": st.high,
                "n": n,
            }
            return channels, float(max(st.mean.max(), 1e-30)), 0
        ev = analysis.evolution_series(stack, normalize=self.options["normalize"])
        steps = stack.shape[0]
        channels = {"base": ev.mean, "series": ev.series, "values": ev.values}  # (q, k, steps)
        return channels, float(max(ev.mean.max(), 1e-30)), steps


def compare_overlay(
    attn_a: Any, attn_b: Any, tokens: Any = None, *, target_tokens: Any = None
) -> tuple[AttentionData, Overlay]:
    """Two attentions of the same shape, compared: A as the background, an overlay of B.

    Cells are coloured by A; a circle in each cell is filled with B's colour
    (same scale) and sized by ``|A − B| / max |A − B|``; no circle where A = B.
    The tooltip gives A, B and Δ = A − B.
    """
    a, b = _series([attn_a, attn_b], tokens, target_tokens, "attentions", 2)
    overlay = Overlay(
        "compare", [["A", "base", 4], ["B", "b", 4], ["Δ = A − B", "delta", 4]], [a, b]
    )
    return a, overlay


def stability_overlay(
    runs: Any,
    tokens: Any = None,
    *,
    target_tokens: Any = None,
    spread: str = "sem",
    k: float = 2.0,
) -> tuple[AttentionData, Overlay]:
    """Attention across runs (seeds, data orders): the mean, and an overlay of the spread.

    ``runs`` is a sequence (or leading array axis) of attentions of one shape,
    at least 2. Cells show the mean; circles are sized by the spread
    (``spread="sem"`` standard error, or ``"std"``) and filled from
    mean − k·spread at the centre to mean + k·spread at the edge.
    """
    if spread not in ("sem", "std"):
        raise ValueError(f"spread: expected 'sem' or 'std', got {spread!r}")
    items = _series(runs, tokens, target_tokens, "runs", 2)
    overlay = Overlay(
        "stability",
        [["mean", "base", 4], [spread, "spread", 3], ["n", "n", 3]],
        items,
        {"spread": spread, "k": float(k)},
    )
    return _mean_data(items), overlay


def evolution_overlay(
    checkpoints: Any,
    tokens: Any = None,
    *,
    target_tokens: Any = None,
    normalize: str = "global",
) -> tuple[AttentionData, Overlay]:
    """Attention across training checkpoints: the mean, and an overlay of a sparkline per cell.

    ``checkpoints`` is a sequence (or leading array axis) of attentions of one
    shape, at least 2, in training order. ``normalize="global"`` scales every
    sparkline by one range; ``"cell"`` scales each cell by its own.
    """
    if normalize not in ("global", "cell"):
        raise ValueError(f"normalize: expected 'global' or 'cell', got {normalize!r}")
    items = _series(checkpoints, tokens, target_tokens, "checkpoints", 2)
    overlay = Overlay(
        "evolution", [["mean", "base", 4], ["series", "values", 3]], items, {"normalize": normalize}
    )
    return _mean_data(items), overlay
