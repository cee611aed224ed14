"""Every field of a request from the view, checked against the source: its normal form.

A request is a JSON object from the browser, so nothing in it is trusted:
:func:`check_request` turns it into a normal form (every field checked
against the source, defaults filled in) or raises a ``ValueError`` that says
what was expected. The normal form, without its id, is also the key under
which the reply is kept (:mod:`.cache`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data import AttentionSource
from ..state import check_index

__all__ = ["MAX_EXCLUDED", "check_request"]


def _int(request: Mapping[str, Any], name: str, default: Any = None, lo: int | None = None) -> Any:
    value = request.get(name, default)
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if lo is not None and value < lo:
        raise ValueError(f"{name}: expected at least {lo}, got {value}")
    return int(value)


def _slice_fields(
    request: Mapping[str, Any], source: AttentionSource, head: bool = True
) -> dict[str, Any]:
    """``layer``, ``head`` (None: the mean of heads) and ``case``, checked."""
    fields: dict[str, Any] = {
        "layer": check_index("layer", request.get("layer"), source.n_layers),
    }
    if head:
        value = request.get("head")
        fields["head"] = None if value is None else check_index("head", value, source.n_heads)
    fields["case"] = check_index("case", request.get("case"), source.n_cases)
    return fields


def _tile_fields(request: Mapping[str, Any], q: int, k: int) -> dict[str, Any]:
    window = {
        "q0": _int(request, "q0", 0),
        "q1": _int(request, "q1", q),
        "k0": _int(request, "k0", 0),
        "k1": _int(request, "k1", k),
    }
    # A JSON number may be fractional or huge: pool sizes are whole screens.
    sizes = {"rows": _int(request, "rows", None, 1), "cols": _int(request, "cols", None, 1)}
    fields = {**window, **sizes}
    exclude = request.get("exclude")
    if exclude:  # keys left out of the colour scale (attention sinks); only then in the key
        fields["exclude"] = _keys(exclude, k)
    return fields


MAX_EXCLUDED = 16


def _keys(value: Any, k: int) -> list[int]:
    """A short sorted list of distinct key indices, each checked."""
    if not isinstance(value, list) or len(value) > MAX_EXCLUDED:
        raise ValueError(f"exclude: expected a list of at most {MAX_EXCLUDED} keys, got {value!r}")
    return sorted({check_index("exclude", v, k) for v in value})


def check_request(request: Any, source: AttentionSource, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The request in normal form (no id), every field checked; else a ValueError."""
    if not isinstance(request, Mapping):
        raise ValueError(f"request: expected an object, got {type(request).__name__}")
    kind = request.get("type")
    if kind not in kinds:
        raise ValueError(f"type: expected one of {', '.join(kinds)}, got {kind!r}")
    if kind in ("scores", "sinks"):
        return {"type": kind, "case": check_index("case", request.get("case"), source.n_cases)}
    if kind == "similar":
        fields = _slice_fields(request, source)
        if fields["head"] is None:
            raise ValueError("head: heads like the mean of heads: expected one head, got null")
        return {"type": kind, **fields}
    if kind == "thumbs":
        fields = _slice_fields(request, source, head=False)
        size = request.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size: expected at least 1 pixel, got {size!r}")
        return {"type": kind, **fields, "size": size}
    fields = _slice_fields(request, source)
    q, k = source.shape(fields["case"])
    if kind == "tile":
        fields.update(_tile_fields(request, q, k))
    elif kind == "links":
        fields.update(q0=_int(request, "q0"), q1=_int(request, "q1"), top=_int(request, "top"))
        if None in (fields["q0"], fields["q1"], fields["top"]):
            raise ValueError("links: expected q0, q1 and top")
    elif kind == "token":
        which = request.get("kind")
        if which not in ("query", "key"):
            raise ValueError(f"kind: expected 'query' or 'key', got {which!r}")
        fields.update(kind=which, index=_int(request, "index", -1))
    elif kind == "regions":
        fields["n"] = _int(request, "n", 5, 1)
    elif kind == "cellheads":
        fields["head"] = None  # every head's
        fields.update(
            q=check_index("q", request.get("q"), q), k=check_index("k", request.get("k"), k)
        )
    return {"type": kind, **fields}
