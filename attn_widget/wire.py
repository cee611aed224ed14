"""Binary encoding of attention values for the trip to the browser.

Encoding (read by ``js/decode.js``):

* ``float16``: the values multiplied by a power of two ``scale`` and stored as
  IEEE half floats, little-endian. The browser divides by ``scale``. Because
  the scale is a power of two, scaling is exact; a half float has an 11-bit
  significand, so every value whose scaled form is a *normal* half
  (>= 2**-14) comes back with a relative error of at most 2**-11 ≈ 4.9e-4.
  The scale is chosen so the largest value lands just under the half-float
  maximum, which keeps values down to ``max * 2**-30`` normal: with attention
  weights (max <= 1) that is every value >= 1e-9.
* ``float32``: the values as little-endian IEEE singles, ``scale`` 1. Used when
  some value >= 1e-6 would fall below the normal half range (data with a huge
  dynamic range), so the 1e-3 relative error bound always holds.

Zero stays exactly zero in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["RELATIVE_ERROR_FLOOR", "Encoded", "decode", "encode"]

# Values at or above this are promised a relative error <= 1e-3 on the wire.
RELATIVE_ERROR_FLOOR = 1e-6
_HALF_MAX = 65504.0
_HALF_MIN_NORMAL = 2.0**-14


@dataclass(frozen=True)
class Encoded:
    data: bytes
    dtype: str  # "float16" | "float32"
    scale: float

    @property
    def header(self) -> dict[str, float | str]:
        return {"dtype": self.dtype, "scale": self.scale}


def encode(values: np.ndarray, allow_half: bool = True) -> Encoded:
    """Encode ``values`` (any shape, non-negative, finite) for the wire."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    vmax = float(flat.max()) if flat.size else 0.0
    if allow_half and flat.size:
        # Largest power of two that keeps the maximum representable.
        scale = 2.0 ** math.floor(math.log2(_HALF_MAX / vmax)) if vmax > 0 else 1.0
        scale = min(scale, 2.0**100)
        significant = flat[flat >= RELATIVE_ERROR_FLOOR]
        smallest = float(significant.min()) if significant.size else math.inf
        if smallest * scale >= _HALF_MIN_NORMAL:
            half = (flat.astype(np.float64) * scale).astype("<f2")
            return Encoded(half.tobytes(), "float16", scale)
    return Encoded(flat.astype("<f4").tobytes(), "float32", 1.0)


def decode(data: bytes, dtype: str, scale: float) -> np.ndarray:
    """Inverse of :func:`encode` (flat float32); used by tests and by the saved HTML checks."""
    if dtype == "float16":
        return (np.frombuffer(data, dtype="<f2").astype(np.float64) / scale).astype(np.float32)
    if dtype == "float32":
        return np.frombuffer(data, dtype="<f4").copy()
    raise ValueError(f"dtype: expected 'float16' or 'float32', got {dtype!r}")
