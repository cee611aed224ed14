"""The anywidget model: synced traits, and delegation to the modules that do the work.

The traits are the view's state (layer, head, head mean, case, gamma,
component, selection, projector mode) and the view's data (``_payload``: a
header and, under ``byte_budget``, the whole cube, in one binary trait; see
:mod:`attn_widget.payload`). Every check is :mod:`attn_widget.state`'s;
requests from the view are answered by :class:`attn_widget.serve.Server`;
figures come from :mod:`attn_widget.export`, files from :mod:`attn_widget.io`
and :mod:`attn_widget.html`.

The gamma exponent never crosses the wire: the browser applies it.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import anywidget
import traitlets

from . import html, io, wire
from ._files import write_atomic
from .data import AttentionSource
from .payload import view_payload
from .serve import Handler, Server
from .serve.exports import answer_export
from .state import ViewState, check_gamma, check_index, check_selection, with_overrides
from .widget_inputs import check_atlas, check_budget, components_of, derived_of

if TYPE_CHECKING:  # matplotlib loads with the first figure, not with the package
    from matplotlib.colors import Colormap

__all__ = ["DEFAULT_BYTE_BUDGET", "AttentionWidget"]

DEFAULT_BYTE_BUDGET = 64_000_000
_STATIC = pathlib.Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "attn_widget: the JavaScript bundle is missing. "
    + "Run `npm install && npm run build` in the source tree, or install a built wheel.";
} };
"""
# Traits a user may set when making a widget.
_STATE_TRAITS = ("layer", "head", "head_mean", "case", "gamma", "selection", "large", "atlas")


def _bundle(name: str, fallback: str) -> str:
    """The built bundle's text. As a string, not a Path: anywidget watches a Path
    for changes with a callback that holds every widget made, so none was freed."""
    path = _STATIC / name
    return path.read_text(encoding="utf-8") if path.exists() else fallback


class AttentionWidget(anywidget.AnyWidget):
    """Linked heatmap and token-line views of attention, with sliders and PDF export.

    ``AttentionWidget(attentions, tokens)`` takes any layout that
    :class:`~attn_widget.data.AttentionData` takes, or an attention source
    itself, or a mapping of component names to sources (encoder, decoder,
    cross-attention in one widget). ``derived=["rollout", "flow"]`` adds
    attention rollout and flow (Abnar & Zuidema 2020) as more choices.
    """

    _esm = _bundle("widget.js", _MISSING_BUNDLE)
    _css = _bundle("widget.css", "")

    # Typed by our own checks (attn_widget.state), not traitlets': a bad value
    # is the documented ValueError that says what was expected.
    layer = traitlets.Any(0).tag(sync=True)
    head = traitlets.Any(0).tag(sync=True)
    head_mean = traitlets.Bool(False).tag(sync=True)
    case = traitlets.Any(0).tag(sync=True)
    gamma = traitlets.Any(1.0).tag(sync=True)
    component = traitlets.Unicode("").tag(sync=True)
    # Projector mode: large type, thick lines, high-contrast colours.
    large = traitlets.Bool(False).tag(sync=True)
    # The view's locked selection: {"kind": "query"|"key", "index": i} or
    # {"kind": "cell", "q": i, "k": j}; None when nothing is locked.
    # Any, not Dict: traitlets' own type error would not say the dict's format.
    selection = traitlets.Any(None, allow_none=True).tag(sync=True)
    # The overview grid as an atlas: coloured (and sortable) by this head score ("" none).
    atlas = traitlets.Unicode("").tag(sync=True)
    byte_budget = traitlets.Int(DEFAULT_BYTE_BUDGET)
    export_dir = traitlets.Unicode(None, allow_none=True)

    # The view's data: header and cube in one update (attn_widget.wire.pack_payload).
    _payload = traitlets.Bytes(b"").tag(sync=True)

    def __init__(
        self,
        attentions: Any = None,
        tokens: Any = None,
        *,
        target_tokens: Any = None,
        padding_side: str = "right",
        byte_budget: int = DEFAULT_BYTE_BUDGET,
        export_dir: str | None = None,
        derived: Sequence[str] = (),
        **traits: Any,
    ) -> None:
        components = components_of(
            attentions, tokens, target_tokens=target_tokens, padding_side=padding_side
        )
        components.update(derived_of(components, derived))
        unknown = sorted(set(traits) - {*_STATE_TRAITS, "component"})
        if unknown:
            raise TypeError(f"AttentionWidget got an unexpected keyword argument {unknown[0]!r}")
        check_budget(byte_budget)
        self._components: dict[str, AttentionSource] = components
        self._ready = False
        self._tier = "slices"
        self._server = Server(components, self._extra_handlers())
        super().__init__(
            component=traits.pop("component", next(iter(components))),
            byte_budget=byte_budget,
            export_dir=export_dir,
        )
        self.on_msg(self._on_message)
        self._ready = True
        self._publish()
        with self.hold_trait_notifications():
            for name, value in traits.items():
                setattr(self, name, value)

    @classmethod
    def from_components(
        cls, components: Mapping[str, AttentionSource], **kwargs: Any
    ) -> AttentionWidget:
        """One widget over several components, e.g. ``{"encoder": ..., "cross": ...}``."""
        return cls(dict(components), **kwargs)

    # ----------------------------------------------------------------- access
    @property
    def components(self) -> dict[str, AttentionSource]:
        return dict(self._components)

    @property
    def data(self) -> AttentionSource:
        """The attention source of the current component."""
        return self._components[self.component]

    @property
    def state(self) -> ViewState:
        """What the view shows now (``head=None``: the mean of heads)."""
        return ViewState(
            layer=self.layer,
            head=None if self.head_mean else self.head,
            case=self.case,
            gamma=self.gamma,
            selection=self.selection,
        )

    def current_matrix(self) -> Any:
        """The ``(q, k)`` matrix the view shows now."""
        state = self.state
        return self.data.matrix(state.layer, state.head, state.case)

    @property
    def _meta(self) -> dict[str, Any]:
        """The header of the view's data, as the view reads it."""
        return wire.payload_header(self._payload)

    @property
    def _cube(self) -> bytes:
        """The cube bytes the view slices (empty in the slices tier)."""
        return wire.unpack_payload(self._payload)[1]

    # ------------------------------------------------------------- validation
    @traitlets.validate("component")
    def _valid_component(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name not in self._components:
            raise ValueError(f"component: expected one of {list(self._components)}, got {name!r}")
        return str(name)

    @traitlets.validate("layer", "head", "case")
    def _valid_index(self, proposal: dict[str, Any]) -> int:
        name = proposal["trait"].name
        counts = {"layer": self.data.n_layers, "head": self.data.n_heads, "case": self.data.n_cases}
        # Python may count from the end (-1: the last); the trait keeps 0..n-1.
        return check_index(name, proposal["value"], counts[name], negative=True)

    @traitlets.validate("gamma")
    def _valid_gamma(self, proposal: dict[str, Any]) -> float:
        return check_gamma(proposal["value"])

    @traitlets.validate("atlas")
    def _valid_atlas(self, proposal: dict[str, Any]) -> str:
        return check_atlas(proposal["value"])

    @traitlets.validate("byte_budget")
    def _valid_budget(self, proposal: dict[str, Any]) -> int:
        check_budget(proposal["value"])
        return int(proposal["value"])

    @traitlets.validate("selection")
    def _valid_selection(self, proposal: dict[str, Any]) -> dict[str, Any] | None:
        q, k = self.data.shape(self.case)
        return check_selection(proposal["value"], q, k)

    @traitlets.observe("component", "byte_budget")
    def _republish(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["name"] == "component":
            # A new component may have fewer layers, heads or cases: keep the
            # indices that still exist, fall back to 0 for those that do not.
            data = self.data
            with self.hold_trait_notifications():
                self.set_trait("selection", None)
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
        self.set_trait("selection", None)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """A state update from the view, checked as a Python assignment would be.

        A bad one changes nothing: the view is told why (its status line) and
        sent the current values back, and the widget goes on working.
        """
        try:
            self._check_update(sync_data)
        except ValueError as error:
            self.send({"type": "error", "error": str(error)})
            self.send_state([name for name in sync_data if name in self.keys])
            return
        super().set_state(sync_data)

    def _check_update(self, update: Mapping[str, Any]) -> None:
        if not isinstance(update, Mapping):
            raise ValueError(f"update: expected an object of traits, got {type(update).__name__}")
        unknown = sorted(set(update) - {*_STATE_TRAITS, "component"})
        if unknown:
            raise ValueError(
                f"update: the view may set {', '.join(sorted({*_STATE_TRAITS, 'component'}))}; "
                f"got {unknown[0]!r}"
            )
        component = update.get("component", self.component)
        if component not in self._components:
            raise ValueError(
                f"component: expected one of {list(self._components)}, got {component!r}"
            )
        data = self._components[component]
        # The view sends indices as its sliders hold them: never counted from the end.
        for name, count in (
            ("layer", data.n_layers),
            ("head", data.n_heads),
            ("case", data.n_cases),
        ):
            if name in update:
                check_index(name, update[name], count)
        state = ViewState(
            layer=update.get("layer", self.layer),
            head=update.get("head", self.head),
            case=update.get("case", self.case),
            gamma=update.get("gamma", self.gamma),
            selection=update.get("selection", self.selection),
        )
        state.check(data)
        if "atlas" in update:
            check_atlas(update["atlas"])
        for flag in ("head_mean", "large"):
            if not isinstance(update.get(flag, False), bool):
                raise ValueError(f"{flag}: expected true or false, got {update[flag]!r}")

    # ------------------------------------------------------- data and requests
    def _publish(self) -> None:
        """Send the view its data: the header and, under the byte budget, the whole cube."""
        payload = view_payload(
            self._components, self.component, self.byte_budget, extra=self._payload_extra()
        )
        self._tier = wire.payload_header(payload)["tier"]
        self._payload = payload

    def _payload_extra(self) -> dict[str, Any]:
        """More header fields for the view (a subclass's overlay description)."""
        return {}

    def _extra_handlers(self) -> dict[str, Handler]:
        """More request kinds a subclass answers (the analysis views' overlays)."""
        return {}

    def _on_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if isinstance(content, Mapping) and content.get("type") == "export":
            self.send(*answer_export(content, self._render, self.state, self.export_dir))
            return
        self._server.respond(self.component, self._tier, content, self._send_reply)

    def _send_reply(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """Send a reply to the view; from the refiner thread too, so a closed widget is skipped."""
        if self.comm is not None:
            self.send(content, buffers)

    def close(self) -> None:
        server = getattr(self, "_server", None)  # None when __init__ failed early
        if server is not None:
            server.close()
        super().close()

    # ----------------------------------------------------------- export, files
    def _render(self, kind: str | None = None, *, format: str = "pdf", **options: Any) -> bytes:
        """The figure ``kind`` (None: the heatmap) as bytes of ``format``.

        View-state fields among ``options`` (layer, head, case, gamma,
        selection, window) override what the view shows, for this figure only.
        """
        # matplotlib takes most of a second to import: only a figure loads it.
        from . import export

        state, figure_options = with_overrides(self.state, options)
        return export.render_pdf(
            self.data,
            kind or "heatmap",
            layer=state.layer,
            head=state.head,
            case=state.case,
            gamma=state.gamma,
            selection=state.selection,
            window=state.window,
            format=format,
            **figure_options,
        )

    def export_pdf(
        self,
        path: str | os.PathLike[str],
        kind: str | None = None,
        *,
        layer: int | None = None,
        head: int | Literal["mean"] | None = None,
        case: int | None = None,
        gamma: float | None = None,
        selection: Mapping[str, Any] | None = None,
        window: tuple[int, int, int, int] | None = None,
        dpi: float | None = None,
        title: str | None = None,
        width: float | None = None,
        size: float | None = None,
        cmap: str | Colormap | None = None,
        causal: bool | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        top_n: int | None = None,
        enlarge: bool | float | None = None,
        show_values: bool | None = None,
        regions: Literal["auto"] | Sequence[Sequence[Any]] | None = None,
        region_options: Mapping[str, Any] | None = None,
        split: int | None = None,
        split_names: tuple[str, str] | None = None,
        split_panels: bool | None = None,
        label_every: int | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
        color: str | None = None,
        per_token: bool | None = None,
        heads: Literal["all", "mean"] | None = None,
        layers: Literal["all", "current"] | None = None,
        per_row: int | None = None,
        mode: Literal["circles", "signed"] | None = None,
        diverging_cmap: str | Colormap | None = None,
        rings: int | None = None,
        white_center: bool | None = None,
        max_radius: float | None = None,
        query: int | None = None,
    ) -> pathlib.Path:
        """Write a figure of what the view shows to ``path``: PDF, SVG or PNG by its extension.

        ``kind``: ``"heatmap"`` (the default), ``"lines"``, ``"grid"``,
        ``"lines_grid"``; for an image model ``"image"`` (the image with one
        token's attention over its patches: ``query``, default the locked
        token or [CLS]) and ``"image_grid"`` (every head's); an analysis
        widget's own figure (``"compare"``,
        ``"stability"``, ``"evolution"``) is its default. Every option left at
        None keeps its default; each applies to the kinds named below, and
        giving one to another kind is a ValueError that lists what is allowed.

        The view's state, for this export only (None: as the view shows it):
            ``layer``, ``head`` (``"mean"``: the mean of heads), ``case``
            (negative numbers count from the end: ``layer=-1`` is the last),
            ``gamma`` (0.1..5), ``selection`` (``{"kind": "query"|"key",
            "index": i}``, ``{"kind": "cell", "q": i, "k": j}``; ``{}``: none),
            ``window`` (heatmap: half-open ``(q0, q1, k0, k1)``).
        The file:
            ``dpi``: PNG only, dots per inch (50..1200, default 300).
        Every figure:
            ``title`` (default: model, component, layer and head), ``width``
            (the figure's width in inches, e.g. 3.3 or 7; default: at most 7)
            or ``size`` (heatmap and analysis: the matrix side; lines: the
            token columns' height; grid: the panels' width), ``cmap``
            (heatmaps; default ``"viridis"``), ``causal`` (mask the upper
            triangle; default: when the data is causal), ``xlabel`` /
            ``ylabel`` (heatmaps' axis titles, default ``"key"`` / ``"query"``;
            ``""`` hides).
        Heatmap:
            ``top_n`` (mark the n largest cells, exactly n, ties by position),
            ``enlarge`` (True or 1..8: widen the top cells' rows and columns),
            ``show_values`` (print the top values, default True),
            ``regions`` (half-open ``(top, left, bottom, right[, label])``
            boxes, or ``"auto"``: found by ``aw.regions`` with
            ``region_options``, e.g. ``{"n_regions": 3, "min_distance": 2}``),
            ``split`` (1..N-1: segment B starts here) with ``split_names``
            and ``split_panels`` (the whole beside its four blocks),
            ``label_every`` (label at most every n-th token; labels never overlap).
        Lines:
            ``top_k`` (links per query), ``threshold`` (hide links under this
            fraction of the maximum), ``color``, ``per_token`` (one page per
            query token: a multi-page PDF).
        Grid and lines_grid:
            ``heads`` (``"all"`` or ``"mean"``), ``layers`` (``"all"`` or
            ``"current"``), ``per_row``; lines_grid also ``top_k``,
            ``threshold``, ``color``.
        Compare, stability (analysis widgets):
            ``mode`` (compare: ``"circles"`` or ``"signed"``),
            ``diverging_cmap``, ``max_radius`` (largest circle, in cell
            sides, 0.05..0.5), ``rings`` and ``white_center`` (stability).

        An unknown extension is a ValueError naming ``.pdf``, ``.svg``,
        ``.png``. The write is atomic and replaces an existing file at
        ``path``, since the caller named it. Returns the written path.
        """
        # Every keyword argument given (not None) is passed on, by its name.
        options = {
            name: value
            for name, value in locals().items()
            if name not in ("self", "path", "kind") and value is not None
        }
        from .export.formats import format_of

        return write_atomic(path, self._render(kind, format=format_of(path), **options))

    def to_json(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the current component and case as JSON (see :func:`attn_widget.io.to_json`)."""
        return io.to_json(self._components, path, component=self.component, case=self.case)

    def save_html(self, path: str | pathlib.Path, **options: Any) -> pathlib.Path:
        """Write one self-contained HTML page of this view that works without a kernel.

        See :func:`attn_widget.html.save_html` for the options and the size limit.
        """
        return html.save_html(
            self._components,
            self.component,
            self.state,
            path,
            large=self.large,
            header=self._payload_extra(),
            traits=self._page_traits(),
            **options,
        )

    def _page_traits(self) -> dict[str, Any]:
        """More synced traits a saved page starts with (a subclass's own)."""
        return {}
