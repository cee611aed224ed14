"""Heatmap figure: the matrix as one embedded image, vector text and marks around it.

Rows are query (attending) tokens, columns key (attended) tokens, as in the
view. The matrix is drawn as an RGB image with exactly one pixel per cell
(repeated whole pixels for enlarged rows and columns), placed unsampled: a
vector patch per cell is ten times slower and larger, and matplotlib's own
``imshow`` resampling drops cells on long inputs.

Coordinates: one data unit is one "unit" of cell width; a normal cell is
``base`` units wide and an enlarged one ``round(factor * base)``, so every
mark (regions, top cells, selection, splits) is placed through the same
cumulative edges whether or not anything is enlarged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ..analysis.top import top_flat_indices
from .common import (
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    TITLE_FONT,
    Page,
    colorbar,
    colorbar_extent,
    colorize,
    format_value,
    label_font_size,
    label_text,
    pick_labels,
    power_norm,
    text_width,
)
from .heatmap_marks import TABLE_FONT, TABLE_PITCH, Axis, Drawing, draw_panel, selected, value_font
from .heatmap_options import (
    HEATMAP_OPTIONS,
    HeatmapOptions,
    crop_to_window,
    parse_heatmap_options,
)

__all__ = [
    "HEATMAP_OPTIONS",
    "HeatmapOptions",
    "crop_to_window",
    "heatmap_figure",
    "parse_heatmap_options",
    "top_cells_of",
]

MAX_CELL_PT = 24.0  # short inputs: cells no larger than this


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
    size_pt = opts.size * 72.0
    share = 0.47 if opts.split_panels else 1.0  # the whole and the blocks side by side
    unit = min(MAX_CELL_PT / rows.base, size_pt * share / max(rows.total, cols.total))
    font = label_font_size(rows.base * unit)
    pitch = font * LABEL_PITCH
    sel_q = selected(selection, "query")
    sel_k = selected(selection, "key")
    top_rows = list(dict.fromkeys(i for i, _ in top))
    top_cols = list(dict.fromkeys(j for _, j in top))
    drawing = Drawing(
        matrix=matrix,
        rgb=rgb,
        rows=rows,
        cols=cols,
        unit=unit,
        q_labels=[label_text(t) for t in query_tokens],
        k_labels=[label_text(t) for t in key_tokens],
        q_shown=pick_labels(rows.centres * unit, pitch, [*sel_q, *top_rows]),
        k_shown=pick_labels(cols.centres * unit, pitch, [*sel_k, *top_cols]),
        font=font,
        top=top,
        selection=selection,
        opts=opts,
        origin=origin,
    )
    drawing.values_inside = all(value_font(drawing, i, j) > 0 for i, j in top)
    if opts.split_panels:
        return _split_figure(drawing, norm, gamma, title)
    return _single_figure(drawing, norm, gamma, title)


def _label_extent(d: Drawing) -> tuple[float, float]:
    """Widths in points of the widest y label and the tallest (rotated) x label."""
    marked = bool(d.top) or bool(d.selection)
    ylab = text_width([d.q_labels[i] for i in d.q_shown], d.font, bold=marked)
    xlab = text_width([d.k_labels[j] for j in d.k_shown], d.font, bold=marked)
    return ylab, xlab


def _single_figure(d: Drawing, norm: PowerNorm, gamma: float, title: str) -> Figure:
    width, height = d.cols.total * d.unit, d.rows.total * d.unit
    ylab, xlab = _label_extent(d)
    title_w = text_width([title], TITLE_FONT)
    left = MARGIN + ylab + LABEL_GAP
    top = MARGIN + TITLE_FONT * 1.3 + 4.0 + xlab + LABEL_GAP
    bar_x = left + width + 10.0
    bar_h = max(height, 72.0)
    table_x = bar_x + colorbar_extent(norm)
    page_w = max(
        table_x + _top_table_width(d, bar_h) + MARGIN, left + width / 2 + title_w / 2 + MARGIN
    )
    page = Page(page_w, top + bar_h + MARGIN)
    _top_table(page, d, table_x, top, bar_h)
    draw_panel(page, d, left, top, (0, d.matrix.shape[0]), (0, d.matrix.shape[1]), True, True)
    page.text(
        max(left + width / 2, MARGIN + title_w / 2),
        MARGIN,
        title,
        ha="center",
        va="top",
        fontsize=TITLE_FONT,
    )
    colorbar(page, bar_x, top, bar_h, norm, d.opts.cmap, gamma)
    return page.fig


def _split_figure(d: Drawing, norm: PowerNorm, gamma: float, title: str) -> Figure:
    """The whole matrix beside its four blocks A→A, A→B, B→A, B→B, on one colour scale.

    The blocks sit where they are in the matrix (A→B top right: A's queries
    attending to B's keys), so labels are shared along rows and columns.
    Each block's title gives the share of its rows' attention that it holds.
    """
    s = d.opts.split
    assert s is not None
    name_a, name_b = d.opts.split_names
    q, k = d.matrix.shape
    u = d.unit
    width, height = d.cols.total * u, d.rows.total * u
    wa, ha = d.cols.edges[s] * u, d.rows.edges[s] * u
    ylab, xlab = _label_extent(d)
    panel_font = 8.0
    row_title = panel_font * 1.3 + 3.0
    left = MARGIN + ylab + LABEL_GAP
    top = MARGIN + TITLE_FONT * 1.3 + 6.0 + row_title + xlab + LABEL_GAP
    gap_h, gap_v = 8.0, row_title + 4.0  # the lower blocks' titles sit in gap_v
    x_blocks = left + width + 18.0 + ylab + LABEL_GAP
    bar_x = x_blocks + width + gap_h + 12.0
    bar_h = max(height + gap_v, 72.0)
    note_y = top + max(height + gap_v, bar_h) + 6.0
    note = "X → Y: queries in X attending to keys in Y; % = share of X's attention that goes to Y"
    table_x = bar_x + colorbar_extent(norm)
    page_w = max(table_x + _top_table_width(d, bar_h), x_blocks + text_width([note], 6.5))
    page = Page(page_w + MARGIN, note_y + 6.5 * 1.3 + MARGIN)
    _top_table(page, d, table_x, top, bar_h)
    draw_panel(page, d, left, top, (0, q), (0, k), True, True)
    whole = page.fig.axes[-1]
    for draw_line, edges in ((whole.axhline, d.rows.edges), (whole.axvline, d.cols.edges)):
        draw_line(edges[s], color="white", linewidth=1.2)
    above = top - xlab - LABEL_GAP - 3.0
    page.text(
        left + width / 2,
        above,
        f"whole ({name_a} | {name_b})",
        ha="center",
        va="bottom",
        fontsize=panel_font,
    )
    totals = d.matrix.sum(axis=1)
    blocks = (
        ((0, s), (0, s), name_a, name_a, 0.0, 0.0),
        ((0, s), (s, k), name_a, name_b, wa + gap_h, 0.0),
        ((s, q), (0, s), name_b, name_a, 0.0, ha + gap_v),
        ((s, q), (s, k), name_b, name_b, wa + gap_h, ha + gap_v),
    )
    for rows, cols, src, dst, dx, dy in blocks:
        w = (d.cols.edges[cols[1]] - d.cols.edges[cols[0]]) * u
        x, y = x_blocks + dx, top + dy
        draw_panel(page, d, x, y, rows, cols, rows[0] == 0, cols[0] == 0)
        mass = float(d.matrix[rows[0] : rows[1], cols[0] : cols[1]].sum())
        whole_rows = float(totals[rows[0] : rows[1]].sum())
        share = f"{100.0 * mass / whole_rows:.0f}%" if whole_rows > 0 else "–"
        y_title = above if rows[0] == 0 else y - 3.0
        page.text(
            x + w / 2,
            y_title,
            f"{src} → {dst} · {share}",
            ha="center",
            va="bottom",
            fontsize=panel_font,
        )
    page.text((left + bar_x) / 2, MARGIN, title, ha="center", va="top", fontsize=TITLE_FONT)
    colorbar(page, bar_x, top, bar_h, norm, d.opts.cmap, gamma)
    page.text(x_blocks, note_y, note, ha="left", va="top", fontsize=6.5, color="#555555")
    return page.fig


def _top_table_rows(d: Drawing, height: float) -> list[tuple[str, str, str]]:
    """``(rank, "query → key", value)`` rows that fit in ``height`` points."""
    fit = max(1, int(height // TABLE_PITCH) - 1)  # one line for the header
    rows = [
        (
            f"{rank}",
            # Positions too: long inputs repeat tokens, and papers cite positions.
            f"{d.q_labels[i]} ({i + d.origin[0]}) → {d.k_labels[j]} ({j + d.origin[1]})",
            format_value(float(d.matrix[i, j])),
        )
        for rank, (i, j) in enumerate(d.top, start=1)
    ]
    if len(rows) > fit:
        rows = [*rows[: fit - 1], ("", f"… {len(rows) - fit + 1} more", "")]
    return rows


def _top_table_width(d: Drawing, height: float) -> float:
    if d.values_inside or not d.top:
        return 0.0
    rows = _top_table_rows(d, height)
    rank_w = text_width([r for r, _, _ in rows], TABLE_FONT)
    pair_w = text_width([p for _, p, _ in rows] + ["top cells (query → key)"], TABLE_FONT)
    value_w = text_width([v for _, _, v in rows], TABLE_FONT)
    return 12.0 + rank_w + 4.0 + pair_w + 6.0 + value_w


def _top_table(page: Page, d: Drawing, x: float, y: float, height: float) -> None:
    """The ranked list of top cells (query → key, value) at ``x, y``, for small cells."""
    if d.values_inside or not d.top:
        return
    rows = _top_table_rows(d, height)
    x += 12.0
    rank_w = text_width([r for r, _, _ in rows], TABLE_FONT)
    pair_w = text_width([p for _, p, _ in rows], TABLE_FONT)
    value_w = text_width([v for _, _, v in rows], TABLE_FONT)
    page.text(
        x, y, "top cells (query → key)", ha="left", va="top", fontsize=TABLE_FONT, color="#555555"
    )
    for n, (rank, pair, value) in enumerate(rows, start=1):
        line = y + n * TABLE_PITCH
        page.text(x + rank_w, line, rank, ha="right", va="top", fontsize=TABLE_FONT)
        page.text(x + rank_w + 4.0, line, pair, ha="left", va="top", fontsize=TABLE_FONT)
        page.text(
            x + rank_w + 4.0 + pair_w + 6.0 + value_w,
            line,
            value,
            ha="right",
            va="top",
            fontsize=TABLE_FONT,
        )
