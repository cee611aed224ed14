"""PDF figures of the analysis views: compare, stability and evolution.

The figure is what the view draws for one slice (:mod:`attn_widget.views`):
the background matrix as one embedded image (one pixel per cell, as the
heatmap), and an overlay drawn as a single matplotlib collection, so even
128 x 128 tokens render in about a second:

* ``"compare"``: background A; a circle in each cell filled with B's colour on
  the same scale, radius ``radius`` x the cell side (none where A = B).
  ``mode="signed"`` draws the signed difference A − B on a diverging map
  centred at 0 instead.
* ``"stability"``: background the mean over runs; a circle sized by the
  spread whose fill runs from the colour of ``low`` (mean − k·spread) at the
  centre to that of ``high`` at the edge (``white_center``: from white),
  approximated by ``rings`` concentric discs, clamped to the colour scale,
  and outlined so that it shows on any cell.
* ``"evolution"``: background the mean over checkpoints; a sparkline across
  each cell (``series``, in [0, 1], drawn upward), dark or light for contrast.

The marks are in :mod:`.analysis_marks`; the page is laid out as the
heatmap's (a ``width`` of at most 7 in by default, axis titles, labels thinned).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..analysis import MAX_RADIUS
from ..data import AttentionSource
from ..state import ViewState
from .analysis_marks import (
    compare_circles,
    signed_bar_extent,
    signed_colorbar,
    sparklines,
    stability_circles,
)
from .analysis_options import (
    ANALYSIS_KINDS,
    ANALYSIS_OPTIONS,
    CHANNELS,
    AnalysisOptions,
    check_channels,
    check_kind,
    parse_analysis_options,
)
from .common import (
    AXIS_TITLE_FONT,
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    MASK_RGB,
    NOTE_FONT,
    TICK_PT,
    Page,
    check_int,
    colorbar,
    colorbar_extent,
    colorize,
    draw_title,
    fit_unit,
    label_font_size,
    label_text,
    pick_labels,
    power_norm,
    style,
    text_width,
    title_height,
    title_lines,
)
from .fonts import check_glyphs
from .formats import check_dpi, check_format, save_figure
from .titles import slice_title

__all__ = ["ANALYSIS_KINDS", "ANALYSIS_OPTIONS", "CHANNELS", "render_analysis_pdf"]

MAX_CELL_PT = 48.0  # short inputs: room for circles and sparklines, no larger
AXIS_TITLE_H = AXIS_TITLE_FONT * 1.3 + 2.0


def render_analysis_pdf(
    data: AttentionSource,
    kind: str,
    channels: Mapping[str, np.ndarray],
    *,
    layer: int = 0,
    head: int | None = 0,
    case: int = 0,
    gamma: float = 1.0,
    scale_max: float | None = None,
    n: int = 2,
    format: str = "pdf",
    dpi: float | None = None,
    **options: Any,
) -> bytes:
    """One analysis figure of a slice as bytes: PDF (default), SVG or PNG; same input, same bytes.

    Parameters
    ----------
    data:
        The widget's data (tokens, the causal check, ``meta`` for the title);
        values come from ``channels``.
    kind:
        ``"compare"``, ``"stability"`` or ``"evolution"``.
    channels:
        What the view draws for the slice (:meth:`views._Overlay.channels`):
        compare ``base`` (A), ``b``, ``radius`` (fraction of the cell side),
        ``delta`` (A − B); stability ``base`` (mean), ``radius``, ``low``,
        ``high``; evolution ``base`` (mean) and ``series`` ``(q, k, steps)``
        in [0, 1]. Extra channels are ignored.
    layer, head, case:
        The slice, for the title and the tokens; ``head=None`` is the head mean.
    gamma:
        The view's contrast (``PowerNorm``) for background, circles and colour bar.
    scale_max:
        The colour scale's maximum, shared by background and circles
        (default: the background's maximum).
    n:
        The number of runs or checkpoints, for the title.
    format, dpi:
        ``"pdf"``, ``"svg"`` or ``"png"`` (at ``dpi``, default 300).

    Options
        ``cmap`` (default ``"viridis"``), ``causal`` (mask the upper triangle;
        default: when the data is causal), ``width`` (the figure's width in
        inches; default at most 7) or ``size`` (the matrix side), ``title``,
        ``xlabel`` / ``ylabel`` (default ``"key"`` / ``"query"``; ``""``
        hides); compare also ``mode`` (``"circles"`` or ``"signed"``: the
        signed map A − B), ``diverging_cmap`` (default ``"RdBu_r"``) and
        ``max_radius``; stability also ``rings`` (discs approximating the
        radial gradient, 1..16, default 4), ``white_center`` (the gradient
        starts from white) and ``max_radius`` (the largest circle's radius in
        cell sides, 0.05..0.5, default 0.45).

    Unknown kinds, options or channels raise ``ValueError`` saying what is allowed.
    """
    kind = check_kind(kind)
    fmt = check_format(format)
    if dpi is not None and fmt != "png":
        raise ValueError(f"dpi: sets a PNG's resolution; {fmt.upper()} is vector, got dpi={dpi!r}")
    if dpi is not None:
        check_dpi(dpi)
    state = ViewState(layer=layer, head=head, case=case, gamma=gamma).check(data)
    layer, head, case, gamma = state.layer, state.head, state.case, state.gamma
    n = check_int("n", n, 1)
    q, k = data.shape(case)
    opts = parse_analysis_options(kind, options, q, k)
    chans = check_channels(kind, channels, q, k, opts.mode)
    if scale_max is None:
        scale_max = float(chans["base"].max())
    if not isinstance(scale_max, (int, float, np.number)) or not math.isfinite(scale_max):
        raise ValueError(f"scale_max: expected a finite number, got {scale_max!r}")
    causal = opts.causal if opts.causal is not None else data.is_causal(case)
    mask = np.triu(np.ones((q, k), dtype=bool), 1) if causal else None
    title = opts.title
    if title is None:
        title = slice_title(
            data.meta,
            layer=layer,
            head=head,
            case=case,
            n_layers=data.n_layers,
            n_heads=data.n_heads,
            n_cases=data.n_cases,
            what=_what(kind, opts, n),
        )
    with style():
        query_tokens, key_tokens = data.query_tokens[case], data.tokens[case]
        check_glyphs([title, *(label_text(t) for t in (*query_tokens, *key_tokens))])
        fig = _figure(
            kind,
            chans,
            query_tokens,
            key_tokens,
            title=title,
            note=_note(kind, opts, data.meta),
            gamma=gamma,
            scale_max=float(scale_max),
            mask=mask,
            opts=opts,
        )
        return save_figure(fig, fmt, title, dpi)


def _what(kind: str, opts: AnalysisOptions, n: int) -> str:
    if kind == "compare":
        return "compare (A − B)" if opts.mode == "signed" else "compare"
    if kind == "stability":  # the spread's kind (sem or std) is not known here
        return f"stability · mean ± spread over {n} runs"
    return f"evolution over {n} checkpoints"


def _note(kind: str, opts: AnalysisOptions, meta: Mapping[str, Any]) -> str:
    if kind == "compare":
        names = meta.get("names")
        a, b = ("A", "B")
        if isinstance(names, Sequence) and not isinstance(names, str) and len(names) == 2:
            a, b = f"A ({names[0]})", f"B ({names[1]})"
        if opts.mode == "signed":
            return f"cells: {a} − {b} (red: A larger, blue: B larger)"
        return f"cells: {a} · circles: {b} on the same scale, size ∝ |A − B|"
    if kind == "stability":
        centre = "white" if opts.white_center else "mean − k·spread"
        return f"cells: mean · circles ∝ spread, fill {centre} (centre) → mean + k·spread"
    return "cells: mean over checkpoints · lines: value at each checkpoint, left to right"


def _figure(
    kind: str,
    chans: dict[str, np.ndarray],
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str,
    note: str,
    gamma: float,
    scale_max: float,
    mask: np.ndarray | None,
    opts: AnalysisOptions,
) -> Figure:
    base = chans["base"]
    q, k = base.shape
    signed = kind == "compare" and opts.mode == "signed"
    if signed:
        delta = chans["delta"]
        top = float(np.abs(delta).max()) or 1.0
        snorm = Normalize(vmin=-top, vmax=top, clip=True)
        cmap = opts.diverging_cmap
        assert cmap is not None
        rgb = np.ascontiguousarray(cmap(snorm(delta), bytes=True)[..., :3])
        if mask is not None:
            rgb[mask] = MASK_RGB
        norm: Normalize = snorm
    else:
        cmap = opts.cmap
        norm = power_norm(scale_max, gamma)
        rgb = colorize(base, norm, cmap, mask)
    bar_w = signed_bar_extent(norm) if signed else colorbar_extent(norm)  # type: ignore[arg-type]
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]

    def labels(unit: float) -> tuple[float, list[int], list[int], float, float, float]:
        """Font, shown labels, label extents and the left edge of the matrix."""
        font = label_font_size(unit)
        pitch = font * LABEL_PITCH
        q_shown = pick_labels((np.arange(q) + 0.5) * unit, pitch)
        k_shown = pick_labels((np.arange(k) + 0.5) * unit, pitch)
        ylab = text_width([q_labels[i] for i in q_shown], font)
        xlab = text_width([k_labels[j] for j in k_shown], font)
        left = MARGIN + (AXIS_TITLE_H if opts.ylabel else 0.0) + ylab + LABEL_GAP
        return font, q_shown, k_shown, ylab, xlab, left

    def content_width(unit: float) -> float:
        return labels(unit)[5] + k * unit + 10.0 + bar_w + MARGIN

    if opts.size is not None:
        unit = min(MAX_CELL_PT, opts.size * 72.0 / max(q, k))  # points per cell
    else:
        assert opts.width is not None
        unit = fit_unit(content_width, opts.width * 72.0, MAX_CELL_PT)
    font, q_shown, k_shown, ylab, xlab, left = labels(unit)
    width, height = k * unit, q * unit
    content_w = content_width(unit)
    target = opts.width * 72.0 if opts.width is not None else content_w
    if opts.width_given:
        page_w = max(content_w, target)
    else:
        longest = text_width([title], 9.5) + 2 * MARGIN
        page_w = max(
            content_w, min(max(longest, text_width([note], NOTE_FONT) + 2 * MARGIN), target)
        )
    left += (page_w - content_w) / 2
    lines = title_lines(title, page_w - 2 * MARGIN)
    notes = title_lines(note, page_w - 2 * MARGIN, NOTE_FONT)
    head = MARGIN + title_height(lines) + 2.0 + title_height(notes, NOTE_FONT) + 4.0
    top = head + (AXIS_TITLE_H if opts.xlabel else 0.0) + xlab + LABEL_GAP
    bar_x = left + width + 10.0
    bar_h = max(height, 72.0)
    page = Page(page_w, top + bar_h + MARGIN)
    draw_title(page, page_w / 2, MARGIN, lines)
    draw_title(page, page_w / 2, MARGIN + title_height(lines) + 2.0, notes, NOTE_FONT, "#555555")
    ax = page.axes(left, top, width, height)
    ax.imshow(
        rgb,
        extent=(0, k, q, 0),
        interpolation="none",
        resample=False,
        aspect="auto",
        origin="upper",
    )
    ax.set_xlim(0, k)
    ax.set_ylim(q, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    _labels(page, left, top, unit, font, q_labels, k_labels, q_shown, k_shown)
    _axis_titles(page, opts, left, top, width, height, ylab, head)
    keep = np.ones((q, k), dtype=bool) if mask is None else ~mask
    radius_scale = opts.max_radius / MAX_RADIUS
    if kind == "compare" and not signed:
        compare_circles(ax, chans, norm, cmap, scale_max, keep, unit, radius_scale)  # type: ignore[arg-type]
    elif kind == "stability":
        stability_circles(
            ax,
            chans,
            norm,  # type: ignore[arg-type]
            cmap,
            scale_max,
            keep,
            rgb,
            rings=opts.rings,
            unit=unit,
            radius_scale=radius_scale,
            white_center=opts.white_center,
        )
    elif kind == "evolution":
        sparklines(ax, chans["series"], rgb, keep, unit)
    if signed:
        signed_colorbar(page, bar_x, top, bar_h, norm, cmap)
    else:
        colorbar(page, bar_x, top, bar_h, norm, cmap, gamma)  # type: ignore[arg-type]
    return page.fig


def _axis_titles(
    page: Page,
    opts: AnalysisOptions,
    left: float,
    top: float,
    width: float,
    height: float,
    ylab: float,
    head: float,
) -> None:
    style_ = {"fontsize": AXIS_TITLE_FONT, "color": "#444444"}
    if opts.xlabel:
        page.text(left + width / 2, head, opts.xlabel, ha="center", va="top", **style_)
    if opts.ylabel:
        x = left - LABEL_GAP - ylab - AXIS_TITLE_H
        page.text(x, top + height / 2, opts.ylabel, ha="left", va="center", rotation=90, **style_)


def _labels(
    page: Page,
    px: float,
    py: float,
    unit: float,
    font: float,
    q_labels: list[str],
    k_labels: list[str],
    q_shown: list[int],
    k_shown: list[int],
) -> None:
    """Token labels left of (queries) and above (keys) the matrix, thinned as the heatmap's."""
    marks: list[list[tuple[float, float]]] = []
    for j in k_shown:
        x = px + (j + 0.5) * unit
        marks.append([(x, py), (x, py - TICK_PT)])
        page.text(
            x, py - LABEL_GAP, k_labels[j], rotation=90, ha="center", va="bottom", fontsize=font
        )
    for i in q_shown:
        y = py + (i + 0.5) * unit
        marks.append([(px, y), (px - TICK_PT, y)])
        page.text(px - LABEL_GAP, y, q_labels[i], ha="right", va="center_baseline", fontsize=font)
    page.segments(marks, colors="#333333", linewidths=0.4)
