"""The atlas requests: every head's scores, heads like one head, and each head's sink keys.

The overview grid becomes an atlas: a score chosen in the view colours,
badges and (on request) sorts the thumbnails, the tooltip lists every score
of the hovered head, and "heads like this one" ranks them by similarity to the
current head. The numbers are :mod:`attn_widget.analysis`'s; these handlers
only put them in replies (JSON, no buffers: a few numbers per head). A NaN
(a score a head has no rows for) travels as null.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..analysis.atlas import score_source
from ..analysis.similar import similar_heads, sink_keys
from ..data import AttentionSource
from ..wire import Reply

__all__ = ["HANDLERS"]


def _json(value: Any) -> Any:
    """Nested lists and dicts with every non-finite float as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _scores(source: AttentionSource, r: dict[str, Any]) -> Reply:
    scores = score_source(source, cases=[r["case"]])
    return {"scores": _json(scores.to_dict())}, []


def _similar(source: AttentionSource, r: dict[str, Any]) -> Reply:
    ranks = similar_heads(source, r["layer"], r["head"], case=r["case"])
    return {"ranks": _json([[layer, head, value] for layer, head, value in ranks])}, []


def _sinks(source: AttentionSource, r: dict[str, Any]) -> Reply:
    found = sink_keys(source, r["case"], mean=True)  # (layers, heads + 1, k): the mean last
    keys = [[np.flatnonzero(found[layer, h]).tolist() for h in range(found.shape[1])]
            for layer in range(found.shape[0])]  # fmt: skip
    return {"keys": keys}, []


HANDLERS = {"scores": _scores, "similar": _similar, "sinks": _sinks}
