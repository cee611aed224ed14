"""Where recorded weights live: one ``(layers, heads, q, k)`` array per case, filled layer by layer.

Each case's array is allocated once, at the first layer, for the number of
layers the model is expected to have, and every layer is written straight into
it: no per-layer arrays to stack at the end (which would hold the weights
twice). Large arrays are mapped with their pages populated up front: touching
gigabytes of fresh memory page by page is, on virtual machines, slower than
computing the weights.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence

import numpy as np

__all__ = ["Cubes", "populated"]

# Below this many bytes np.empty is as fast; above, populating saves the page faults.
_POPULATE_BYTES = 32 << 20


def populated(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array whose memory is already mapped in (``MAP_POPULATE`` on Linux)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    flag = getattr(mmap, "MAP_POPULATE", None)
    if flag is None or size < _POPULATE_BYTES:
        return np.empty(shape, dtype=dtype)
    try:
        region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | flag)
    except (OSError, ValueError):
        return np.empty(shape, dtype=dtype)
    # The array keeps the mapping alive; it is unmapped when the array goes.
    return np.frombuffer(region, dtype=dtype).reshape(shape)


class Cubes:
    """Per-case arrays ``(layers, heads, q_c, k_c)`` of one component.

    ``expected`` is the number of layers the model should call; a model that
    calls more grows the arrays (a copy), one that calls fewer is trimmed.
    """

    def __init__(self, sides: Sequence[tuple[int, int]], dtype: np.dtype, expected: int) -> None:
        self.sides = list(sides)
        self.dtype = np.dtype(dtype)
        self.capacity = max(1, expected)
        self.arrays: list[np.ndarray] = []
        self.filled = 0
        self.heads = 0

    def next_layer(self, heads: int) -> list[np.ndarray]:
        """Views ``(heads, q_c, k_c)`` of every case for the next layer to record."""
        if not self.arrays:
            self.heads = heads
            self.arrays = [
                populated((self.capacity, heads, q, k), self.dtype) for q, k in self.sides
            ]
        elif heads != self.heads:
            raise ValueError(
                f"layer {self.filled} has {heads} heads; the earlier layers had {self.heads}"
            )
        if self.filled == self.capacity:
            self.capacity *= 2
            grown = []
            for old in self.arrays:
                new = populated((self.capacity, *old.shape[1:]), self.dtype)
                new[: self.filled] = old
                grown.append(new)
            self.arrays = grown
        views = [array[self.filled] for array in self.arrays]
        self.filled += 1
        return views

    def finish(self) -> list[np.ndarray]:
        """The filled layers of every case (a copy only if fewer layers came than expected)."""
        arrays = self.arrays
        if self.filled < self.capacity:
            arrays = [np.ascontiguousarray(a[: self.filled]) for a in arrays]
        self.arrays = []
        return arrays
