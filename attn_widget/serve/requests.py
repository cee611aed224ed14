"""The view's requests: each one checked, answered from the kept replies or computed, encoded.

Nothing in a request is trusted: :func:`~.checks.check_request` turns it
into a normal form or raises a ``ValueError`` that says what was expected;
the answer to a bad request is an error reply, and the widget goes on
working. The normal form, without its id, is the key under which the reply
is kept (:mod:`.cache`).

What each kind answers (the byte layouts are :mod:`attn_widget.wire`'s):

* ``tile``: a window of one matrix, max-pooled to at most ``rows x cols``;
* ``links``: each query row's strongest keys;
* ``token``: every weight of one token (a row or a column);
* ``colmean``: each key's weight averaged over the query rows;
* ``cellheads``: every head's weight of one cell (how much each head gives a sink);
* ``thumbs``: a layer's heads at thumbnail size;
* ``regions``: the rectangles that stand out (:func:`attn_widget.analysis.find_regions`);
* ``cancel``: the view no longer wants a request's exact tile (:mod:`.progressive`);
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
from . import tiles
from .atlas import HANDLERS as ATLAS
from .cache import ReplyCache, reply_key, shared_cache
from .checks import check_request
from .progressive import Foreground, Refiner, estimate_reads
from .warmup import Warmup

__all__ = ["Handler", "Server", "check_request"]

# Computes a reply from a source and a checked request.
Handler = Callable[[AttentionSource, dict[str, Any]], wire.Reply]
# Sends a reply (content, buffers) to the view.
Send = Callable[[dict[str, Any], list[bytes]], None]

# Region detection runs on at most this many rows and columns; larger
# matrices are max-pooled first and the regions scaled back to cells.
_REGION_SIDE = 1024


def _tile(
    source: AttentionSource, r: dict[str, Any], cancelled: Callable[[], bool] | None = None
) -> wire.Reply:
    """A tile; with ``r["reads"]`` its estimate (:mod:`.progressive`), marked as one."""
    window = (r["q0"], r["q1"], r["k0"], r["k1"])
    reads = r.get("reads")
    t = tiles.tile(
        source, r["layer"], r["head"], r["case"], window, r["rows"], r["cols"],
        reads=reads, cancelled=cancelled,
    )  # fmt: skip
    content, buffers = wire.tile_reply(t.values, (t.q0, t.q1, t.k0, t.k1), (t.fq, t.fk))
    if "exclude" in r:
        content["rest_max"] = tiles.max_without(
            source, r["layer"], r["head"], r["case"], window, r["exclude"], reads=reads
        )
    if reads is not None:
        content.update(estimate=True, reads=reads)
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
        self.refiner: Refiner | None = None
        self.foreground = Foreground()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.handlers)

    def answer(
        self, component: str, tier: str, request: Any, checked: dict[str, Any] | None = None
    ) -> wire.Reply:
        """The reply to one request (an error reply for a bad one), content and buffers.

        ``checked``: the request's normal form when the caller has checked it already.
        """
        raw = request if isinstance(request, Mapping) else {}
        echo = {
            "type": raw.get("type"),
            "id": raw.get("id") if isinstance(raw.get("id"), (str, int)) else None,
            "component": component,
        }
        echo.update({name: raw.get(name) for name in ("layer", "head", "case")})
        try:
            if checked is None:
                checked = check_request(request, self.components[component], self.kinds)
            echo.update({name: checked.get(name) for name in ("layer", "head", "case")})
            warmup = self._warmup_for(component, tier, checked)
            compute = partial(self.compute, component, checked)
            overview = warmup.overview if warmup else None
            if checked["type"] == "thumbs" and overview and overview[0] == component:
                compute = partial(self._thumbs_from_overviews, component, checked, overview[1])
            key = reply_key(component, checked)
            waited = warmup.demand(key) if warmup and not raw.get("prefetch") else nullcontext()
            # The refiner steps aside for what the view waits on, never a tile it may compute.
            served = (
                self.foreground.serving()
                if checked["type"] != "tile" and not raw.get("prefetch")
                else nullcontext()
            )
            with waited, served:
                content, buffers = self.cache.get_or_compute(key, compute, self.owner)
        except (ValueError, TypeError, KeyError, ZeroDivisionError, OverflowError) as error:
            return {**echo, "error": _message(error)}, []
        return {**echo, **content}, buffers

    def compute(self, component: str, request: dict[str, Any]) -> wire.Reply:
        """Compute one checked request's reply (no cache)."""
        return self.handlers[request["type"]](self.components[component], request)

    def _warm(self, component: str, request: dict[str, Any]) -> wire.Reply:
        """The warm-up's compute: a tile pauses between its blocks while the view waits."""
        warmup = self.warmup
        if request["type"] == "tile" and self.handlers["tile"] is _tile and warmup is not None:
            return _tile(self.components[component], request, warmup.between_blocks)
        return self.compute(component, request)

    def respond(self, component: str, tier: str, request: Any, send: Send) -> None:
        """Answer one request through ``send``: at once, or a long tile in two stages.

        A long tile of attention computed on demand is sent first as an
        estimate, then exact from the refiner thread (:mod:`.progressive`);
        ``{"type": "cancel", "id": ...}`` drops the exact stage of a request.
        Everything else is :meth:`answer`'s reply, sent at once.
        """
        if isinstance(request, Mapping) and request.get("type") == "cancel":
            if self.refiner is not None:
                self.refiner.cancel(request.get("id"))
            return
        checked, reads = self._staged(component, request)
        if checked is None or reads is None:
            send(*self.answer(component, tier, request, checked))
            return
        echo = {
            "type": "tile",
            "id": request["id"],
            "component": component,
            **{name: checked[name] for name in ("layer", "head", "case")},
        }
        warmup = self._warmup_for(component, tier, checked)
        key = reply_key(component, checked)
        if request.get("prefetch"):
            # A neighbour the view might want: the warm-up computes those in turn.
            send({**echo, "cancelled": True}, [])
            return
        estimate = {**checked, "reads": reads}
        with warmup.demand() if warmup else nullcontext(), self.foreground.serving():
            content, buffers = self.cache.get_or_compute(
                reply_key(component, estimate), partial(self.compute, component, estimate),
                self.owner,
            )  # fmt: skip
        send({**echo, **content}, buffers)
        if self.refiner is None:
            self.refiner = Refiner()
        exact = partial(self._exact, component, checked, key, echo, send)
        self.refiner.submit(request["id"], exact)

    def _staged(
        self, component: str, request: Any
    ) -> tuple[dict[str, Any] | None, int | None]:
        """``(checked tile request, rows its estimate reads)``; None for what is not known.

        Rows read is None unless the tile comes in two stages; the checked
        request is None unless it is a tile and checks (answer() sends errors).
        """
        if not isinstance(request, Mapping) or request.get("type") != "tile":
            return None, None
        if not isinstance(request.get("id"), (str, int)) or component not in self.components:
            return None, None
        source = self.components[component]
        try:
            checked = check_request(request, source, self.kinds)
        except (ValueError, TypeError, KeyError):
            return None, None
        reads = estimate_reads(source, checked)
        if reads is None or self.cache.has_kept(reply_key(component, checked), self.owner):
            return checked, None
        return checked, reads

    def _exact(
        self,
        component: str,
        checked: dict[str, Any],
        key: str,
        echo: dict[str, Any],
        send: Send,
        cancelled: Callable[[], bool],
    ) -> None:
        """The refiner's job: the exact tile after its estimate, unless the view cancels it."""
        source = self.components[component]
        warmup = self.warmup
        stopped = partial(self.foreground.yield_to, cancelled)  # between blocks of rows
        try:
            with warmup.demand(key) if warmup else nullcontext():
                content, buffers = self.cache.get_or_compute(
                    key, partial(_tile, source, checked, stopped), self.owner
                )
        except tiles.Cancelled:
            send({**echo, "cancelled": True}, [])
            return
        except (ValueError, TypeError, KeyError, ZeroDivisionError, OverflowError) as error:
            send({**echo, "error": _message(error)}, [])
            return
        if not cancelled():
            send({**echo, **content}, buffers)

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
            self.warmup = Warmup(self.cache, self._warm, self.owner)
        self.warmup.follow(component, request, source.n_layers, source.n_heads)
        return self.warmup

    def close(self) -> None:
        """Stop the warm-up and the refiner; give this widget's replies back to the kernel."""
        if self.refiner is not None:
            self.refiner.stop(timeout=5)
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
