"""The view's requests: each one checked, answered from the kept replies or computed, encoded.

A request is a JSON object from the browser, so nothing in it is trusted:
:func:`check_request` turns it into a normal form (every field checked
against the source, defaults filled in) or raises a ``ValueError`` that says
what was expected; the answer to a bad request is an error reply, and the
widget goes on working. The normal form, without its id, is also the key
under which the reply is kept (:mod:`.cache`).

What each kind answers (the byte layouts are :mod:`attn_widget.wire`'s):

* ``tile``: a window of one matrix, max-pooled to at most ``rows x cols``;
* ``links``: each query row's strongest keys;
* ``token``: every weight of one token (a row or a column);
* ``colmean``: each key's weight averaged over the query rows;
* ``cellheads``: every head's weight of one cell (how much each head gives a sink);
* ``thumbs``: a layer's heads at thumbnail size;
* ``regions``: the rectangles that stand out (:func:`attn_widget.analysis.find_regions`);
* extra kinds a widget adds (the analysis views' ``overlay``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from functools import partial
from typing import Any

import numpy as np

from .. import wire
from ..analysis import find_regions
from ..data import AttentionSource
from ..state import check_index
from . import tiles
from .atlas import HANDLERS as ATLAS
from .cache import ReplyCache, reply_key, shared_cache
from .warmup import Warmup

__all__ = ["Handler", "Server", "check_request"]

# Computes a reply from a source and a checked request.
Handler = Callable[[AttentionSource, dict[str, Any]], wire.Reply]

# Region detection runs on at most this many rows and columns; larger
# matrices are max-pooled first and the regions scaled back to cells.
_REGION_SIDE = 1024


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


def _tile(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    window = (r["q0"], r["q1"], r["k0"], r["k1"])
    t = tiles.tile(source, r["layer"], r["head"], r["case"], window, r["rows"], r["cols"])
    content, buffers = wire.tile_reply(t.values, (t.q0, t.q1, t.k0, t.k1), (t.fq, t.fk))
    if "exclude" in r:
        content["rest_max"] = tiles.max_without(
            source, r["layer"], r["head"], r["case"], window, r["exclude"]
        )
    return content, buffers


def _cellheads(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    rows = [
        source.rows(r["layer"], h, r["case"], r["q"], r["q"] + 1)[0, r["k"]]
        for h in range(source.n_heads)
    ]
    return wire.colmean_reply(np.asarray(rows, dtype=np.float32))


def _links(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    args = (r["layer"], r["head"], r["case"], r["q0"], r["q1"], r["top"])
    order, weights = tiles.top_links(source, *args)
    return wire.links_reply(order, weights, r["q0"], r["q1"], r["top"])


def _token(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    args = (r["layer"], r["head"], r["case"], r["kind"], r["index"])
    return wire.token_reply(tiles.token_links(source, *args), r["kind"], r["index"])


def _colmean(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    return wire.colmean_reply(tiles.column_means(source, r["layer"], r["head"], r["case"]))


def _thumbs(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    return wire.thumbs_reply(tiles.thumbnails(source, r["layer"], r["case"], r["size"]), r["size"])


def _regions(source: AttentionSource, r: dict[str, Any]) -> wire.Reply:
    t = tiles.tile(source, r["layer"], r["head"], r["case"], None, _REGION_SIDE, _REGION_SIDE)
    q, k = source.shape(r["case"])
    rects = [
        [g.top * t.fq, g.left * t.fk, min(q, g.bottom * t.fq), min(k, g.right * t.fk)]
        for g in find_regions(t.values, n_regions=r["n"])
    ]
    return wire.regions_reply(rects, (t.fq, t.fk))


HANDLERS: dict[str, Handler] = {
    "tile": _tile,
    "links": _links,
    "token": _token,
    "colmean": _colmean,
    "cellheads": _cellheads,
    "thumbs": _thumbs,
    "regions": _regions,
    **ATLAS,
}


class Server:
    """Answers one widget's data requests: checked, kept in the kernel's reply cache, warmed.

    ``components`` maps names to sources; ``extra`` adds request kinds (the
    analysis views' overlays). In the ``slices`` tier an overview request
    (the whole matrix) starts the warm-up of every other head's overview.
    """

    def __init__(
        self,
        components: Mapping[str, AttentionSource],
        extra: Mapping[str, Handler] | None = None,
        cache: ReplyCache | None = None,
    ) -> None:
        self.components = dict(components)
        self.handlers = {**HANDLERS, **(extra or {})}
        self.cache = cache if cache is not None else shared_cache()
        self.owner = uuid.uuid4().hex  # this widget's share of the kernel's reply cache
        self.warmup: Warmup | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.handlers)

    def answer(self, component: str, tier: str, request: Any) -> wire.Reply:
        """The reply to one request (an error reply for a bad one), content and buffers."""
        raw = request if isinstance(request, Mapping) else {}
        echo = {
            "type": raw.get("type"),
            "id": raw.get("id") if isinstance(raw.get("id"), (str, int)) else None,
            "component": component,
        }
        echo.update({name: raw.get(name) for name in ("layer", "head", "case")})
        try:
            checked = check_request(request, self.components[component], self.kinds)
            echo.update({name: checked.get(name) for name in ("layer", "head", "case")})
            warmup = self._warmup_for(component, tier, checked)
            compute = partial(self.compute, component, checked)
            overview = warmup.overview if warmup else None
            if checked["type"] == "thumbs" and overview and overview[0] == component:
                compute = partial(self._thumbs_from_overviews, component, checked, overview[1])
            waited = warmup.demand() if warmup and not raw.get("prefetch") else nullcontext()
            with waited:
                content, buffers = self.cache.get_or_compute(
                    reply_key(component, checked), compute, self.owner
                )
        except (ValueError, TypeError, KeyError, ZeroDivisionError, OverflowError) as error:
            return {**echo, "error": _message(error)}, []
        return {**echo, **content}, buffers

    def compute(self, component: str, request: dict[str, Any]) -> wire.Reply:
        """Compute one checked request's reply (no cache)."""
        return self.handlers[request["type"]](self.components[component], request)

    def _thumbs_from_overviews(
        self, component: str, request: dict[str, Any], overview: dict[str, Any]
    ) -> wire.Reply:
        """A layer's thumbnails pooled from its heads' overview tiles, kept or computed.

        Once the warm-up has the overviews, the grid costs no attention
        computation; before, computing a head's overview costs what its
        thumbnail would (the scores dominate) and is kept for the sliders.
        """
        size = request["size"]
        source = self.components[component]
        pooled = []
        for head in range(source.n_heads):
            want = {**overview, "layer": request["layer"], "head": head, "case": request["case"]}
            content, buffers = self.cache.get_or_compute(
                reply_key(component, want), partial(self.compute, component, want), self.owner
            )
            values = wire.decode(buffers[0], content["dtype"], content["scale"])
            values = values.reshape(content["rows"], content["cols"])
            fq, fk = -(-values.shape[0] // size), -(-values.shape[1] // size)
            pooled.append(tiles.max_pool(values, fq, fk))
        return wire.thumbs_reply(np.stack(pooled), size)

    def _warmup_for(self, component: str, tier: str, request: dict[str, Any]) -> Warmup | None:
        """The warm-up thread, told about this request when it is an overview."""
        if tier != "slices" or request["type"] != "tile":
            return self.warmup
        source = self.components[component]
        q, k = source.shape(request["case"])
        whole = (request["q0"], request["q1"], request["k0"], request["k1"])
        if whole != (0, q, 0, k):
            return self.warmup
        if self.warmup is None:
            self.warmup = Warmup(self.cache, self.compute, self.owner)
        self.warmup.follow(component, request, source.n_layers, source.n_heads)
        return self.warmup

    def close(self) -> None:
        """Stop the warm-up and give this widget's replies back to the kernel."""
        if self.warmup is not None:
            self.warmup.stop(timeout=5)
        self.cache.drop(self.owner)


def _message(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, KeyError):
        text = f"missing {text}"
    elif not text or isinstance(error, (ZeroDivisionError, OverflowError)):
        text = f"{type(error).__name__}: {text}"
    return text
