"""The heatmap's table of top cells: rank, ``query (i) → key (j)``, value.

Drawn when the top cells' values do not fit inside their cells (long inputs),
beside the colour bar or below the matrix. Positions are printed too: long
inputs repeat tokens, and papers cite positions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .common import Page, format_value, text_width
from .heatmap_marks import TABLE_FONT, TABLE_PITCH, Drawing

__all__ = ["Table", "draw_table", "top_table"]

HEADER = "top cells (query → key)"
MAX_ROWS = 24  # below the matrix: at most this many lines, then "… n more"


@dataclass(frozen=True)
class Table:
    rows: list[tuple[str, str, str]]
    rank_w: float
    pair_w: float
    value_w: float

    @property
    def width(self) -> float:
        return 12.0 + self.rank_w + 4.0 + self.pair_w + 6.0 + self.value_w

    @property
    def height(self) -> float:
        return (len(self.rows) + 1) * TABLE_PITCH


def top_table(d: Drawing, height: float) -> Table | None:
    """The table for ``d`` in at most ``height`` points (None when values fit in their cells)."""
    if d.values_inside or not d.top or not d.opts.show_values:
        return None
    fit = max(1, min(MAX_ROWS, int(height // TABLE_PITCH) - 1))  # one line for the header
    rows = [
        (
            f"{rank}",
            f"{d.q_labels[i]} ({i + d.origin[0]}) → {d.k_labels[j]} ({j + d.origin[1]})",
            format_value(float(d.matrix[i, j])),
        )
        for rank, (i, j) in enumerate(d.top, start=1)
    ]
    if len(rows) > fit:
        rows = [*rows[: fit - 1], ("", f"… {len(rows) - fit + 1} more", "")]
    return Table(
        rows=rows,
        rank_w=text_width([r for r, _, _ in rows], TABLE_FONT),
        pair_w=text_width([p for _, p, _ in rows] + [HEADER], TABLE_FONT),
        value_w=text_width([v for _, _, v in rows], TABLE_FONT),
    )


def draw_table(page: Page, table: Table, x: float, y: float) -> None:
    """The table with its top-left corner (before its 12 pt indent) at ``x, y``."""
    x += 12.0
    page.text(x, y, HEADER, ha="left", va="top", fontsize=TABLE_FONT, color="#555555")
    for n, (rank, pair, value) in enumerate(table.rows, start=1):
        line = y + n * TABLE_PITCH
        page.text(x + table.rank_w, line, rank, ha="right", va="top", fontsize=TABLE_FONT)
        page.text(x + table.rank_w + 4.0, line, pair, ha="left", va="top", fontsize=TABLE_FONT)
        page.text(
            x + table.rank_w + 4.0 + table.pair_w + 6.0 + table.value_w,
            line,
            value,
            ha="right",
            va="top",
            fontsize=TABLE_FONT,
        )
