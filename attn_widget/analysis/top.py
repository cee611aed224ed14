"""Top cells: the n largest values of a matrix, in a fully determined order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import as_finite

__all__ = ["top_cells"]


def top_flat_indices(flat: np.ndarray, n: int) -> np.ndarray:
    """Flat indices of the ``n`` largest values of 1-D ``flat``, largest first.

    Equal values come in index order (row-major position for a flattened matrix).
    ``0 <= n <= flat.size`` is the caller's business.

    Algorithm: ``np.partition`` finds the n-th largest value ``t`` in O(size);
    every value above ``t`` is taken, and of the values equal to ``t`` only the
    first ones by index, as many as are still missing. Only those ``n``
    candidates are then sorted, by value descending and index ascending, so the
    cost is O(size + n log n) rather than a full sort.
    """
    size = flat.size
    if n == 0:
        return np.empty(0, dtype=np.intp)
    if n >= size:
        candidates = np.arange(size)
    else:
        threshold = np.partition(flat, size - n)[size - n]
        above = np.flatnonzero(flat > threshold)
        # flatnonzero returns indices in ascending order: the first ones win the tie.
        ties = np.flatnonzero(flat == threshold)[: n - above.size]
        candidates = np.concatenate([above, ties])
    # lexsort sorts by its last key first: value ascending, ties by index descending;
    # reversed, that is value descending, ties by index ascending. Negating the
    # index rather than the value keeps unsigned and extreme integers exact.
    order = np.lexsort((-candidates, flat[candidates]))[::-1]
    return candidates[order]


def top_cells(matrix: Any, n: int) -> list[tuple[int, int]]:
    """The ``n`` largest cells of a 2-D ``matrix`` as ``(row, col)`` pairs, largest first.

    Exactly ``n`` cells come back (all cells when ``n`` exceeds the matrix size;
    none for ``n == 0``). Ties are broken by position in row-major order: of two
    equal values the one in the earlier row, then the earlier column, comes
    first, so the answer never depends on the sorting algorithm.

    ``matrix``: numpy array or torch tensor ``(q, k)``, finite values.
    ``n``: an int >= 0; a negative ``n`` is a ``ValueError``.
    """
    array = as_finite(matrix, "matrix", ndim=2, layout="(q, k)")
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n: expected an int >= 0, got {n!r}")
    if n < 0:
        raise ValueError(f"n: expected an int >= 0, got {n}")
    cols = array.shape[1]
    flat = array.reshape(-1)
    picked = top_flat_indices(flat, min(int(n), flat.size))
    return [(int(i) // cols, int(i) % cols) for i in picked]
