"""Compare two attentions cell by cell: the numbers behind the compare view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._scale import Scope, radius_fraction, scope_axes
from ._validate import as_finite, float_dtype

__all__ = ["Comparison", "compare_cells"]


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare_cells`; every array has the inputs' shape ``(..., q, k)``.

    ``a``, ``b``: the inputs as float arrays (the view colours cells by ``a`` and
    fills circles with ``b`` on the same colour scale).
    ``diff``: the signed difference ``a - b`` (for a diverging colour map).
    ``radius``: circle radius as a fraction of the cell side, in ``[0, MAX_RADIUS]``.
    ``max_abs_diff``: ``max |a - b|`` per scope, shaped to broadcast against ``diff``.
    """

    a: np.ndarray
    b: np.ndarray
    diff: np.ndarray
    radius: np.ndarray
    max_abs_diff: np.ndarray


def compare_cells(a: Any, b: Any, *, scope: Scope = "matrix") -> Comparison:
    """Cell-by-cell comparison of two attention arrays of the same shape.

    Algorithm: ``diff = a - b``; the circle radius of a cell is
    ``MAX_RADIUS * |diff| / max |diff|`` (``MAX_RADIUS = 0.45`` of the cell
    side), the maximum taken over each ``(q, k)`` matrix (``scope="matrix"``)
    or over the whole input (``scope="all"``). So the cell with the largest
    ``|a - b|`` gets the largest circle, radius is proportional to ``|a - b|``,
    and a cell where ``a == b`` gets radius 0: no circle. If ``a == b``
    everywhere in a scope, every radius there is 0.

    ``a``, ``b``: numpy arrays or torch tensors ``(q, k)`` or ``(..., q, k)``
    with finite values and equal shapes; otherwise ``ValueError`` naming both
    shapes. Computed in the inputs' float type, at least float32.
    """
    first = as_finite(a, "a", min_ndim=2, layout="(q, k) or (..., q, k)")
    second = as_finite(b, "b", min_ndim=2, layout="(q, k) or (..., q, k)")
    if first.shape != second.shape:
        raise ValueError(
            f"a and b: expected the same shape, got a {first.shape} and b {second.shape}"
        )
    axes = scope_axes(first.ndim, scope)
    dtype = float_dtype(first, second)
    first = first.astype(dtype, copy=False)
    second = second.astype(dtype, copy=False)
    diff = first - second
    magnitude = np.abs(diff)
    return Comparison(
        a=first,
        b=second,
        diff=diff,
        radius=radius_fraction(magnitude, axes),
        max_abs_diff=magnitude.max(axis=axes, keepdims=True),
    )
