"""Evolution over training checkpoints: a mean per cell and a scaled series for a sparkline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._scale import Scope, scope_axes
from ._validate import as_finite, float_dtype

__all__ = ["Evolution", "evolution_series"]

Normalize = Literal["global", "cell"]

#: Where a series with nothing to scale (max == min) is drawn: a flat line at mid-height.
FLAT_LEVEL = 0.5


@dataclass(frozen=True)
class Evolution:
    """Result of :func:`evolution_series`, for checkpoints ``(steps, ..., q, k)``.

    ``mean``: mean over checkpoints, ``(..., q, k)`` (the view's cell colour).
    ``series``: each cell's values scaled to ``[0, 1]``, ``(..., q, k, steps)``:
    the series of a cell is contiguous, the layout the view reads.
    ``values``: the raw values in the same layout (a view of the input, for tooltips).
    ``low``, ``high``: the values that map to 0 and 1, shaped to broadcast
    against ``series`` (equal where a series is flat).
    ``steps``: number of checkpoints; ``normalize``: the mode used.
    """

    mean: np.ndarray
    series: np.ndarray
    values: np.ndarray
    low: np.ndarray
    high: np.ndarray
    steps: int
    normalize: Normalize


def evolution_series(
    checkpoints: Any, *, normalize: Normalize = "global", scope: Scope = "matrix"
) -> Evolution:
    """Mean over checkpoints and, for every cell, its series scaled to ``[0, 1]``.

    Algorithm, for ``checkpoints`` of shape ``(steps, ..., q, k)`` with ``steps >= 2``:

    * ``mean`` = the mean over axis 0;
    * ``normalize="global"`` (default): ``series = (x - lo) / (hi - lo)`` with
      one ``lo``/``hi`` (min/max over all cells and all steps) per ``(q, k)``
      matrix (``scope="matrix"``) or over the whole input (``scope="all"``),
      so sparklines compare across cells: a cell that barely moves draws an
      almost flat line at its own level;
    * ``normalize="cell"``: ``lo``/``hi`` are each cell's own min/max over the
      steps, so every cell that moves uses the full height (shape over size);
      ``scope`` plays no part here;
    * a series with nothing to scale (``hi == lo``: a flat series in "cell"
      mode, or a constant matrix in "global" mode) maps to ``FLAT_LEVEL`` =
      0.5 at every step: a flat line at mid-height, never a division by zero.

    Scaling is monotone, so a rising series rises in both modes.

    ``checkpoints``: numpy array or torch tensor with finite values; fewer than
    2 checkpoints, or fewer than 3 dimensions, is a ``ValueError``.
    """
    stack = as_finite(
        checkpoints, "checkpoints", min_ndim=3, layout="(steps, q, k) or (steps, ..., q, k)"
    )
    steps = stack.shape[0]
    if steps < 2:
        raise ValueError(f"checkpoints: expected at least 2 checkpoints along axis 0, got {steps}")
    if normalize not in ("global", "cell"):
        raise ValueError(f"normalize: expected 'global' or 'cell', got {normalize!r}")
    stack = stack.astype(float_dtype(stack), copy=False)
    # Steps last: each cell's series becomes contiguous once copied below.
    values = np.moveaxis(stack, 0, -1)
    # The matrix axes of `values` are the two before the steps axis; checked in
    # both modes so that a bad `scope` is never silently ignored.
    inner = scope_axes(values.ndim - 1, scope)
    axes = (values.ndim - 1,) if normalize == "cell" else (*inner, values.ndim - 1)
    low = values.min(axis=axes, keepdims=True)
    high = values.max(axis=axes, keepdims=True)
    span = high - low
    flat = span == 0
    series = (values - low) / np.where(flat, 1, span)
    # Where nothing varies the division above gave 0 / 1: draw mid-height instead.
    series = np.where(flat, series.dtype.type(FLAT_LEVEL), series)
    return Evolution(
        mean=stack.mean(axis=0),
        series=np.ascontiguousarray(series),
        values=values,
        low=low,
        high=high,
        steps=steps,
        normalize=normalize,
    )
