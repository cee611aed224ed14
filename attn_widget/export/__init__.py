"""Static, publication-ready PDF figures of attention, drawn by matplotlib.

* :func:`render_pdf` — ``"heatmap"``, ``"lines"`` or ``"grid"`` as PDF bytes,
  with the view's state (layer, head or head mean, case, gamma, locked
  selection). Same input, same bytes.
* :func:`render_analysis_pdf` — the analysis views' figures (``"compare"``,
  ``"stability"``, ``"evolution"``), see :mod:`.analysis`.
* :func:`write_atomic` — write bytes through a temporary file and a rename.
* :func:`default_filename` — e.g. ``attention_L3_H5_case0_heatmap.pdf``.

Nothing here touches pyplot or the user's rcParams: figures are plain
``matplotlib.figure.Figure`` objects drawn under a pinned ``rc_context``, so
export works headless (no display, no backend switch) and leaves the
notebook's matplotlib settings as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._files import write_atomic
from ..data import AttentionSource
from ..state import Selection, ViewState
from .analysis import render_analysis_pdf
from .common import save_pdf, style, title_for
from .grid import grid_figure, grid_panels, grid_title, parse_grid_options
from .heatmap import crop_to_window, heatmap_figure, parse_heatmap_options
from .lines import lines_figure, parse_lines_options

__all__ = [
    "KINDS",
    "default_filename",
    "render",
    "render_analysis_pdf",
    "render_pdf",
    "write_atomic",
]

KINDS = ("heatmap", "lines", "grid")
# Figures of the analysis widgets (attn_widget.views), drawn by render_analysis_pdf.
ANALYSIS_KINDS = ("compare", "stability", "evolution")


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of 'heatmap', 'lines', 'grid'; got {kind!r}")
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
    **options: Any,
) -> bytes:
    """Render one figure of ``data`` as PDF bytes (one page, vector text, embedded matrix).

    Parameters
    ----------
    data:
        The attention: any :class:`~attn_widget.data.AttentionSource`.
    kind:
        ``"heatmap"``, ``"lines"`` or ``"grid"``.
    layer, head, case:
        The slice, as the view's sliders; ``head=None`` is the mean over heads.
    gamma:
        The view's contrast: colour (and line opacity) is ``(v / slice max) ** gamma``.
    selection:
        The view's locked selection: ``{"kind": "query" | "key", "index": i}``
        or ``{"kind": "cell", "q": i, "k": j}``. The heatmap outlines it and
        marks its labels; the lines figure shows only that token's lines (a
        cell: all lines dimmed and the cell's line highlighted, as the view).
        The grid ignores it.

    Options for ``"heatmap"``
        ``cmap`` (name or Colormap, default ``"viridis"``); ``top_n`` (print the
        n largest values, exactly n, ties by position, and bold their labels);
        ``enlarge`` (True or a factor 1..8: rows/columns of top cells drawn
        wider; needs ``top_n``); ``regions`` (half-open ``(top, left, bottom,
        right[, label])`` boxes); ``split`` (1..N-1, separators) with
        ``split_names`` (two names) and ``split_panels`` (the whole plus the four
        blocks); ``causal`` (mask the upper triangle; default: when the data is
        causal); ``size`` (matrix side in inches, default 6.5); ``title``.
    Options for ``"lines"``
        ``top_k`` (links per query without a selection; default as the view:
        all up to 128 x 128, else 8), ``threshold`` (hide links under this
        fraction of the maximum), ``color``, ``size`` (height in inches), ``title``.
    Options for ``"grid"``
        ``heads`` (``"all"`` or ``"mean"``; default: ``"mean"`` when ``head``
        is None, as the view shows the head mean, else ``"all"``), ``layers`` (``"all"`` or
        ``"current"``: only ``layer``), ``per_row`` (default 4; a row per layer
        for the full layer x head grid), ``cmap``, ``causal``, ``size`` (width
        in inches, default 7), ``title``.

    Unknown kinds or options, and out-of-range values, raise ``ValueError``
    saying what is allowed.
    """
    state = ViewState(layer=layer, head=head, case=case, gamma=gamma, selection=selection)
    return render(data, kind, state, **options)


def render(source: AttentionSource, kind: str, state: ViewState, **options: Any) -> bytes:
    """Render the figure ``kind`` of ``source`` as the view ``state`` shows it (PDF bytes).

    A zoomed state (``state.window``) gives the heatmap its window, unless
    ``options`` name one. See :func:`render_pdf` for the kinds and options.
    """
    kind = _check_kind(kind)
    state = state.check(source)
    if kind == "heatmap" and state.window is not None:
        options = {"window": state.window, **options}
    data = source
    layer, head, case, gamma = state.layer, state.head, state.case, state.gamma
    chosen: Mapping[str, Any] | None = state.selection
    q, k = data.shape(case)
    query_tokens, key_tokens = data.query_tokens[case], data.tokens[case]
    with style():
        if kind == "heatmap":
            hopts = parse_heatmap_options(options, q, k)
            title = hopts.title if hopts.title is not None else title_for(layer, head, case)
            causal = hopts.causal if hopts.causal is not None else data.is_causal(case)
            q0, q1, k0, k1 = hopts.window or (0, q, 0, k)
            if hopts.window is not None:
                if hopts.title is None:
                    title += f" · queries {q0}–{q1 - 1}, keys {k0}–{k1 - 1}"
                hopts, chosen = crop_to_window(hopts, chosen)
            fig = heatmap_figure(
                # Only the window's rows are read: a zoom into a long input stays cheap.
                data.rows(layer, head, case, q0, q1)[:, k0:k1],
                query_tokens[q0:q1],
                key_tokens[k0:k1],
                title=title,
                gamma=gamma,
                selection=chosen,
                opts=hopts,
                causal=causal,
                origin=(q0, k0),
            )
        elif kind == "lines":
            lopts = parse_lines_options(options, q, k)
            title = lopts.title if lopts.title is not None else title_for(layer, head, case)
            fig = lines_figure(
                data.matrix(layer, head, case),
                query_tokens,
                key_tokens,
                title=title,
                gamma=gamma,
                selection=chosen,
                opts=lopts,
            )
        else:
            gopts = parse_grid_options(options, q, k, head)
            panels, per_row = grid_panels(data.n_layers, data.n_heads, layer, gopts)
            title = gopts.title if gopts.title is not None else grid_title(case, layer, gopts)
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
        return save_pdf(fig, title)


def default_filename(
    kind: str,
    layer: int,
    head: int | None,
    case: int,
    *,
    heads: str | None = None,
    layers: str = "all",
    window: Sequence[int] | None = None,
) -> str:
    """The file name a figure is saved under, e.g. ``attention_L3_H5_case0_heatmap.pdf``.

    ``head=None`` (head mean) gives ``attention_L3_mean_case0_lines.pdf``. A grid
    is ``attention_case0_grid.pdf``; with the grid options ``layers="current"``
    it names the layer (``attention_L3_case0_grid.pdf``) and a grid of head
    means (``heads="mean"``, or by default ``head=None``, as in render_pdf)
    adds ``_mean``, so different grids do not overwrite each other. A
    ``window`` ``(q0, q1, k0, k1)`` adds ``_q{q0}-{q1}_k{k0}-{k1}``.
    """
    if kind not in ANALYSIS_KINDS:
        kind = _check_kind(kind)
    if kind == "grid":
        where = f"L{layer}_" if layers == "current" else ""
        mean = heads == "mean" or (heads is None and head is None)
        suffix = "_mean" if mean else ""
        return f"attention_{where}case{case}_grid{suffix}.pdf"
    head_part = "mean" if head is None else f"H{head}"
    # A zoomed heatmap names its window, so zooms do not overwrite each other.
    zoom = "_q{}-{}_k{}-{}".format(*window) if window is not None else ""
    return f"attention_L{layer}_{head_part}_case{case}{zoom}_{kind}.pdf"
