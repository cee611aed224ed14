"""Grid figure: many heatmaps of one case on one shared colour scale, one colour bar.

Panels: every layer x every head (the view's overview grid; a row per layer),
the head mean of every layer (``heads="mean"``, the default when the view is
on the head mean), or every head of one layer (``layers="current"``, the layer
given to render_pdf). Positions past the last
panel stay empty (nothing is drawn there, not even a frame).

All panels live in one Axes whose data unit is a point: creating an Axes per
panel costs ~15 ms each, which alone would blow the 3 s budget of a 12 x 12
grid. Each panel is an unsampled image (one pixel per cell) at its place.

Size: the whole figure is ``width`` inches wide (7 by default, a double
journal column); ``size`` instead sets the width of the panels alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from .common import (
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    MASK_RGB,
    MIN_FONT,
    Page,
    check_causal,
    check_int,
    check_size,
    check_title,
    check_width,
    colorbar,
    colorbar_extent,
    colorize,
    draw_title,
    get_cmap,
    label_text,
    pick_labels,
    power_norm,
    text_width,
    title_height,
    title_lines,
)
from .titles import head_name, layer_name, parts_title

__all__ = ["GRID_OPTIONS", "GridOptions", "grid_figure", "grid_panels", "parse_grid_options"]

GRID_OPTIONS = ("cmap", "heads", "layers", "per_row", "causal", "width", "size", "title")

DEFAULT_WIDTH = 7.0  # inches: the whole figure, a double journal column
MAX_CELL_PT = 12.0
MAX_PANEL_PT = 150.0
GAP_PT = 6.0
TITLE_PT = 11.0  # room above each panel for its title
PANEL_TITLE_FONT = MIN_FONT
MIN_GRID_FONT = MIN_FONT
MAX_GRID_FONT = 7.5
# Labels are drawn when every token fits, or at least this many do (else they
# would be a sparse, unhelpful sprinkle on tiny panels).
MIN_LABELS = 8


@dataclass(frozen=True)
class GridOptions:
    cmap: Colormap
    heads: str = "all"  # "all" | "mean"
    layers: str = "all"  # "all" | "current"
    per_row: int | None = None
    causal: bool | None = None
    width: float | None = DEFAULT_WIDTH  # inches, the whole figure (at most, unless given)
    width_given: bool = False  # the page is exactly `width` wide
    size: float | None = None  # inches, the panels alone (instead of width)
    title: str | None = None


def parse_grid_options(
    options: Mapping[str, Any], q: int, k: int, head: int | None = 0
) -> GridOptions:
    """Validate grid options; a ValueError says what is allowed.

    ``heads`` defaults to what the view shows: ``"mean"`` when ``head`` is
    None (the view is on the head mean), else ``"all"``.
    """
    unknown = sorted(set(options) - set(GRID_OPTIONS))
    if unknown:
        raise ValueError(
            f"grid: unknown option(s) {', '.join(unknown)}; allowed: " + ", ".join(GRID_OPTIONS)
        )
    heads = options.get("heads")
    if heads is None:
        heads = "mean" if head is None else "all"
    if heads not in ("all", "mean"):
        raise ValueError(
            f"heads: expected 'all' (a panel per head) or 'mean' (the head mean), got {heads!r}"
        )
    layers = options.get("layers", "all")
    if layers not in ("all", "current"):
        raise ValueError(
            f"layers: expected 'all' (every layer) or 'current' (only layer=), got {layers!r}"
        )
    per_row = options.get("per_row")
    if per_row is not None:
        per_row = check_int("per_row", per_row, 1, 64)
    causal = check_causal(options.get("causal"), q, k)
    title = check_title(options.get("title"))
    width, width_given = check_width(options, DEFAULT_WIDTH)
    size = options.get("size")
    if size is not None:
        if width_given:
            raise ValueError("size: the panels' width in inches, or width: the figure's; not both")
        size = check_size("size", size, 1.0, 40.0)
        width = None
    return GridOptions(
        cmap=get_cmap(options.get("cmap", "viridis")),
        heads=heads,
        layers=layers,
        per_row=per_row,
        causal=causal,
        width=width,
        width_given=width_given,
        size=size,
        title=title,
    )


def grid_panels(
    n_layers: int,
    n_heads: int,
    layer: int,
    opts: GridOptions,
    meta: Mapping[str, Any] | None = None,
) -> tuple[list[tuple[int, int | None, str]], int]:
    """``[(layer, head or None, panel title), ...]`` and the panels per row.

    Panel titles use the model's layer and head numbers (``meta["layers"]``,
    ``meta["heads"]``, see :mod:`.titles`) when the source holds a slice.
    """
    meta = meta or {}
    layers = range(n_layers) if opts.layers == "all" else [layer]

    def short(lay: int, h: int) -> str:
        return f"L{layer_name(meta, lay).split()[1]} · H{head_name(meta, h).split()[1]}"

    panels: list[tuple[int, int | None, str]]
    if opts.heads == "mean":
        panels = [
            (lay, None, layer_name(meta, lay) if opts.layers == "all" else "head mean")
            for lay in layers
        ]
        return panels, opts.per_row or 4
    if opts.layers == "current":
        panels = [(layer, h, head_name(meta, h)) for h in range(n_heads)]
        return panels, opts.per_row or 4
    panels = [(lay, h, short(lay, h)) for lay in layers for h in range(n_heads)]
    # The full grid reads as a table: a row per layer unless told otherwise.
    return panels, opts.per_row or n_heads


def grid_title(
    case: int,
    layer: int,
    opts: GridOptions,
    meta: Mapping[str, Any] | None = None,
    n_cases: int = 1,
) -> str:
    """E.g. ``gpt2 · head mean of every layer`` (``· case 1`` with several cases)."""
    meta = meta or {}
    if opts.layers == "current":
        what = "head mean" if opts.heads == "mean" else "every head"
        parts = [layer_name(meta, layer), what]
    else:
        parts = ["head mean of every layer" if opts.heads == "mean" else "every layer × head"]
    if n_cases > 1:
        parts.append(f"case {case}")
    return parts_title(meta, *parts)


def grid_figure(
    matrices: Sequence[np.ndarray],
    titles: Sequence[str],
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    per_row: int,
    title: str,
    gamma: float,
    opts: GridOptions,
    causal: bool,
) -> Figure:
    """The grid figure (call inside :func:`common.style`)."""
    n = len(matrices)
    q, k = matrices[0].shape
    cols = min(per_row, n)
    rows = math.ceil(n / cols)
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]
    vmax = max(float(m.max()) for m in matrices)
    norm = power_norm(vmax, gamma)

    def layout(cell: float) -> tuple[float, list[int], list[int], float, float]:
        """Font, shown labels, and the y-label and x-label extents for cells of ``cell`` pt."""
        font = min(MAX_GRID_FONT, max(MIN_GRID_FONT, cell / LABEL_PITCH))
        pitch = font * LABEL_PITCH
        q_shown = _readable(q, cell, pitch)
        k_shown = _readable(k, cell, pitch)
        ylab = text_width([q_labels[i] for i in q_shown], font) + LABEL_GAP if q_shown else 0.0
        xlab = text_width([k_labels[j] for j in k_shown], font) + LABEL_GAP if k_shown else 0.0
        return font, q_shown, k_shown, ylab, xlab

    largest = min(MAX_CELL_PT, MAX_PANEL_PT / max(q, k))
    if opts.size is not None:
        cell = min(largest, (opts.size * 72.0 - (cols - 1) * GAP_PT) / (cols * max(q, k)))
    else:
        assert opts.width is not None
        fixed = MARGIN + 10.0 + colorbar_extent(norm) + MARGIN + (cols - 1) * GAP_PT
        # The labels' extent depends on the cell size: one pass with the labels
        # the widest cells would show, then once more with those of the result.
        cell = largest
        for _ in range(3):
            room = opts.width * 72.0 - fixed - layout(cell)[3]
            cell = max(0.1, min(largest, room / (cols * max(q, k))))
    font, q_shown, k_shown, ylab, xlab = layout(cell)
    pw, ph = k * cell, q * cell
    gap_v = TITLE_PT + GAP_PT / 2
    width = cols * pw + (cols - 1) * GAP_PT
    height = rows * (ph + gap_v) - gap_v + TITLE_PT
    content_w = MARGIN + ylab + width + 10.0 + colorbar_extent(norm) + MARGIN
    page_w = content_w
    if opts.width is not None and opts.width_given:
        page_w = max(content_w, opts.width * 72.0)
    dx = (page_w - content_w) / 2
    left = MARGIN + ylab + dx
    lines = title_lines(title, page_w - 2 * MARGIN)
    top = MARGIN + title_height(lines) + 4.0
    bar_x = left + width + 10.0
    bar_h = max(72.0, min(height - TITLE_PT, 300.0))
    page = Page(page_w, top + max(height + xlab, TITLE_PT + bar_h) + MARGIN)
    # One Axes for every panel, its data unit a point (see the module docstring).
    ax = page.axes(left, top, width, height)
    ax.set_axis_off()

    mask = np.triu(np.ones((q, k), dtype=bool), 1) if causal else None
    # One colour pass over every panel at once is cheaper than one per panel.
    rgb = colorize(np.stack(matrices), norm, opts.cmap, None)
    if mask is not None:
        rgb[:, mask] = MASK_RGB
    lowest = {c: max(p for p in range(n) if p % cols == c) for c in range(cols)}
    frames = []
    for p in range(n):
        r, c = divmod(p, cols)
        x, y = c * (pw + GAP_PT), r * (ph + gap_v) + TITLE_PT
        ax.imshow(
            rgb[p],
            extent=(x, x + pw, y + ph, y),
            interpolation="none",
            resample=False,
            aspect="auto",
            origin="upper",
        )
        frames.append([(x, y), (x + pw, y), (x + pw, y + ph), (x, y + ph), (x, y)])
        page.text(
            left + x + pw / 2,
            top + y - 2.0,
            titles[p],
            ha="center",
            va="bottom",
            fontsize=PANEL_TITLE_FONT,
            color="#333333",
        )
        if c == 0:
            for i in q_shown:
                page.text(
                    left + x - LABEL_GAP,
                    top + y + (i + 0.5) * cell,
                    q_labels[i],
                    ha="right",
                    va="center_baseline",
                    fontsize=font,
                )
        if lowest[c] == p:
            for j in k_shown:
                page.text(
                    left + x + (j + 0.5) * cell,
                    top + y + ph + LABEL_GAP,
                    k_labels[j],
                    ha="center",
                    va="top",
                    rotation=90,
                    fontsize=font,
                )
    # Frames as one collection: empty grid positions get none.
    ax.add_collection(LineCollection(frames, colors="#333333", linewidths=0.4))
    ax.set_xlim(0.0, width)
    ax.set_ylim(height, 0.0)
    colorbar(page, bar_x, top + TITLE_PT, bar_h, norm, opts.cmap, gamma)
    draw_title(page, page_w / 2, MARGIN, lines)
    return page.fig


def _readable(n: int, cell: float, pitch: float) -> list[int]:
    """Labels for one axis of a panel, or none when too few would fit to be useful."""
    fit = n * cell / pitch
    if fit < min(n, MIN_LABELS) * (1 - 1e-9):
        return []
    return pick_labels((np.arange(n) + 0.5) * cell, pitch)
