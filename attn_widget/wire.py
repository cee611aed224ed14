"""Every byte layout between the kernel and the view; ``js/codec.js`` is its one decoder.

Values (:func:`encode`, read by ``decodeValues``):

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

The view's data (:func:`pack_payload`, read by ``decodePayload``) is one
binary trait, so the header and the bytes it describes arrive in one update:
``b"AWP1"``, the header's byte length (uint32 LE), the header as ASCII JSON
padded with spaces to a multiple of 8, then the data: the cube, then any
blobs (the pictures under the attention: raw RGB images, waveform
envelopes), each starting at a multiple of 8. The header's ``layout`` gives
``cube`` and each of ``blobs`` as ``[offset, length]`` in bytes from the start
of the data. The cube (:func:`cube_values`) holds, case after case,
``(layers, heads + 1, q, k)`` values: head ``heads`` is the mean of heads.
The header says where each case starts (``offset`` in values) and how the
values are encoded.

Replies (``*_reply``, read by ``decodeReply``) are a JSON content and binary
buffers; the content carries its layout fields (dtype, scale, shapes). The
kinds of message the view may send are :data:`REQUEST_KINDS`. On the wire the
mean of heads is ``head: null``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "RELATIVE_ERROR_FLOOR",
    "REQUEST_KINDS",
    "Encoded",
    "Reply",
    "colmean_reply",
    "cube_layout",
    "cube_values",
    "decode",
    "encode",
    "links_reply",
    "overlay_reply",
    "pack_payload",
    "payload_header",
    "regions_reply",
    "thumbs_reply",
    "tile_reply",
    "token_reply",
    "unpack_blobs",
    "unpack_payload",
]

# Values at or above this are promised a relative error <= 1e-3 on the wire.
RELATIVE_ERROR_FLOOR = 1e-6
_HALF_MAX = 65504.0
_HALF_MIN_NORMAL = 2.0**-14
# Slices up to this many values go as exact float32 (4 MB); larger ones as half floats.
EXACT_SLICE_VALUES = 1 << 20
# Pooled tiles over this many values (256 x 256) go as half floats.
EXACT_POOLED_VALUES = 1 << 16

# What the view asks the kernel (js/source.js sends them; attn_widget/serve answers).
DATA_KINDS = (
    *("tile", "links", "token", "colmean", "cellheads", "thumbs", "regions", "overlay"),
    *("scores", "similar", "sinks"),
)
REQUEST_KINDS = (*DATA_KINDS, "export")

PAYLOAD_MAGIC = b"AWP1"
_ALIGN = 8

# (JSON-able content, binary buffers)
Reply = tuple[dict[str, Any], list[bytes]]


@dataclass(frozen=True)
class Encoded:
    data: bytes
    dtype: str  # "float16" | "float32"
    scale: float

    @property
    def header(self) -> dict[str, Any]:
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


def _encode_slice(values: np.ndarray, pooled: bool = False) -> tuple[dict[str, Any], bytes]:
    # A pooled picture shows block maxima, not values a user reads one by one:
    # past a screenful it goes as half floats (relative error <= 4.9e-4), which
    # halves the bytes of every overview. Full-resolution values stay exact.
    limit = EXACT_POOLED_VALUES if pooled else EXACT_SLICE_VALUES
    encoded = encode(values, allow_half=values.size > limit)
    return encoded.header, encoded.data


# --------------------------------------------------------------------- payload
def pack_payload(
    header: Mapping[str, Any], cube: bytes = b"", blobs: Sequence[bytes] = ()
) -> bytes:
    """The view's data as one buffer: the header, then the cube and blobs it describes."""
    parts: list[bytes] = []
    spans: list[list[int]] = []
    offset = 0
    for data in (cube, *blobs):
        spans.append([offset, len(data)])
        pad = -len(data) % _ALIGN
        parts += [data, b"\0" * pad]
        offset += len(data) + pad
    full = {**header, "layout": {"cube": spans[0], "blobs": spans[1:]}}
    # ASCII JSON: any token text (a lone surrogate too) travels as escapes.
    text = json.dumps(full, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    start = len(PAYLOAD_MAGIC) + 4 + len(text)
    padding = -start % _ALIGN
    head = [PAYLOAD_MAGIC, struct.pack("<I", len(text) + padding), text, b" " * padding]
    return b"".join(head + parts)


def _header_size(payload: bytes) -> int:
    if len(payload) < 8 or payload[:4] != PAYLOAD_MAGIC:
        raise ValueError(f"payload: expected {PAYLOAD_MAGIC!r} and a header, got {payload[:8]!r}")
    return int(struct.unpack("<I", payload[4:8])[0])


def payload_header(payload: bytes) -> dict[str, Any]:
    """The header of a :func:`pack_payload` buffer (the cube is not copied)."""
    size = _header_size(payload)
    return dict(json.loads(payload[8 : 8 + size].decode("ascii")))


def unpack_payload(payload: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the cube's bytes of a :func:`pack_payload` buffer."""
    header, cube, _ = unpack_blobs(payload)
    return header, cube


def unpack_blobs(payload: bytes) -> tuple[dict[str, Any], bytes, list[bytes]]:
    """Inverse of :func:`pack_payload`: ``(header, cube bytes, blobs)``."""
    start = 8 + _header_size(payload)
    header = payload_header(payload)
    layout = header["layout"]
    (offset, length), blobs = layout["cube"], layout["blobs"]
    cube = payload[start + offset : start + offset + length]
    return header, cube, [payload[start + o : start + o + n] for o, n in blobs]


def cube_layout(shapes: Sequence[tuple[int, int]], layers: int, heads: int) -> list[dict[str, int]]:
    """Where each case's ``(layers, heads + 1, q, k)`` block starts in the cube, in values."""
    cases = []
    offset = 0
    for q, k in shapes:
        cases.append({"q": q, "k": k, "offset": offset})
        offset += layers * (heads + 1) * q * k
    return cases


def cube_values(case_values: Sequence[np.ndarray]) -> np.ndarray:
    """All cases' ``(layers, heads + 1, q, k)`` blocks, flattened; head ``heads`` is the mean."""
    blocks = []
    for values in case_values:
        mean = values.mean(axis=1, keepdims=True, dtype=np.float32)
        blocks.append(np.concatenate([values.astype(np.float32), mean], axis=1).ravel())
    return np.concatenate(blocks)


# --------------------------------------------------------------------- replies
def tile_reply(
    values: np.ndarray, window: tuple[int, int, int, int], factors: tuple[int, int]
) -> Reply:
    """A window ``(q0, q1, k0, k1)`` of one matrix, max-pooled by ``factors`` ``(fq, fk)``."""
    fq, fk = factors
    header, payload = _encode_slice(values, pooled=fq > 1 or fk > 1)
    q0, q1, k0, k1 = window
    rows, cols = values.shape
    content = {**header, "rows": rows, "cols": cols, "fq": fq, "fk": fk}
    return {**content, "q0": q0, "q1": q1, "k0": k0, "k1": k1}, [payload]


def links_reply(order: np.ndarray, weights: np.ndarray, q0: int, q1: int, top: int) -> Reply:
    """Each query row's strongest keys: int32 indices, then their weights, ``(rows, width)``."""
    header, payload = _encode_slice(weights)
    content = {**header, "q0": q0, "q1": q1, "top": top, "width": int(order.shape[1])}
    return content, [np.ascontiguousarray(order, dtype="<i4").tobytes(), payload]


def token_reply(weights: np.ndarray, kind: str, index: int) -> Reply:
    """Every weight of one token (its row or its column)."""
    header, payload = _encode_slice(weights)
    return {**header, "kind": kind, "index": index, "count": int(weights.size)}, [payload]


def colmean_reply(means: np.ndarray) -> Reply:
    """Each key's weight averaged over the query rows (float32 values)."""
    header, payload = _encode_slice(means)
    return {**header, "count": int(means.size)}, [payload]


def thumbs_reply(thumbs: np.ndarray, size: int) -> Reply:
    """A ``(heads, rows, cols)`` stack of thumbnails."""
    header, payload = _encode_slice(thumbs, pooled=True)
    _, rows, cols = thumbs.shape
    return {**header, "size": size, "rows": rows, "cols": cols}, [payload]


def regions_reply(rects: Sequence[Sequence[int]], pooled: tuple[int, int]) -> Reply:
    """Rectangles ``[top, left, bottom, right]`` (half-open), strongest first; no buffers."""
    return {"regions": [[int(v) for v in r] for r in rects], "pooled": list(pooled)}, []


def overlay_reply(
    kind: str, channels: Mapping[str, np.ndarray], scale_max: float, steps: int
) -> Reply:
    """An analysis overlay: named float32 channels ``(q, k)`` (``(q, k, steps)`` for series)."""
    names = list(channels)
    q, k = channels["base"].shape
    buffers = [np.ascontiguousarray(channels[n], dtype="<f4").tobytes() for n in names]
    content = {"kind": kind, "channels": names, "q": q, "k": k, "steps": steps}
    return {**content, "scale_max": float(scale_max)}, buffers
