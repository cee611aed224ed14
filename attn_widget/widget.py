"""The anywidget model: synced traits, binary slices and export messages.

Data reaches the browser in one of two tiers (DESIGN.md, "Data flow"):

* ``cube``: every layer, head (plus the head mean) and case, encoded once into
  the binary ``_cube`` trait; sliders then slice it in the browser.
* ``slices``: above ``byte_budget`` the view asks the kernel for what it
  draws: ``tile`` (a window of one matrix, max-pooled to screen size),
  ``links`` (each visible query's strongest keys), ``token`` (every weight of
  one token) and ``thumbs`` (a layer's heads at thumbnail size). Replies carry
  the request's id and binary buffers (see :mod:`attn_widget.wire`).

The gamma exponent never crosses the wire: the browser applies it.
"""

from __future__ import annotations

import math
import pathlib
import uuid
from collections.abc import Mapping
from contextlib import nullcontext
from functools import partial
from typing import Any

import anywidget
import numpy as np
import traitlets

from . import tiles, wire
from ._files import write_atomic
from .data import AttentionData
from .lazy import LazyAttention
from .replies import Reply, Warmup, reply_key, shared_cache

# What a widget can show: weights held in memory, or computed on demand.
_SOURCES = (AttentionData, LazyAttention)

__all__ = ["DEFAULT_BYTE_BUDGET", "AttentionWidget"]

DEFAULT_BYTE_BUDGET = 64_000_000
# Slices up to this many values go as exact float32 (4 MB); larger ones as half floats.
_EXACT_SLICE_VALUES = 1 << 20
# Pooled tiles over this many values (256 x 256) go as half floats.
_EXACT_POOLED_VALUES = 1 << 16
_STATIC = pathlib.Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "attn_widget: the JavaScript bundle is missing. "
    + "Run `npm install && npm run build` in the source tree, or install a built wheel.";
} };
"""


def _bundle(name: str, fallback: str) -> pathlib.Path | str:
    path = _STATIC / name
    return path if path.exists() else fallback


class AttentionWidget(anywidget.AnyWidget):
    """Linked heatmap and token-line views of attention, with sliders and PDF export.

    ``AttentionWidget(attentions, tokens)`` takes any layout that
    :class:`~attn_widget.data.AttentionData` takes, or an ``AttentionData``
    itself. Use :meth:`from_components` for several components (encoder,
    decoder, cross-attention) in one widget.
    """

    _esm = _bundle("widget.js", _MISSING_BUNDLE)
    _css = _bundle("widget.css", "")

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    head_mean = traitlets.Bool(False).tag(sync=True)
    case = traitlets.Int(0).tag(sync=True)
    gamma = traitlets.Float(1.0).tag(sync=True)
    component = traitlets.Unicode("").tag(sync=True)
    # Projector mode: large type, thick lines, high-contrast colours.
    large = traitlets.Bool(False).tag(sync=True)
    # The view's locked selection: {"kind": "query"|"key", "index": i} or
    # {"kind": "cell", "q": i, "k": j}; None when nothing is locked.
    selection = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    byte_budget = traitlets.Int(DEFAULT_BYTE_BUDGET)
    export_dir = traitlets.Unicode(None, allow_none=True)

    _meta = traitlets.Dict().tag(sync=True)
    _cube = traitlets.Bytes(b"").tag(sync=True)

    def __init__(
        self,
        attentions: Any = None,
        tokens: Any = None,
        *,
        target_tokens: Any = None,
        padding_side: str = "right",
        byte_budget: int = DEFAULT_BYTE_BUDGET,
        export_dir: str | None = None,
        **traits: Any,
    ) -> None:
        if isinstance(attentions, Mapping):
            components = dict(attentions)
        elif isinstance(attentions, _SOURCES):
            components = {"attention": attentions}
        elif attentions is None:
            raise ValueError("attentions: expected attention weights or AttentionData; got None")
        else:
            data = AttentionData(
                attentions, tokens, target_tokens=target_tokens, padding_side=padding_side
            )
            components = {"attention": data}
        if not components or not all(isinstance(d, _SOURCES) for d in components.values()):
            raise ValueError(
                "components: expected a non-empty mapping of name -> AttentionData; got "
                + repr({k: type(v).__name__ for k, v in components.items()})
            )
        self._components: dict[str, AttentionData] = components
        self._ready = False
        self._replies = shared_cache()
        self._owner = uuid.uuid4().hex  # this widget's share of the kernel's reply cache
        self._warmup: Warmup | None = None
        _check_budget(byte_budget)
        first = next(iter(components))
        super().__init__(
            component=traits.pop("component", first),
            byte_budget=byte_budget,
            export_dir=export_dir,
        )
        self.on_msg(self._on_message)
        self._ready = True
        self._publish()
        with self.hold_trait_notifications():
            for name, value in traits.items():
                if name not in (
                    "layer",
                    "head",
                    "head_mean",
                    "case",
                    "gamma",
                    "selection",
                    "large",
                ):
                    raise TypeError(f"AttentionWidget got an unexpected keyword argument {name!r}")
                setattr(self, name, value)

    @classmethod
    def from_components(
        cls, components: Mapping[str, AttentionData], **kwargs: Any
    ) -> AttentionWidget:
        """One widget over several components, e.g. ``{"encoder": ..., "cross": ...}``."""
        return cls(dict(components), **kwargs)

    # ----------------------------------------------------------------- access
    @property
    def components(self) -> dict[str, AttentionData]:
        return dict(self._components)

    @property
    def data(self) -> AttentionData:
        """The AttentionData of the current component."""
        return self._components[self.component]

    def current_matrix(self) -> np.ndarray:
        """The ``(q, k)`` matrix the view shows now."""
        return self.data.matrix(self.layer, None if self.head_mean else self.head, self.case)

    # ------------------------------------------------------------- validation
    @traitlets.validate("component")
    def _valid_component(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name not in self._components:
            raise ValueError(f"component: expected one of {list(self._components)}, got {name!r}")
        return name

    @traitlets.validate("layer", "head", "case")
    def _valid_index(self, proposal: dict[str, Any]) -> int:
        name = proposal["trait"].name
        self.data.check_index(**{name: proposal["value"]})
        return proposal["value"]

    @traitlets.validate("gamma")
    def _valid_gamma(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"gamma: expected a finite number > 0, got {value}")
        return value

    @traitlets.validate("byte_budget")
    def _valid_budget(self, proposal: dict[str, Any]) -> int:
        _check_budget(proposal["value"])
        return proposal["value"]

    @traitlets.validate("selection")
    def _valid_selection(self, proposal: dict[str, Any]) -> dict[str, Any] | None:
        selection = proposal["value"]
        if not selection:
            return None
        q, k = self.data.shape(self.case)
        kind = selection.get("kind")
        ok = (
            (kind == "query" and 0 <= selection.get("index", -1) < q)
            or (kind == "key" and 0 <= selection.get("index", -1) < k)
            or (
                kind == "cell"
                and 0 <= selection.get("q", -1) < q
                and 0 <= selection.get("k", -1) < k
            )
        )
        if not ok:
            raise ValueError(
                "selection: expected None, {'kind': 'query'|'key', 'index': i} or "
                f"{{'kind': 'cell', 'q': i, 'k': j}} inside the {q} x {k} matrix; got {selection!r}"
            )
        return dict(selection)

    @traitlets.observe("component", "byte_budget")
    def _republish(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["name"] == "component":
            # A new component may have fewer layers, heads or cases: keep the
            # indices that still exist, fall back to 0 for those that do not.
            data = self.data
            with self.hold_trait_notifications():
                self.selection = None
                for name, count in (
                    ("layer", data.n_layers),
                    ("head", data.n_heads),
                    ("case", data.n_cases),
                ):
                    if getattr(self, name) >= count:
                        setattr(self, name, 0)
        self._publish()

    @traitlets.observe("case")
    def _drop_selection(self, change: dict[str, Any]) -> None:
        self.selection = None

    # ------------------------------------------------------------- publishing
    def _publish(self) -> None:
        """Send the metadata and, under the byte budget, the whole cube."""
        data = self.data
        cases = []
        offset = 0
        for c in range(data.n_cases):
            q, k = data.shape(c)
            cases.append({"q": q, "k": k, "offset": offset})
            offset += data.n_layers * (data.n_heads + 1) * q * k
        cube = b""
        encoding: dict[str, Any] = {}
        # Exact float32 when it fits; half floats (2 bytes a value) when only
        # they fit; otherwise the view asks for slices.
        if isinstance(data, AttentionData) and offset * 2 <= self.byte_budget:
            values = _cube_with_means(data)
            encoded = wire.encode(values, allow_half=offset * 4 > self.byte_budget)
            if len(encoded.data) <= self.byte_budget:
                cube, encoding = encoded.data, encoded.header
        self._meta = {
            "components": list(self._components),
            "component": self.component,
            "n_layers": data.n_layers,
            "n_heads": data.n_heads,
            "n_cases": data.n_cases,
            "cases": cases,
            "tokens": data.tokens,
            "query_tokens": data.query_tokens,
            "is_cross": data.is_cross,
            "tier": "cube" if cube else "slices",
            "encoding": encoding,
            "kernel": True,
        }
        self._cube = cube

    # --------------------------------------------------------------- messages
    def _on_message(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "export":
            self._answer_export(content)
        elif kind in _DATA_REQUESTS:
            self._answer_data(kind, content)

    def _answer_data(self, kind: str, request: dict[str, Any]) -> None:
        """Answer a tile, links, token or thumbs request with binary buffers.

        Replies are kept (see :mod:`attn_widget.replies`); an overview tile in
        the slices tier also starts the warm-up of every other head's overview.
        """
        head = request.get("head")
        component = self.component
        echo = {
            "type": kind,
            "id": request.get("id"),
            "component": component,
            "layer": request.get("layer"),
            "head": head,
            "case": request.get("case"),
        }
        asked = {name: value for name, value in request.items() if name != "prefetch"}
        warmup = self._warmup_for(kind, asked)
        compute = partial(self._reply, component, asked)
        overview = warmup.overview if warmup else None
        if kind == "thumbs" and overview and overview[0] == component:
            compute = partial(self._thumbs_from_overviews, component, asked, overview[1])
        try:
            with warmup.demand() if warmup and not request.get("prefetch") else nullcontext():
                content, buffers = self._replies.get_or_compute(
                    reply_key(component, asked), compute, self._owner
                )
        except (ValueError, TypeError, KeyError) as error:
            self.send({**echo, "error": str(error)})
            return
        self.send({**echo, **content}, buffers)

    def _reply(self, component: str, request: dict[str, Any]) -> Reply:
        kind, head = request["type"], request.get("head")
        return _DATA_REQUESTS[kind](
            self._components[component], request, None if head == -1 else head
        )

    def _thumbs_from_overviews(
        self, component: str, request: dict[str, Any], overview: dict[str, Any]
    ) -> Reply:
        """A layer's thumbnails pooled from its heads' overview tiles, kept or computed.

        Once the warm-up has the overviews, the grid costs no attention
        computation; before, computing a head's overview costs what its
        thumbnail would (the scores dominate) and is kept for the sliders.
        """
        size = request.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size: expected at least 1 pixel, got {size!r}")
        data = self._components[component]
        data.check_index(layer=request.get("layer"), case=request.get("case"))
        pooled = []
        for head in range(data.n_heads):
            want = {**overview, "layer": request["layer"], "head": head, "case": request["case"]}
            content, buffers = self._replies.get_or_compute(
                reply_key(component, want), partial(self._reply, component, want), self._owner
            )
            values = wire.decode(buffers[0], content["dtype"], content["scale"])
            values = values.reshape(content["rows"], content["cols"])
            fq, fk = -(-values.shape[0] // size), -(-values.shape[1] // size)
            pooled.append(tiles.max_pool(values, fq, fk))
        return _thumbs_content(np.stack(pooled), size)

    def _warmup_for(self, kind: str, request: dict[str, Any]) -> Warmup | None:
        """The warm-up thread, told about this request when it is an overview."""
        if self._meta.get("tier") != "slices" or kind != "tile":
            return self._warmup
        data = self.data
        try:
            q, k = data.shape(request["case"])
        except (KeyError, TypeError, ValueError):
            return self._warmup
        whole = (
            request.get("q0", 0),
            request.get("q1", q),
            request.get("k0", 0),
            request.get("k1", k),
        )
        if whole != (0, q, 0, k):
            return self._warmup
        if self._warmup is None:
            self._warmup = Warmup(self._replies, self._reply, self._owner)
        self._warmup.follow(self.component, request, data.n_layers, data.n_heads)
        return self._warmup

    def close(self) -> None:
        warmup = getattr(self, "_warmup", None)  # None when __init__ failed early
        if warmup is not None:
            warmup.stop(timeout=5)
        if hasattr(self, "_owner"):
            self._replies.drop(self._owner)
        super().close()

    def _answer_export(self, request: dict[str, Any]) -> None:
        from .export import default_filename

        kind = request.get("kind", "heatmap")
        reply: dict[str, Any] = {"type": "export", "id": request.get("id"), "kind": kind}
        # A zoomed view sends its window: the heatmap PDF shows what it shows.
        window = request.get("window") if kind == "heatmap" else None
        try:
            pdf = self._render(kind, **({"window": tuple(window)} if window else {}))
            head = None if self.head_mean else self.head
            filename = default_filename(kind, self.layer, head, self.case, window=window)
            saved = self._save_copy(filename, pdf) if self.export_dir else None
        except Exception as error:
            self.send({**reply, "ok": False, "error": f"{type(error).__name__}: {error}"})
            return
        self.send({**reply, "ok": True, "filename": filename, "saved": saved}, [pdf])

    # ----------------------------------------------------------------- export
    def _render(self, kind: str, **options: Any) -> bytes:
        from .export import render_pdf

        return render_pdf(
            self.data,
            kind,
            layer=self.layer,
            head=None if self.head_mean else self.head,
            case=self.case,
            gamma=self.gamma,
            selection=self.selection,
            **options,
        )

    def export_pdf(self, path: str | pathlib.Path, kind: str = "heatmap", **options: Any):
        """Write the figure the view shows now (``kind``: heatmap, lines, grid) to ``path``.

        The write is atomic and replaces an existing file at ``path``, since
        the caller named it. Returns the written path.
        """
        return write_atomic(path, self._render(kind, **options))

    def to_json(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the current component and case as JSON (see :func:`attn_widget.io.to_json`)."""
        from .io import to_json

        return to_json(self, path)

    def save_html(self, path: str | pathlib.Path, **options: Any) -> pathlib.Path:
        """Write one self-contained HTML page of this view that works without a kernel.

        See :func:`attn_widget.html.save_html` for the options and the size limit.
        """
        from .html import save_html

        return save_html(self, path, **options)

    def _save_copy(self, filename: str, pdf: bytes) -> str:
        """Save a button export into ``export_dir`` without replacing an earlier file."""
        folder = pathlib.Path(self.export_dir).expanduser()
        target = folder / filename
        stem, suffix = target.stem, target.suffix
        n = 1
        while target.exists():
            target = folder / f"{stem}-{n}{suffix}"
            n += 1
        return str(write_atomic(target, pdf))


def _encode(values: np.ndarray, pooled: bool = False) -> tuple[dict[str, Any], bytes]:
    # A pooled picture shows block maxima, not values a user reads one by one:
    # past a screenful it goes as half floats (relative error <= 4.9e-4), which
    # halves the bytes of every overview. Full-resolution values stay exact.
    limit = _EXACT_POOLED_VALUES if pooled else _EXACT_SLICE_VALUES
    encoded = wire.encode(values, allow_half=values.size > limit)
    return encoded.header, encoded.data


def _tile_reply(data: AttentionData, r: dict[str, Any], head: int | None):
    q, k = data.shape(r["case"])
    window = (r.get("q0", 0), r.get("q1", q), r.get("k0", 0), r.get("k1", k))
    t = tiles.tile(data, r["layer"], head, r["case"], window, r.get("rows"), r.get("cols"))
    header, payload = _encode(t.values, pooled=t.fq > 1 or t.fk > 1)
    shape = {"rows": t.values.shape[0], "cols": t.values.shape[1], "fq": t.fq, "fk": t.fk}
    return {**header, **shape, "q0": t.q0, "q1": t.q1, "k0": t.k0, "k1": t.k1}, [payload]


def _links_reply(data: AttentionData, r: dict[str, Any], head: int | None):
    order, weights = tiles.top_links(data, r["layer"], head, r["case"], r["q0"], r["q1"], r["top"])
    header, payload = _encode(weights)
    content = {**header, "q0": r["q0"], "q1": r["q1"], "top": r["top"], "width": order.shape[1]}
    return content, [order.astype("<i4").tobytes(), payload]


def _token_reply(data: AttentionData, r: dict[str, Any], head: int | None):
    weights = tiles.token_links(data, r["layer"], head, r["case"], r["kind"], r["index"])
    header, payload = _encode(weights)
    return {**header, "kind": r["kind"], "index": r["index"], "count": weights.size}, [payload]


def _thumbs_reply(data: AttentionData, r: dict[str, Any], head: int | None):
    return _thumbs_content(tiles.thumbnails(data, r["layer"], r["case"], r["size"]), r["size"])


def _thumbs_content(thumbs: np.ndarray, size: int) -> Reply:
    """A ``(heads, rows, cols)`` stack of thumbnails as a reply."""
    header, payload = _encode(thumbs, pooled=True)
    _, rows, cols = thumbs.shape
    return {**header, "size": size, "rows": rows, "cols": cols}, [payload]


# Region detection runs on at most this many rows and columns; larger
# matrices are max-pooled first and the regions scaled back to cells.
_REGION_SIDE = 1024


def _regions_reply(data: AttentionData, r: dict[str, Any], head: int | None):
    from .analysis import find_regions

    t = tiles.tile(data, r["layer"], head, r["case"], None, _REGION_SIDE, _REGION_SIDE)
    q, k = data.shape(r["case"])
    found = find_regions(t.values, n_regions=r.get("n", 5))
    rects = [
        [g.top * t.fq, g.left * t.fk, min(q, g.bottom * t.fq), min(k, g.right * t.fk)]
        for g in found
    ]
    return {"regions": rects, "pooled": [t.fq, t.fk]}, []


_DATA_REQUESTS = {
    "regions": _regions_reply,
    "tile": _tile_reply,
    "links": _links_reply,
    "token": _token_reply,
    "thumbs": _thumbs_reply,
}


def _check_budget(budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"byte_budget: expected a positive number of bytes, got {budget!r}")


def _cube_with_means(data: AttentionData) -> np.ndarray:
    """All cases' ``(layers, heads + 1, q, k)`` blocks, flattened; head ``heads`` is the mean."""
    blocks = []
    for values in data.values:
        mean = values.mean(axis=1, keepdims=True, dtype=np.float32)
        blocks.append(np.concatenate([values.astype(np.float32), mean], axis=1).ravel())
    return np.concatenate(blocks)
