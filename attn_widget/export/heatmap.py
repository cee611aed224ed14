"""Heatmap figure: the matrix as one embedded image, vector text and marks around it.

Rows are query (attending) tokens, columns key (attended) tokens, as in the
view. The matrix is drawn as an RGB image with exactly one pixel per cell
(repeated whole pixels for enlarged rows and columns), placed unsampled: a
vector patch per cell is ten times slower and larger, and matplotlib's own
``imshow`` resampling drops cells on long inputs.

Size: the whole figure is at most ``width`` inches wide (7 by default, a
double journal column; exactly ``width`` when given): the cells take what the
labels, axis titles, colour bar and table leave, up to 24 pt a cell. ``size``
instead fixes the matrix side. The top-cells table goes beside the colour bar
when it fits there, else below the matrix.

Coordinates: one data unit is one "unit" of cell width; a normal cell is
``base`` units wide and an enlarged one ``round(factor * base)``, so every
mark (regions, top cells, selection, splits) is placed through the same
cumulative edges whether or not anything is enlarged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ..analysis.top import top_flat_indices
from .common import (
    AXIS_TITLE_FONT,
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    Page,
    colorbar,
    colorbar_extent,
    colorize,
    draw_title,
    fit_unit,
    label_font_size,
    label_text,
    pick_labels,
    power_norm,
    text_width,
    title_height,
    title_lines,
)
from .heatmap_marks import Axis, Drawing, draw_panel, selected, value_font
from .heatmap_options import (
    HEATMAP_OPTIONS,
    HeatmapOptions,
    crop_to_window,
    parse_heatmap_options,
    with_auto_regions,
)
from .heatmap_split import split_figure
from .heatmap_table import Table, draw_table, top_table

__all__ = [
    "HEATMAP_OPTIONS",
    "HeatmapOptions",
    "crop_to_window",
    "heatmap_figure",
    "parse_heatmap_options",
    "top_cells_of",
    "with_auto_regions",
]

MAX_CELL_PT = 24.0  # short inputs: cells no larger than this
BAR_GAP = 10.0  # matrix to colour bar
AXIS_TITLE_H = AXIS_TITLE_FONT * 1.3 + 2.0


def top_cells_of(
    matrix: np.ndarray, n: int, mask: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """The ``n`` largest unmasked cells, largest first; exactly ``n`` when that many exist.

    Ties are broken by row-major position (analysis.top's rule), so the same
    matrix always marks the same cells. Masked cells are never picked.
    """
    flat = matrix.astype(np.float64).reshape(-1)
    available = flat.size
    if mask is not None:
        # Weights are >= 0, so -1 sorts every masked cell below every real one.
        flat = np.where(mask.reshape(-1), -1.0, flat)
        available = int((~mask).sum())
    picked = top_flat_indices(flat, min(n, available))
    cols = matrix.shape[1]
    return [(int(i) // cols, int(i) % cols) for i in picked]


def heatmap_figure(
    matrix: np.ndarray,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str,
    gamma: float,
    selection: Mapping[str, Any] | None,
    opts: HeatmapOptions,
    causal: bool,
    origin: tuple[int, int] = (0, 0),
) -> Figure:
    """The heatmap figure (call inside :func:`common.style`).

    ``origin`` is the matrix position of cell ``[0, 0]`` when ``matrix`` is a
    window of a larger one: the causal mask and the printed positions use it.
    """
    q, k = matrix.shape
    # Key j + k0 is hidden from query i + q0 when it comes later.
    mask = np.triu(np.ones((q, k), dtype=bool), 1 + origin[0] - origin[1]) if causal else None
    norm = power_norm(float(matrix.max()), gamma)
    rgb = colorize(matrix, norm, opts.cmap, mask)
    top = top_cells_of(matrix, opts.top_n, mask)
    factor = opts.enlarge
    rows = Axis(q, {i for i, _ in top} if factor > 1 else set(), factor)
    cols = Axis(k, {j for _, j in top} if factor > 1 else set(), factor)
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]

    def drawing(unit: float) -> Drawing:
        font = label_font_size(rows.base * unit)
        pitch = font * LABEL_PITCH
        priority_q = [*selected(selection, "query"), *dict.fromkeys(i for i, _ in top)]
        priority_k = [*selected(selection, "key"), *dict.fromkeys(j for _, j in top)]
        every = opts.label_every
        d = Drawing(
            matrix=matrix,
            rgb=rgb,
            rows=rows,
            cols=cols,
            unit=unit,
            q_labels=q_labels,
            k_labels=k_labels,
            q_shown=pick_labels(rows.centres * unit, pitch, priority_q, every),
            k_shown=pick_labels(cols.centres * unit, pitch, priority_k, every),
            font=font,
            top=top,
            selection=selection,
            opts=opts,
            origin=origin,
        )
        d.values_inside = opts.show_values and all(value_font(d, i, j) > 0 for i, j in top)
        return d

    largest = MAX_CELL_PT / rows.base
    share = 0.47 if opts.split_panels else 1.0  # the whole and the blocks side by side
    if opts.size is not None:
        unit = min(largest, opts.size * 72.0 * share / max(rows.total, cols.total))
    else:
        assert opts.width is not None
        measure = _split_measure if opts.split_panels else _single_measure
        unit = fit_unit(lambda u: measure(drawing(u), norm), opts.width * 72.0, largest)
    d = drawing(unit)
    page_w = opts.width * 72.0 if opts.width_given and opts.width is not None else None
    if opts.split_panels:
        return split_figure(d, norm, gamma, title, page_w, opts.width)
    return _single_figure(d, norm, gamma, title, page_w)


def label_extent(d: Drawing) -> tuple[float, float]:
    """Widths in points of the widest y label and the tallest (rotated) x label."""
    marked = bool(d.top) or bool(d.selection)
    ylab = text_width([d.q_labels[i] for i in d.q_shown], d.font, bold=marked)
    xlab = text_width([d.k_labels[j] for j in d.k_shown], d.font, bold=marked)
    return ylab, xlab


@dataclass
class _Frame:
    """The single heatmap's layout in points (x before centring on the page)."""

    left: float
    width: float
    height: float
    bar_x: float
    content_w: float
    table: Table | None
    table_beside: bool


def _frame(d: Drawing, norm: PowerNorm, table_room: float | None) -> _Frame:
    ylab, _ = label_extent(d)
    left = MARGIN + (AXIS_TITLE_H if d.opts.ylabel else 0.0) + ylab + LABEL_GAP
    width, height = d.cols.total * d.unit, d.rows.total * d.unit
    bar_x = left + width + BAR_GAP
    content_w = bar_x + colorbar_extent(norm) + MARGIN
    table = top_table(d, max(height, 72.0))
    beside = table is not None and (table_room is None or content_w + table.width <= table_room)
    if table is not None and beside:
        content_w += table.width
    return _Frame(left, width, height, bar_x, content_w, table, beside)


def _single_measure(d: Drawing, norm: PowerNorm) -> float:
    """Page width the single heatmap needs (the table moves below when it does not fit)."""
    assert d.opts.width is not None
    target = d.opts.width * 72.0
    return _frame(d, norm, target).content_w


def _split_measure(d: Drawing, norm: PowerNorm) -> float:
    from .heatmap_split import split_width

    return split_width(d, norm)


def _single_figure(
    d: Drawing, norm: PowerNorm, gamma: float, title: str, page_w: float | None
) -> Figure:
    target = d.opts.width * 72.0 if d.opts.width is not None else None
    f = _frame(d, norm, target)
    title_w = text_width([title], 9.5)
    if page_w is None:
        # Room for the title on one line, within the width the figure may take.
        page_w = max(f.content_w, min(title_w + 2 * MARGIN, target or title_w + 2 * MARGIN))
    dx = max(0.0, (page_w - f.content_w) / 2)  # an exact width larger than needed: centre
    lines = title_lines(title, page_w - 2 * MARGIN)
    _, xlab = label_extent(d)
    head = MARGIN + title_height(lines) + 4.0
    top = head + (AXIS_TITLE_H if d.opts.xlabel else 0.0) + xlab + LABEL_GAP
    bar_h = max(f.height, 72.0)
    below = f.table is not None and not f.table_beside
    table_y = top + max(f.height, bar_h) + 10.0
    page_h = (table_y + f.table.height if below and f.table else top + bar_h) + MARGIN
    page = Page(page_w, page_h)
    left = f.left + dx
    if f.table is not None:
        if f.table_beside:
            draw_table(page, f.table, f.bar_x + dx + colorbar_extent(norm), top)
        else:
            draw_table(page, f.table, left, table_y)
    draw_panel(page, d, left, top, (0, d.matrix.shape[0]), (0, d.matrix.shape[1]), True, True)
    centre = left + f.width / 2
    half = max(text_width([line], 9.5) for line in lines) / 2
    centre = min(max(centre, MARGIN + half), page_w - MARGIN - half)
    draw_title(page, centre, MARGIN, lines)
    draw_axis_titles(page, d, left, top, f.width, f.height, head)
    colorbar(page, f.bar_x + dx, top, bar_h, norm, d.opts.cmap, gamma)
    return page.fig


def draw_axis_titles(
    page: Page, d: Drawing, left: float, top: float, width: float, height: float, head: float
) -> None:
    """``key`` above the column labels and ``query`` left of the row labels (xlabel, ylabel)."""
    if d.opts.xlabel:
        page.text(
            left + width / 2,
            head,
            d.opts.xlabel,
            ha="center",
            va="top",
            fontsize=AXIS_TITLE_FONT,
            color="#444444",
        )
    if d.opts.ylabel:
        ylab, _ = label_extent(d)
        page.text(
            left - LABEL_GAP - ylab - AXIS_TITLE_H,
            top + height / 2,
            d.opts.ylabel,
            ha="left",
            va="center",
            rotation=90,
            fontsize=AXIS_TITLE_FONT,
            color="#444444",
        )
