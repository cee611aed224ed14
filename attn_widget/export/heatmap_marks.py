"""Heatmap figure marks: the panel image, token labels, regions, top cells, the selection.

Coordinates: one data unit is one "unit" of cell width; a normal cell is
``base`` units wide and an enlarged one ``round(factor * base)``, so every
mark is placed through the same cumulative edges (:class:`Axis`) whether or
not anything is enlarged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from .common import (
    HIGHLIGHT,
    LABEL_GAP,
    MIN_FONT,
    REGION_COLOR,
    TICK_PT,
    Page,
    format_value,
    luminance,
    text_width,
)
from .heatmap_options import HeatmapOptions

__all__ = ["Axis", "Drawing", "draw_panel", "selected", "value_font"]

# Printed values: smaller than this is unreadable, so the top cells get ranked
# markers and a table of their values instead.
MIN_VALUE_FONT = MIN_FONT
RANK_FONT = MIN_FONT
TABLE_FONT = MIN_FONT
TABLE_PITCH = 9.0
REGION_FONT = MIN_FONT


class Axis:
    """One matrix axis: cell widths in units, their edges and centres."""

    def __init__(self, n: int, enlarged: set[int], factor: float) -> None:
        base = 1
        if enlarged:
            # The smallest whole number of units per cell that shows the factor to
            # a quarter; cells stay whole pixels, so no cell is ever resampled.
            base = min(range(1, 5), key=lambda d: (abs(factor * d - round(factor * d)), d))
        self.base = base
        self.units = np.full(n, base, dtype=np.int64)
        if enlarged:
            self.units[sorted(enlarged)] = max(base + 1, round(factor * base))
        self.edges = np.concatenate([[0], np.cumsum(self.units)]).astype(np.float64)
        self.centres = (self.edges[:-1] + self.edges[1:]) / 2
        self.total = float(self.edges[-1])


@dataclass
class Drawing:
    """Everything a panel needs, computed once for the whole matrix."""

    matrix: np.ndarray
    rgb: np.ndarray
    rows: Axis
    cols: Axis
    unit: float  # points per unit
    q_labels: list[str]
    k_labels: list[str]
    q_shown: list[int]
    k_shown: list[int]
    font: float
    top: list[tuple[int, int]]
    selection: Mapping[str, Any] | None
    opts: HeatmapOptions
    origin: tuple[int, int] = (0, 0)  # matrix position of cell [0, 0]
    values_inside: bool = True  # every top value fits in its cell

    @property
    def enlarged(self) -> bool:
        return bool(
            (self.rows.units != self.rows.base).any() or (self.cols.units != self.cols.base).any()
        )


def selected(selection: Mapping[str, Any] | None, axis: str) -> list[int]:
    if not selection:
        return []
    if selection["kind"] == "cell":
        return [int(selection["q" if axis == "query" else "k"])]
    return [int(selection["index"])] if selection["kind"] == axis else []


def draw_panel(
    page: Page,
    d: Drawing,
    px: float,
    py: float,
    rows: tuple[int, int],
    cols: tuple[int, int],
    xlabels: bool,
    ylabels: bool,
) -> None:
    """Draw rows ``rows[0]:rows[1]`` x cols ``cols[0]:cols[1]`` with its top-left at ``px, py``."""
    (r0, r1), (c0, c1) = rows, cols
    x0, x1 = d.cols.edges[c0], d.cols.edges[c1]
    y0, y1 = d.rows.edges[r0], d.rows.edges[r1]
    ax = page.axes(px, py, (x1 - x0) * d.unit, (y1 - y0) * d.unit)
    image = d.rgb[r0:r1, c0:c1]
    if d.enlarged:
        image = np.repeat(image, d.rows.units[r0:r1], axis=0)
        image = np.repeat(image, d.cols.units[c0:c1], axis=1)
    # interpolation="none" is what makes the PDF backend embed the array as is
    # (one pixel per cell) and let the reader scale it; "nearest" resamples.
    ax.imshow(
        image,
        extent=(x0, x1, y1, y0),
        interpolation="none",
        resample=False,
        aspect="auto",
        origin="upper",
    )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    _draw_labels(page, d, px, py, rows, cols, xlabels, ylabels)
    for top, left, bottom, right, label in d.opts.regions:
        _draw_region(ax, d, top, left, bottom, right, label)
    _draw_top(ax, d, rows, cols)
    _draw_selection(ax, d)


def _draw_labels(
    page: Page,
    d: Drawing,
    px: float,
    py: float,
    rows: tuple[int, int],
    cols: tuple[int, int],
    xlabels: bool,
    ylabels: bool,
) -> None:
    """Token labels left of and above the panel: top cells' bold, the locked one highlighted."""
    top_q = {i for i, _ in d.top}
    top_k = {j for _, j in d.top}
    sel_q = set(selected(d.selection, "query"))
    sel_k = set(selected(d.selection, "key"))
    marks: list[list[tuple[float, float]]] = []
    if xlabels:
        for j in (j for j in d.k_shown if cols[0] <= j < cols[1]):
            x = px + (d.cols.centres[j] - d.cols.edges[cols[0]]) * d.unit
            marks.append([(x, py), (x, py - TICK_PT)])
            page.text(
                x,
                py - LABEL_GAP,
                d.k_labels[j],
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=d.font,
                **_label_style(j in sel_k, j in top_k),
            )
    if ylabels:
        for i in (i for i in d.q_shown if rows[0] <= i < rows[1]):
            y = py + (d.rows.centres[i] - d.rows.edges[rows[0]]) * d.unit
            marks.append([(px, y), (px - TICK_PT, y)])
            page.text(
                px - LABEL_GAP,
                y,
                d.q_labels[i],
                ha="right",
                va="center_baseline",
                fontsize=d.font,
                **_label_style(i in sel_q, i in top_q),
            )
    page.segments(marks, colors="#333333", linewidths=0.4)


def _label_style(selected: bool, top: bool) -> dict[str, Any]:
    if selected:
        return {"color": HIGHLIGHT, "fontweight": "bold"}
    return {"color": "#1a1a1a", "fontweight": "bold" if top else "normal"}


def _draw_region(
    ax: Axes, d: Drawing, top: int, left: int, bottom: int, right: int, label: str | None
) -> None:
    x, y = d.cols.edges[left], d.rows.edges[top]
    w, h = d.cols.edges[right] - x, d.rows.edges[bottom] - y
    ax.add_patch(
        Rectangle(
            (x, y), w, h, fill=False, edgecolor=REGION_COLOR, linewidth=1.2, joinstyle="miter"
        )
    )
    if label:
        # A white box rather than a stroked halo: path effects turn text into
        # outlines, and the label must stay text (searchable, extractable).
        ax.annotate(
            label,
            xy=(x, y),
            xytext=(2.0, -2.0),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=REGION_FONT,
            fontweight="bold",
            color=REGION_COLOR,
            bbox={
                "boxstyle": "square,pad=0.15",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
            annotation_clip=True,
            clip_on=True,
        )


def value_font(d: Drawing, i: int, j: int) -> float:
    """Font size at which cell ``(i, j)``'s value fits inside it (0 when it cannot)."""
    cell_w, cell_h = d.cols.units[j] * d.unit, d.rows.units[i] * d.unit
    size = min(8.0, cell_h * 0.6)
    width = text_width([format_value(float(d.matrix[i, j]))], size)
    if width > cell_w * 0.88:
        size *= cell_w * 0.88 / width
    return size if size >= MIN_VALUE_FONT else 0.0


def _draw_top(ax: Axes, d: Drawing, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Mark the top cells: the value printed inside, or (small cells) a ringed, ranked marker.

    Ranked markers go with the table of :func:`_top_table`; a rank number is
    put beside its marker only where it has room, since on long inputs top
    cells often cluster (attention sinks, the diagonal).
    """
    u = d.unit
    placed: list[tuple[float, float, float, float]] = []  # rank boxes, in points
    bounds = (
        d.cols.edges[cols[0]] * u,
        d.rows.edges[rows[0]] * u,
        d.cols.edges[cols[1]] * u,
        d.rows.edges[rows[1]] * u,
    )
    for rank, (i, j) in enumerate(d.top, start=1):
        if not (rows[0] <= i < rows[1] and cols[0] <= j < cols[1]):
            continue
        cx, cy = d.cols.centres[j], d.rows.centres[i]
        if d.values_inside:
            dark = luminance(d.rgb[i, j]) < 0.5
            ax.text(
                cx,
                cy,
                format_value(float(d.matrix[i, j])),
                ha="center",
                va="center",
                fontsize=value_font(d, i, j),
                color="white" if dark else "black",
                clip_on=True,
            )
            continue
        side = max(d.cols.units[j] * u, 5.0) / u
        for colour, lw in (("white", 1.4), ("black", 0.6)):
            ax.add_patch(
                Rectangle(
                    (cx - side / 2, cy - side / 2),
                    side,
                    side,
                    fill=False,
                    edgecolor=colour,
                    linewidth=lw,
                )
            )
        if d.opts.show_values:  # ranks point into the table of values
            _place_rank(ax, str(rank), cx, cy, side * u / 2, u, bounds, placed)


def _place_rank(
    ax: Axes,
    text: str,
    cx: float,
    cy: float,
    half: float,
    unit: float,
    bounds: tuple[float, float, float, float],
    placed: list[tuple[float, float, float, float]],
) -> None:
    """Put ``text`` right, left, above or below the marker: the first free spot, if any."""
    size = RANK_FONT
    w, h = text_width([text], size) + 1.0, size + 1.0
    px, py = cx * unit, cy * unit
    gap = half + 1.0
    spots = (  # offset (points, y up), alignment, box (points, y down)
        (gap, 0.0, "left", "center", (px + gap, py - h / 2, px + gap + w, py + h / 2)),
        (-gap, 0.0, "right", "center", (px - gap - w, py - h / 2, px - gap, py + h / 2)),
        (0.0, gap, "center", "bottom", (px - w / 2, py - gap - h, px + w / 2, py - gap)),
        (0.0, -gap, "center", "top", (px - w / 2, py + gap, px + w / 2, py + gap + h)),
    )

    def free(box: tuple[float, float, float, float]) -> bool:
        inside = (
            box[0] >= bounds[0]
            and box[1] >= bounds[1]
            and box[2] <= bounds[2]
            and box[3] <= bounds[3]
        )
        return inside and not any(
            box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed
        )

    spot = next((spot for spot in spots if free(spot[4])), None)
    if spot is None:
        return  # crowded: the table still lists it
    dx, dy, ha, va, box = spot
    placed.append(box)
    ax.annotate(
        text,
        xy=(cx, cy),
        xytext=(dx, dy),
        textcoords="offset points",
        ha=ha,
        va=va,
        fontsize=size,
        color="black",
        bbox={
            "boxstyle": "square,pad=0.1",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.85,
        },
    )


def _draw_selection(ax: Axes, d: Drawing) -> None:
    """Outline the locked row, column or cell, as the view does."""
    sel = d.selection
    if not sel:
        return
    rows, cols = d.rows, d.cols

    def row_box(i: int, **style: Any) -> None:
        ax.add_patch(
            Rectangle(
                (0, rows.edges[i]),
                cols.total,
                rows.edges[i + 1] - rows.edges[i],
                fill=False,
                edgecolor=HIGHLIGHT,
                **style,
            )
        )

    def col_box(j: int, **style: Any) -> None:
        ax.add_patch(
            Rectangle(
                (cols.edges[j], 0),
                cols.edges[j + 1] - cols.edges[j],
                rows.total,
                fill=False,
                edgecolor=HIGHLIGHT,
                **style,
            )
        )

    if sel["kind"] == "query":
        row_box(int(sel["index"]), linewidth=1.5)
    elif sel["kind"] == "key":
        col_box(int(sel["index"]), linewidth=1.5)
    else:
        i, j = int(sel["q"]), int(sel["k"])
        row_box(i, linewidth=0.8, alpha=0.55)
        col_box(j, linewidth=0.8, alpha=0.55)
        ax.add_patch(
            Rectangle(
                (cols.edges[j], rows.edges[i]),
                cols.edges[j + 1] - cols.edges[j],
                rows.edges[i + 1] - rows.edges[i],
                fill=False,
                edgecolor=HIGHLIGHT,
                linewidth=1.8,
            )
        )
