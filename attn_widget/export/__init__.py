"""Static, publication-ready figures of attention, drawn by matplotlib: PDF, SVG and PNG.

* :func:`render_pdf` — ``"heatmap"``, ``"lines"``, ``"grid"``, ``"lines_grid"``,
  or for an image model ``"image"`` / ``"image_grid"`` (:mod:`.image`),
  as bytes (PDF by default, ``format="svg"`` or ``"png"``), with the view's
  state (layer, head or head mean, case, gamma, locked selection, zoomed
  window). Same input, same bytes.
* :func:`render` — the same from a :class:`~attn_widget.state.ViewState`.
* :func:`render_analysis_pdf` — the analysis views' figures (``"compare"``,
  ``"stability"``, ``"evolution"``), see :mod:`.analysis`.
* :func:`format_of` — the format a path's extension asks for (``.pdf``,
  ``.svg``, ``.png``; anything else is a ValueError naming those).
* :func:`write_atomic` — write bytes through a temporary file and a rename.
* :func:`default_filename` — e.g. ``attention_L3_H5_case0_heatmap.pdf``.
* :func:`warm_up` — load the PDF backend and fonts ahead of the first export.

One rendering path for every format: the figure is built once and only the
save differs (:mod:`.formats`). Nothing here touches pyplot or the user's
rcParams: figures are plain ``matplotlib.figure.Figure`` objects drawn under a
pinned ``rc_context``, so export works headless (no display, no backend
switch) and leaves the notebook's matplotlib settings as they were.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from .._files import write_atomic
from ..data import AttentionSource
from ..state import Selection, ViewState, Window
from .analysis import render_analysis_pdf
from .common import label_text, style
from .fonts import check_glyphs
from .formats import FORMATS, check_dpi, check_format, format_of, save_figure, save_pages
from .grid import grid_figure, grid_panels, grid_title, parse_grid_options
from .heatmap import crop_to_window, heatmap_figure, parse_heatmap_options, with_auto_regions
from .image import IMAGE_KINDS, image_figures
from .lines import lines_figure, parse_lines_options
from .lines_grid import lines_grid_figure, parse_lines_grid_options
from .titles import slice_title

__all__ = [
    "ANALYSIS_KINDS",
    "FORMATS",
    "KINDS",
    "check_format",
    "default_filename",
    "format_of",
    "render",
    "render_analysis_pdf",
    "render_pdf",
    "warm_up",
    "write_atomic",
]

KINDS = ("heatmap", "lines", "grid", "lines_grid", *IMAGE_KINDS)
# Figures of the analysis widgets (attn_widget.views), drawn by render_analysis_pdf.
ANALYSIS_KINDS = ("compare", "stability", "evolution")
# Figures only a widget of their kind draws: a generation step (attn_widget.generation).
WIDGET_KINDS = (*ANALYSIS_KINDS, "text")


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(repr(k) for k in KINDS)}; got {kind!r}")
    return str(kind)


def render_pdf(
    data: AttentionSource,
    kind: str,
    *,
    layer: int = 0,
    head: int | None = 0,
    case: int = 0,
    gamma: float = 1.0,
    selection: Selection | None = None,
    window: Window | None = None,
    format: str = "pdf",
    dpi: float | None = None,
    **options: Any,
) -> bytes:
    """Render one figure of ``data`` as bytes: PDF (default), SVG or PNG.

    Parameters
    ----------
    data:
        The attention: any :class:`~attn_widget.data.AttentionSource`.
    kind:
        ``"heatmap"``, ``"lines"``, ``"grid"`` or ``"lines_grid"``.
    layer, head, case:
        The slice, as the view's sliders; ``head=None`` is the mean over heads;
        negative numbers count from the end (``layer=-1``: the last layer).
    gamma:
        The view's contrast (0.1..5): colour (and line opacity) is
        ``(v / slice max) ** gamma``.
    selection:
        The view's locked selection: ``{"kind": "query" | "key", "index": i}``
        or ``{"kind": "cell", "q": i, "k": j}``. The heatmap outlines it and
        marks its labels; the lines figure shows only that token's lines (a
        cell: all lines dimmed and the cell's line highlighted, as the view).
        The grids ignore it.
    window:
        The heatmap's zoomed rows and columns, half-open ``(q0, q1, k0, k1)``.
    format:
        ``"pdf"`` (vector, text as text), ``"svg"`` (vector, ``<text>``
        elements) or ``"png"`` (raster at ``dpi``, default 300).

    The options of each kind are listed in the README ("Export options") and
    in :meth:`attn_widget.AttentionWidget.export_pdf`. Unknown kinds or
    options, and out-of-range values, raise ``ValueError`` saying what is allowed.
    """
    state = ViewState(
        layer=layer, head=head, case=case, gamma=gamma, selection=selection, window=window
    )
    return render(data, kind, state, format=format, dpi=dpi, **options)


def render(
    source: AttentionSource,
    kind: str,
    state: ViewState,
    *,
    format: str = "pdf",
    dpi: float | None = None,
    **options: Any,
) -> bytes:
    """Render the figure ``kind`` of ``source`` as the view ``state`` shows it.

    A zoomed state (``state.window``) gives the heatmap its window, unless
    ``options`` name one. See :func:`render_pdf` for the kinds and formats.
    """
    kind = _check_kind(kind)
    fmt = check_format(format)
    if dpi is not None:
        if fmt != "png":
            raise ValueError(
                f"dpi: sets a PNG's resolution; {fmt.upper()} is vector, got dpi={dpi!r}"
            )
        check_dpi(dpi)
    if options.get("per_token") and fmt != "pdf":
        raise ValueError(
            f"per_token: one page per query token needs a PDF (one multi-page file); got {fmt}"
        )
    state = state.check(source)
    if kind == "heatmap" and state.window is not None:
        options = {"window": state.window, **options}
    with style():
        figures, title, texts = _figures(source, kind, state, options)
        check_glyphs([title, *texts])
        if len(figures) > 1:
            return save_pages(figures, title)
        return save_figure(figures[0], fmt, title, dpi)


def _title(source: AttentionSource, state: ViewState) -> str:
    return slice_title(
        source.meta,
        layer=state.layer,
        head=state.head,
        case=state.case,
        n_layers=source.n_layers,
        n_heads=source.n_heads,
        n_cases=source.n_cases,
    )


def _figures(
    data: AttentionSource, kind: str, state: ViewState, options: dict[str, Any]
) -> tuple[list[Figure], str, list[str]]:
    """The figure (or the pages), the document's title, and the token texts shown."""
    if kind in IMAGE_KINDS:
        return image_figures(data, kind, state, options)
    layer, head, case, gamma = state.layer, state.head, state.case, state.gamma
    chosen: Mapping[str, Any] | None = state.selection
    q, k = data.shape(case)
    query_tokens, key_tokens = data.query_tokens[case], data.tokens[case]
    texts = [label_text(t) for t in (*query_tokens, *key_tokens)]
    if kind == "heatmap":
        hopts = parse_heatmap_options(options, q, k)
        title = hopts.title if hopts.title is not None else _title(data, state)
        causal = hopts.causal if hopts.causal is not None else data.is_causal(case)
        q0, q1, k0, k1 = hopts.window or (0, q, 0, k)
        if hopts.window is not None:
            if hopts.title is None:
                title += f" · queries {q0}–{q1 - 1}, keys {k0}–{k1 - 1}"
            hopts, chosen = crop_to_window(hopts, chosen)
        # Only the window's rows are read: a zoom into a long input stays cheap.
        matrix = data.rows(layer, head, case, q0, q1)[:, k0:k1]
        hopts = with_auto_regions(hopts, matrix)
        fig = heatmap_figure(
            matrix,
            query_tokens[q0:q1],
            key_tokens[k0:k1],
            title=title,
            gamma=gamma,
            selection=chosen,
            opts=hopts,
            causal=causal,
            origin=(q0, k0),
        )
        return [fig], title, [*texts, hopts.xlabel, hopts.ylabel]
    if kind == "lines":
        lopts = parse_lines_options(options, q, k)
        title = lopts.title if lopts.title is not None else _title(data, state)
        matrix = data.matrix(layer, head, case)
        pages = [(title, chosen)]
        if lopts.per_token:
            pages = [
                (
                    f"{title} · query {i}: {label_text(query_tokens[i])}",
                    {"kind": "query", "index": i},
                )
                for i in range(q)
            ]
        figures = [
            lines_figure(
                matrix,
                query_tokens,
                key_tokens,
                title=page_title,
                gamma=gamma,
                selection=page_selection,
                opts=lopts,
            )
            for page_title, page_selection in pages
        ]
        return figures, title, texts
    if kind == "grid":
        gopts = parse_grid_options(options, q, k, head)
        panels, per_row = grid_panels(data.n_layers, data.n_heads, layer, gopts, data.meta)
        title = gopts.title or grid_title(case, layer, gopts, data.meta, data.n_cases)
        causal = gopts.causal if gopts.causal is not None else data.is_causal(case)
        fig = grid_figure(
            [data.matrix(lay, h, case) for lay, h, _ in panels],
            [name for _, _, name in panels],
            query_tokens,
            key_tokens,
            per_row=per_row,
            title=title,
            gamma=gamma,
            opts=gopts,
            causal=causal,
        )
        return [fig], title, texts
    lgopts = parse_lines_grid_options(options, q, k, head)
    panels, per_row = grid_panels(data.n_layers, data.n_heads, layer, lgopts.grid, data.meta)
    title = lgopts.title or grid_title(case, layer, lgopts.grid, data.meta, data.n_cases)
    if lgopts.title is None:
        title += " · token lines"
    fig = lines_grid_figure(
        [data.matrix(lay, h, case) for lay, h, _ in panels],
        [name for _, _, name in panels],
        query_tokens,
        key_tokens,
        per_row=per_row,
        title=title,
        gamma=gamma,
        opts=lgopts,
    )
    return [fig], title, texts


def default_filename(
    kind: str,
    layer: int,
    head: int | None,
    case: int,
    *,
    heads: str | None = None,
    layers: str = "all",
    window: Sequence[int] | None = None,
    format: str = "pdf",
) -> str:
    """The file name a figure is saved under, e.g. ``attention_L3_H5_case0_heatmap.pdf``.

    ``head=None`` (head mean) gives ``attention_L3_mean_case0_lines.pdf``. A grid
    is ``attention_case0_grid.pdf``; with the grid options ``layers="current"``
    it names the layer (``attention_L3_case0_grid.pdf``) and a grid of head
    means (``heads="mean"``, or by default ``head=None``, as in render_pdf)
    adds ``_mean``, so different grids do not overwrite each other. A
    ``window`` ``(q0, q1, k0, k1)`` adds ``_q{q0}-{q1}_k{k0}-{k1}``.
    ``format`` (``"pdf"``, ``"svg"``, ``"png"``) is the extension.
    """
    if kind not in WIDGET_KINDS:
        kind = _check_kind(kind)
    ext = check_format(format)
    if kind in ("grid", "lines_grid", "image_grid"):
        where = f"L{layer}_" if layers == "current" else ""
        mean = heads == "mean" or (heads is None and head is None)
        suffix = "_mean" if mean else ""
        return f"attention_{where}case{case}_{kind}{suffix}.{ext}"
    head_part = "mean" if head is None else f"H{head}"
    # A zoomed heatmap names its window, so zooms do not overwrite each other.
    zoom = "_q{}-{}_k{}-{}".format(*window) if window is not None else ""
    return f"attention_L{layer}_{head_part}_case{case}{zoom}_{kind}.{ext}"


def warm_up() -> None:
    """Do ahead what the first PDF of a process would wait for; safe in a background thread.

    The first PDF of a process takes about half a second more than the next
    ones (``bench/bench_export.py`` measures it): importing matplotlib's PDF
    backend, which imports fontTools' subsetter, and fontTools building its
    OpenType table classes the first time it subsets a font. This does both,
    on matplotlib's own DejaVu Sans, without drawing anything: no rcParams
    are touched (they are global, and a notebook may be plotting meanwhile)
    and nothing is written.
    """
    import os

    import matplotlib
    import matplotlib.backends.backend_pdf  # imports fontTools.subset
    from fontTools import subset

    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):  # labels, and bold top-cell labels
        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
        # The options matplotlib's PDF backend subsets with (its get_glyphs_subset).
        options = subset.Options(glyph_names=True, recommended_glyphs=True)
        options.drop_tables += ["FFTM", "PfEd", "BDF", "meta"]  # as matplotlib: no log notes
        font = subset.load_font(path, options)
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(text="attention layer head query key 0123456789.·→")
        subsetter.subset(font)
        font.save(io.BytesIO())


_warming: list[threading.Thread] = []


def start_warm_up() -> threading.Thread:
    """:func:`warm_up` in a daemon thread, once per process; returns that thread."""
    if not _warming:
        thread = threading.Thread(target=_quiet_warm_up, name="attn_widget-export-warm-up")
        thread.daemon = True
        _warming.append(thread)
        thread.start()
    return _warming[0]


def _quiet_warm_up() -> None:
    # A warm-up is an optimisation: the real export reports any error.
    with contextlib.suppress(Exception):
        warm_up()


# In a notebook kernel the first click on a PDF button should not wait for
# the backend's start-up: start it now, in the background (nothing is drawn
# on screen, and the bytes of later figures do not change).
if "ipykernel" in sys.modules:
    start_warm_up()
