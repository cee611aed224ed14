"""Grid of token-line pictures (``kind="lines_grid"``): one small lines figure per panel.

The panels are those of the heatmap grid (:func:`.grid.grid_panels`: every
layer x head, the head mean of every layer, or every head of one layer), each
drawn by the lines figure's rule (:func:`.lines.draw_links`: opacity
``(w / the panel's maximum) ** gamma``, weakest first). Query tokens label the
left of each row of panels and key tokens its right, where they fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from .common import (
    LABEL_GAP,
    LABEL_PITCH,
    LINE_COLOR,
    MARGIN,
    MIN_FONT,
    Page,
    check_int,
    check_size,
    check_title,
    check_width,
    draw_title,
    label_font_size,
    label_text,
    pick_labels,
    text_width,
    title_height,
    title_lines,
)
from .grid import GridOptions, parse_grid_options
from .lines import LinesOptions, draw_links, line_links

__all__ = [
    "LINES_GRID_OPTIONS",
    "LinesGridOptions",
    "lines_grid_figure",
    "parse_lines_grid_options",
]

LINES_GRID_OPTIONS = (
    "heads",
    "layers",
    "per_row",
    "top_k",
    "threshold",
    "color",
    "width",
    "title",
)
DEFAULT_WIDTH = 7.0  # inches
MAX_SPAN_PT = 160.0
MIN_SPAN_PT = 24.0
GAP_PT = 10.0
PANEL_TITLE = MIN_FONT
TITLE_ROOM = PANEL_TITLE * 1.3 + 2.0
MIN_LABELS = 8  # fewer labels than this (of more tokens) would only sprinkle


@dataclass(frozen=True)
class LinesGridOptions:
    grid: GridOptions  # heads, layers, per_row
    lines: LinesOptions  # top_k, threshold, color
    width: float = DEFAULT_WIDTH
    width_given: bool = False
    title: str | None = None


def parse_lines_grid_options(
    options: Mapping[str, Any], q: int, k: int, head: int | None = 0
) -> LinesGridOptions:
    """Validate lines-grid options; a ValueError says what is allowed."""
    unknown = sorted(set(options) - set(LINES_GRID_OPTIONS))
    if unknown:
        raise ValueError(
            f"lines_grid: unknown option(s) {', '.join(unknown)}; allowed: "
            + ", ".join(LINES_GRID_OPTIONS)
        )
    grid = parse_grid_options(
        {key: options[key] for key in ("heads", "layers", "per_row") if key in options}, q, k, head
    )
    top_k = options.get("top_k")
    try:
        color = to_rgb(options.get("color", LINE_COLOR))
    except ValueError:
        raise ValueError(
            f"color: expected a matplotlib colour such as '#1f5fae', got {options.get('color')!r}"
        ) from None
    lines = LinesOptions(
        top_k=None if top_k is None else check_int("top_k", top_k, 1),
        threshold=check_size("threshold", options.get("threshold", 0.0), 0.0, 1.0),
        color=color,
    )
    width, given = check_width(options, DEFAULT_WIDTH)
    assert width is not None
    return LinesGridOptions(grid, lines, width, given, check_title(options.get("title")))


def lines_grid_figure(
    matrices: Sequence[np.ndarray],
    titles: Sequence[str],
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    per_row: int,
    title: str,
    gamma: float,
    opts: LinesGridOptions,
) -> Figure:
    """The lines grid figure (call inside :func:`common.style`)."""
    count = len(matrices)
    q, k = matrices[0].shape
    n = max(q, k)
    cols = min(per_row, count)
    rows = math.ceil(count / cols)
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]
    target = opts.width * 72.0

    def labels(row: float) -> tuple[float, list[int], list[int], float, float]:
        font = label_font_size(row)
        pitch = font * LABEL_PITCH
        y_q = _centres(q, n, row)
        y_k = _centres(k, n, row)
        shown_q = _readable(y_q, pitch, q)
        shown_k = _readable(y_k, pitch, k)
        left_w = text_width([q_labels[i] for i in shown_q], font) + LABEL_GAP if shown_q else 0
        right_w = text_width([k_labels[j] for j in shown_k], font) + LABEL_GAP if shown_k else 0
        return font, shown_q, shown_k, float(left_w), float(right_w)

    def solve(with_labels: bool) -> tuple[float, float]:
        """Room per panel and row pitch, with or without token labels beside the rows."""
        room = MAX_SPAN_PT
        for _ in range(4):  # label extents depend on the row pitch, which follows the room
            row = _row_pitch(room, n)
            _, _, _, left_w, right_w = labels(row) if with_labels else (0, [], [], 0.0, 0.0)
            room = (target - 2 * MARGIN - left_w - right_w - (cols - 1) * GAP_PT) / cols
            room = max(MIN_SPAN_PT, min(MAX_SPAN_PT, room))
        return room, _row_pitch(room, n)

    room, row = solve(True)
    font, shown_q, shown_k, left_w, right_w = labels(row)
    needed = 2 * MARGIN + left_w + right_w + cols * room + (cols - 1) * GAP_PT
    if not (shown_q or shown_k) or needed > target + 0.5:
        # Too small to label (labels would not fit beside readable rows): the room
        # goes to the lines.
        room, row = solve(False)
        font, shown_q, shown_k, left_w, right_w = labels(row)
        shown_q = shown_k = []
        left_w = right_w = 0.0
    # Token-line pictures read best taller than wide (one picture per token column pair).
    span = max(MIN_SPAN_PT, min(room, n * row * 0.75))
    panel_h = n * row
    content_w = 2 * MARGIN + left_w + right_w + cols * span + (cols - 1) * GAP_PT
    page_w = max(content_w, target) if opts.width_given else content_w
    page_w = max(page_w, min(target, text_width([title], 9.5) + 2 * MARGIN))
    lines = title_lines(title, page_w - 2 * MARGIN)
    top = MARGIN + title_height(lines) + 4.0
    left = (page_w - content_w) / 2 + MARGIN + left_w
    step_y = TITLE_ROOM + panel_h + GAP_PT
    page = Page(page_w, top + rows * step_y - GAP_PT + MARGIN)
    ax = page.axes(left, top, cols * span + (cols - 1) * GAP_PT, rows * step_y - GAP_PT)
    ax.set_xlim(0.0, cols * span + (cols - 1) * GAP_PT)
    ax.set_ylim(rows * step_y - GAP_PT, 0.0)
    ax.set_axis_off()
    scale = 0.6 * min(1.0, max(0.2, row / 14.0))
    y_q, y_k = _centres(q, n, row), _centres(k, n, row)
    for p, matrix in enumerate(matrices):
        r, c = divmod(p, cols)
        x0 = c * (span + GAP_PT)
        y0 = r * step_y + TITLE_ROOM
        draw_links(
            ax,
            line_links(matrix, None, opts.lines),
            float(matrix.max()),
            y_q + y0,
            y_k + y0,
            x0=x0,
            x1=x0 + span,
            gamma=gamma,
            color=opts.lines.color,
            scale=scale,
        )
        page.text(
            left + x0 + span / 2,
            top + y0 - 2.0,
            titles[p],
            ha="center",
            va="bottom",
            fontsize=PANEL_TITLE,
            color="#333333",
        )
        last = c == cols - 1 or p == count - 1
        for shown, ys, labels_, x, ha, draw in (
            (shown_q, y_q, q_labels, left + x0 - LABEL_GAP, "right", c == 0),
            (shown_k, y_k, k_labels, left + x0 + span + LABEL_GAP, "left", last),
        ):
            if not draw:
                continue
            for index in shown:
                page.text(
                    x,
                    top + y0 + ys[index],
                    labels_[index],
                    ha=ha,
                    va="center_baseline",
                    fontsize=font,
                )
    draw_title(page, page_w / 2, MARGIN, lines)
    return page.fig


def _row_pitch(room: float, n: int) -> float:
    """Points between token rows: panels about 1.6 x as tall as the room for their lines."""
    return min(12.0, 1.6 * room / n)


def _centres(m: int, n: int, row: float) -> np.ndarray:
    """Row centres of ``m`` tokens in a column of ``n`` rows (the shorter one centred)."""
    return np.asarray((np.arange(m) + 0.5) * row + (n - m) * row / 2)


def _readable(centres: np.ndarray, pitch: float, m: int) -> list[int]:
    shown = pick_labels(centres, pitch)
    return shown if len(shown) >= min(m, MIN_LABELS) else []
