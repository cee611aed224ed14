"""Input checks shared by the analysis functions.

Every public function of :mod:`attn_widget.analysis` turns its input into a
float numpy array here, so that a wrong input fails the same way everywhere: a
``ValueError`` that names the argument, what was expected and what came.

Negative values are allowed on purpose: analysis works on plain arrays (a
signed difference map is a fine input to :func:`find_regions`), unlike
:class:`attn_widget.AttentionData`, which holds attention weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_widget.data import as_numpy

__all__ = ["as_finite", "float_dtype", "positive_int"]


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The dtype results are computed in: the inputs' float type, at least float32.

    float16 is widened because differences and squares lose too much in it;
    integer inputs become float64 (numpy's rule for int + float32).
    """
    return np.result_type(*(a.dtype for a in arrays), np.float32)


def as_finite(
    values: Any,
    what: str,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    layout: str,
) -> np.ndarray:
    """Return ``values`` as a finite, non-empty numpy array of an accepted rank.

    ``layout`` is the expected shape in words, e.g. ``"(q, k)"``; it goes into
    the error message so that the user sees what to pass instead.
    """
    array = as_numpy(values, what)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{what}: expected a {ndim}-D array {layout}, got {array.ndim}-D shape {array.shape}"
        )
    if min_ndim is not None and array.ndim < min_ndim:
        raise ValueError(
            f"{what}: expected an array of at least {min_ndim} dimensions {layout}, "
            f"got {array.ndim}-D shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{what}: expected a non-empty array {layout}, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            n_nan = int(np.isnan(array).sum())
            n_inf = int(array.size - finite.sum()) - n_nan
            raise ValueError(
                f"{what}: expected finite values, got {n_nan} NaN and {n_inf} infinite value(s)"
            )
    return array


def positive_int(value: Any, what: str, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; bools and floats are refused (they hide mistakes)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what}: expected an int >= {minimum}, got {value}")
    return int(value)
