"""Scaling shared by the circle overlays (compare, stability) and the sparklines.

Inputs may be one ``(q, k)`` matrix or a stack of them (``(..., q, k)``: layers,
cases, heads). ``scope`` says over what a maximum or minimum is taken:

* ``"matrix"`` (default): each ``(q, k)`` matrix on its own, so every heatmap
  the widget shows uses its full circle size / sparkline height, as its colour
  scale does;
* ``"all"``: one scale for everything passed in, so matrices can be compared.

For a single 2-D input the two are the same.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["MAX_RADIUS", "Scope", "radius_fraction", "scope_axes"]

#: Largest circle radius, as a fraction of the cell side: 0.45 leaves a rim of
#: the cell's own colour visible around the biggest circle.
MAX_RADIUS = 0.45

Scope = Literal["matrix", "all"]


def scope_axes(ndim: int, scope: str, what: str = "scope") -> tuple[int, ...]:
    """Axes a per-``scope`` reduction runs over, for an array ``(..., q, k)`` of rank ``ndim``."""
    if scope == "matrix":
        return (ndim - 2, ndim - 1)
    if scope == "all":
        return tuple(range(ndim))
    raise ValueError(f"{what}: expected 'matrix' or 'all', got {scope!r}")


def radius_fraction(magnitude: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``MAX_RADIUS * magnitude / max(magnitude)`` over ``axes``; all zeros where the max is 0.

    ``magnitude`` must be >= 0. A zero magnitude gives a zero radius exactly (no
    circle), and the largest magnitude gives ``MAX_RADIUS`` exactly.
    """
    peak = magnitude.max(axis=axes, keepdims=True)
    # Where everything is 0 there is nothing to show: divide by 1 instead of 0.
    safe = np.where(peak > 0, peak, 1)
    # Divide first: peak / peak is exactly 1, so the largest cell gets MAX_RADIUS exactly.
    return ((magnitude / safe) * MAX_RADIUS).astype(magnitude.dtype, copy=False)
