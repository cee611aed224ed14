"""Stability across runs (seeds, dropout samples, data orders): mean and spread per cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._scale import Scope, radius_fraction, scope_axes
from ._validate import as_finite, float_dtype

__all__ = ["Stability", "stability_stats"]

Spread = Literal["sem", "std"]


@dataclass(frozen=True)
class Stability:
    """Result of :func:`stability_stats`; arrays have the shape of one run, ``(..., q, k)``.

    ``mean``: mean over runs (the view's cell colour).
    ``spread``: standard error of the mean or standard deviation (``kind``), ddof = 1.
    ``n``: number of runs.
    ``radius``: circle radius as a fraction of the cell side, in ``[0, MAX_RADIUS]``.
    ``low``, ``high``: ``mean - k * spread`` and ``mean + k * spread``, not clamped
    (the view clamps them to its colour scale).
    ``kind``, ``k``: the spread measure and multiplier used.
    """

    mean: np.ndarray
    spread: np.ndarray
    n: int
    radius: np.ndarray
    low: np.ndarray
    high: np.ndarray
    kind: Spread
    k: float


def stability_stats(
    runs: Any, *, spread: Spread = "sem", k: float = 2.0, scope: Scope = "matrix"
) -> Stability:
    """Mean and spread of each cell over runs, and the circle that shows the spread.

    Algorithm, for ``runs`` of shape ``(n, ..., q, k)`` with ``n >= 2``:

    * ``mean`` = the mean over axis 0;
    * ``std`` = the sample standard deviation over axis 0 with ``ddof=1``
      (divide by ``n - 1``: the runs are a sample of what training could give);
      (exactly 0 where every run has the same value, not round-off);
    * ``spread`` = ``std / sqrt(n)`` (standard error of the mean, the default,
      ``spread="sem"``) or ``std`` itself (``spread="std"``); so SEM radii and
      std radii have the same pattern, only the absolute spread differs;
    * ``radius = MAX_RADIUS * spread / max spread`` (0.45 of the cell side at
      most), the maximum taken per ``(q, k)`` matrix (``scope="matrix"``) or
      over everything (``scope="all"``); all radii are 0 where no cell varies;
    * ``low = mean - k * spread`` and ``high = mean + k * spread`` (the circle's
      fill runs from the colour of ``low`` at its centre to ``high`` at its edge).

    ``runs``: numpy array or torch tensor with finite values; fewer than 2 runs,
    or fewer than 3 dimensions, is a ``ValueError``. ``k``: finite and >= 0.
    """
    stack = as_finite(runs, "runs", min_ndim=3, layout="(runs, q, k) or (runs, ..., q, k)")
    n = stack.shape[0]
    if n < 2:
        raise ValueError(f"runs: expected at least 2 runs along axis 0, got {n}")
    if spread not in ("sem", "std"):
        raise ValueError(f"spread: expected 'sem' or 'std', got {spread!r}")
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)):
        raise ValueError(f"k: expected a finite number >= 0, got {k!r}")
    if not (np.isfinite(k) and k >= 0):
        raise ValueError(f"k: expected a finite number >= 0, got {k}")
    axes = scope_axes(stack.ndim - 1, scope)
    stack = stack.astype(float_dtype(stack), copy=False)
    mean = stack.mean(axis=0)
    std = stack.std(axis=0, ddof=1)
    # Runs that agree exactly have no spread, but the rounding of the mean can
    # leave a std of ~1e-17 there, which the radius scaling would blow up to a
    # full circle when nothing else varies. Zero it where min == max.
    std = np.where(stack.min(axis=0) == stack.max(axis=0), std.dtype.type(0), std)
    width = std / np.sqrt(n).astype(std.dtype) if spread == "sem" else std
    return Stability(
        mean=mean,
        spread=width,
        n=n,
        radius=radius_fraction(width, axes),
        low=mean - k * width,
        high=mean + k * width,
        kind=spread,
        k=float(k),
    )
