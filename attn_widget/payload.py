"""What the view is sent of a widget's data: a header and, under the byte budget, the whole cube.

Data reaches the browser in one of two tiers (DESIGN.md, "Data flow"):

* ``cube``: every layer, head (plus the head mean) and case, encoded once; the
  sliders then slice it in the browser. Exact float32 when it fits in the
  budget, half floats (2 bytes a value) when only they fit.
* ``slices``: above the budget, or for a source that computes its weights
  when asked, the view asks the kernel for what it draws (:mod:`attn_widget.serve`).

Image and audio sources also send their pictures (``source.media``: the
processed image as raw RGB, the waveform envelope as float32) as blobs beside
the cube, described in the header's ``media`` (``images[c]`` / ``envelopes[c]``
name each case's blob) next to the grid or time axis from
``source.meta["media"]``.

The live widget and the saved page build their payload here, so both read the
same header; :func:`attn_widget.wire.pack_payload` lays it out in bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import wire
from .analysis.scores import SCORE_NAMES
from .data import AttentionSource

__all__ = ["cube_size", "media_blobs", "view_payload"]


def cube_size(source: AttentionSource) -> int:
    """Values in the cube: every case's ``layers x (heads + 1) x q x k``."""
    return sum(
        source.n_layers * (source.n_heads + 1) * q * k
        for q, k in (source.shape(c) for c in range(source.n_cases))
    )


def media_blobs(source: AttentionSource) -> tuple[dict[str, Any] | None, list[bytes]]:
    """The header's ``media`` and the blobs of an image or audio source; ``(None, [])`` for text."""
    media = source.media
    described = source.meta.get("media")
    if media is None or not isinstance(described, dict):
        return None, []
    blobs: list[bytes] = []
    images = []
    for image in media.images:
        images.append({"blob": len(blobs), "height": image.shape[0], "width": image.shape[1]})
        blobs.append(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    envelopes = []
    for envelope in media.envelopes:
        envelopes.append({"blob": len(blobs), "bins": envelope.shape[0]})
        blobs.append(np.ascontiguousarray(envelope, dtype="<f4").tobytes())
    return {**described, "images": images, "envelopes": envelopes}, blobs


def view_payload(
    components: Mapping[str, AttentionSource],
    component: str,
    byte_budget: int,
    *,
    kernel: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The header of ``component`` and, when it fits in ``byte_budget``, its cube."""
    source = components[component]
    shapes = [source.shape(c) for c in range(source.n_cases)]
    values = cube_size(source)
    cube = b""
    encoding: dict[str, Any] = {}
    # Exact float32 when it fits; half floats when only they fit; otherwise
    # the view asks for slices. Weights computed on demand never go whole.
    if source.holds_weights and values * 2 <= byte_budget:
        cases = [source.case_values(c) for c in range(source.n_cases)]
        encoded = wire.encode(wire.cube_values(cases), allow_half=values * 4 > byte_budget)
        if len(encoded.data) <= byte_budget:
            cube, encoding = encoded.data, encoded.header
    header = {
        "components": list(components),
        "component": component,
        "n_layers": source.n_layers,
        "n_heads": source.n_heads,
        "n_cases": source.n_cases,
        "cases": wire.cube_layout(shapes, source.n_layers, source.n_heads),
        "tokens": source.tokens,
        "query_tokens": source.query_tokens,
        "is_cross": bool(source.is_cross),
        "tier": "cube" if cube else "slices",
        "encoding": encoding,
        "kernel": kernel,
        # The scores the atlas can colour the grid by (the pattern ones need a user's matrix).
        "atlas_scores": [n for n in SCORE_NAMES if not n.startswith("pattern")] if kernel else [],
        **(extra or {}),
    }
    media, blobs = media_blobs(source)
    if media is not None:
        header["media"] = media
    return wire.pack_payload(header, cube, blobs)
