"""The split heatmap (``split_panels=True``): the whole matrix beside its four blocks.

A→A, A→B, B→A, B→B on one colour scale, each block where it is in the
matrix (A→B top right: A's queries attending to B's keys), so labels are
shared along rows and columns. Each block's title gives the share of its
rows' attention that it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from .common import (
    LABEL_GAP,
    MARGIN,
    MIN_FONT,
    NOTE_FONT,
    Page,
    colorbar,
    colorbar_extent,
    draw_title,
    text_width,
    title_height,
    title_lines,
)
from .heatmap_marks import Drawing, draw_panel
from .heatmap_table import Table, draw_table, top_table

__all__ = ["split_figure", "split_width"]

PANEL_FONT = 8.0
ROW_TITLE = PANEL_FONT * 1.3 + 3.0  # one line of block titles (two when they must wrap)
GAP_H, GAP_V = 8.0, ROW_TITLE + 4.0  # between blocks; the lower blocks' titles sit in GAP_V
NOTE = "X → Y: queries in X attending to keys in Y; % = share of X's attention that goes to Y"


@dataclass
class _Frame:
    left: float
    x_blocks: float
    bar_x: float
    content_w: float
    table: Table | None
    table_beside: bool


def _frame(d: Drawing, norm: PowerNorm, room: float | None) -> _Frame:
    from .heatmap import AXIS_TITLE_H, label_extent

    ylab, _ = label_extent(d)
    width = d.cols.total * d.unit
    height = d.rows.total * d.unit
    left = MARGIN + (AXIS_TITLE_H if d.opts.ylabel else 0.0) + ylab + LABEL_GAP
    x_blocks = left + width + 18.0 + ylab + LABEL_GAP
    bar_x = x_blocks + width + GAP_H + 12.0
    content_w = bar_x + colorbar_extent(norm) + MARGIN
    table = top_table(d, max(height + GAP_V, 72.0))
    beside = table is not None and (room is None or content_w + table.width <= room)
    if table is not None and beside:
        content_w += table.width
    return _Frame(left, x_blocks, bar_x, content_w, table, beside)


def split_width(d: Drawing, norm: PowerNorm) -> float:
    """Page width the split figure needs (the table moves below when it does not fit)."""
    room = d.opts.width * 72.0 if d.opts.width is not None else None
    return _frame(d, norm, room).content_w


def _block_titles(
    d: Drawing, names: tuple[str, str], shares: list[str], widths: list[float]
) -> tuple[list[list[str]], str]:
    """Each block's title lines, and what the note must add.

    ``question → context · 53%`` when every title fits over its block; else
    ``A → B · 53%`` (the note says which is A and B); else that on two lines.
    """
    pairs = ((0, 0), (0, 1), (1, 0), (1, 1))

    def fits(lines: list[list[str]]) -> bool:
        return all(
            text_width(block, PANEL_FONT) <= width + GAP_H - 2.0
            for block, width in zip(lines, widths, strict=True)
        )

    full = [
        [f"{names[a]} → {names[b]} · {share}"] for (a, b), share in zip(pairs, shares, strict=True)
    ]
    if fits(full):
        return full, ""
    letters = ("A", "B")
    short = [
        [f"{letters[a]} → {letters[b]} · {share}"]
        for (a, b), share in zip(pairs, shares, strict=True)
    ]
    legend = f"A = {names[0]}, B = {names[1]}; " if names != letters else ""
    if fits(short):
        return short, legend
    return [
        [f"{letters[a]} → {letters[b]}", share] for (a, b), share in zip(pairs, shares, strict=True)
    ], legend


def split_figure(
    d: Drawing,
    norm: PowerNorm,
    gamma: float,
    title: str,
    page_w: float | None,
    width_in: float | None,
) -> Figure:
    from .heatmap import AXIS_TITLE_H, draw_axis_titles, label_extent

    s = d.opts.split
    assert s is not None
    name_a, name_b = d.opts.split_names
    q, k = d.matrix.shape
    u = d.unit
    width, height = d.cols.total * u, d.rows.total * u
    wa, ha = d.cols.edges[s] * u, d.rows.edges[s] * u
    room = width_in * 72.0 if width_in is not None else None
    f = _frame(d, norm, room)
    if page_w is None:
        page_w = f.content_w
    dx = max(0.0, (page_w - f.content_w) / 2)
    totals = d.matrix.sum(axis=1)
    blocks = (((0, s), (0, s)), ((0, s), (s, k)), ((s, q), (0, s)), ((s, q), (s, k)))
    shares, widths = [], []
    for rows, cols in blocks:
        mass = float(d.matrix[rows[0] : rows[1], cols[0] : cols[1]].sum())
        whole_rows = float(totals[rows[0] : rows[1]].sum())
        shares.append(f"{100.0 * mass / whole_rows:.0f}%" if whole_rows > 0 else "–")
        widths.append((d.cols.edges[cols[1]] - d.cols.edges[cols[0]]) * u)
    block_titles, legend = _block_titles(d, (name_a, name_b), shares, widths)
    row_title = max(len(t) for t in block_titles) * PANEL_FONT * 1.3 + 3.0
    gap_v = row_title + 4.0  # the lower blocks' titles sit in this gap
    lines = title_lines(title, page_w - 2 * MARGIN)
    notes = title_lines(legend + NOTE, page_w - 2 * MARGIN, NOTE_FONT, sep="; ")
    _, xlab = label_extent(d)
    head = MARGIN + title_height(lines) + 6.0
    axis_h = AXIS_TITLE_H if d.opts.xlabel else 0.0
    top = head + axis_h + row_title + xlab + LABEL_GAP
    bar_h = max(height + gap_v, 72.0)
    note_y = top + bar_h + 6.0
    table_y = note_y + title_height(notes, NOTE_FONT) + 6.0
    below = f.table is not None and not f.table_beside
    page_h = (table_y + f.table.height if below and f.table else table_y) + MARGIN
    page = Page(page_w, page_h)
    left, x_blocks, bar_x = f.left + dx, f.x_blocks + dx, f.bar_x + dx
    if f.table is not None:
        if f.table_beside:
            draw_table(page, f.table, bar_x + colorbar_extent(norm), top)
        else:
            draw_table(page, f.table, left, table_y)
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
        fontsize=PANEL_FONT,
    )
    offsets = ((0.0, 0.0), (wa + GAP_H, 0.0), (0.0, ha + gap_v), (wa + GAP_H, ha + gap_v))
    for (rows, cols), (bx, by), block_title, w in zip(
        blocks, offsets, block_titles, widths, strict=True
    ):
        x, y = x_blocks + bx, top + by
        draw_panel(page, d, x, y, rows, cols, rows[0] == 0, cols[0] == 0)
        y_title = above if rows[0] == 0 else y - 3.0
        page.text(
            x + w / 2,
            y_title,
            "\n".join(block_title),
            ha="center",
            va="bottom",
            fontsize=max(MIN_FONT, PANEL_FONT),
            linespacing=1.3,
        )
    draw_title(page, page_w / 2, MARGIN, lines)
    draw_axis_titles(page, d, left, top, width, height, head)
    colorbar(page, bar_x, top, bar_h, norm, d.opts.cmap, gamma)
    draw_title(page, page_w / 2, note_y, notes, NOTE_FONT, color="#555555")
    return page.fig
