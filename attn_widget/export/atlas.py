"""The head atlas as a figure: one score over layer × head, with values, and the top heads.

The page holds a labelled heatmap of ``scores[score_name]`` (a row per
layer, a column per head, each cell's value printed in it, the top heads
framed), its colour bar, and a thumbnail of each top head's attention drawn
from the source the score was measured on (the case where that head scores
highest among the cases the scores kept). Standalone: it takes a
:class:`~attn_widget.analysis.HeadScores` and returns PDF bytes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Colormap, Normalize
from matplotlib.ticker import MaxNLocator

from ..data import max_pool
from .common import (
    COLORBAR_FONT,
    COLORBAR_WIDTH,
    HIGHLIGHT,
    MARGIN,
    MASK_RGB,
    TITLE_FONT,
    Page,
    check_int,
    check_size,
    check_title,
    colorize,
    get_cmap,
    luminance,
    power_norm,
    style,
    text_width,
)
from .formats import check_format, save_figure

__all__ = ["atlas_figure", "render_atlas_pdf"]

MAX_CELL_PT = 26.0
MIN_VALUE_FONT = 4.0
MAX_VALUE_FONT = 7.0
AXIS_FONT = 7.0
NOTE_FONT = 6.5
THUMB_TITLE_FONT = 6.5
MAX_THUMB_PT = 110.0
MAX_THUMB_PIXELS = 128  # larger matrices are max-pooled (a strong cell stays visible)
GAP_PT = 8.0


def _value_text(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _thumbnail_case(scores: Any, name: str, layer: int, head: int) -> tuple[Any, int, int] | None:
    """(source, case in the source, index in the corpus) of the head's best kept case."""
    found = scores.source_for(name)
    if found is None:
        return None
    source, indices = found
    position = {index: c for c, index in enumerate(indices)}
    for index, _ in scores.examples(name, layer, head):
        if index in position:
            return source, position[index], index
    per_case = (
        scores.per_case.get(name) if scores.per_case and name not in scores.score_sources else None
    )
    if per_case is not None and np.isfinite(per_case[:, layer, head]).any():
        best = int(np.nanargmax(per_case[:, layer, head]))
        return source, best, indices[best]
    return source, 0, indices[0]


def _thumbnail(source: Any, layer: int, head: int, case: int, cmap: Colormap) -> np.ndarray:
    matrix = np.asarray(source.matrix(layer, head, case), dtype=np.float32)
    q, k = matrix.shape
    fq, fk = math.ceil(q / MAX_THUMB_PIXELS), math.ceil(k / MAX_THUMB_PIXELS)
    causal = bool(source.is_causal(case)) and fq == fk == 1
    pooled = max_pool(matrix, fq, fk)
    mask = np.triu(np.ones(pooled.shape, dtype=bool), 1) if causal else None
    rgb = colorize(pooled, power_norm(float(pooled.max()), 1.0), cmap, None)
    if mask is not None:
        rgb[mask] = MASK_RGB
    return rgb


def atlas_figure(
    scores: Any,
    score_name: str,
    *,
    top: int = 6,
    cmap: Colormap,
    values: bool = True,
    title: str | None = None,
    size: float = 6.5,
) -> Any:
    """The atlas figure (call inside :func:`common.style`)."""
    grid = np.asarray(scores[score_name], dtype=np.float64)
    n_layers, n_heads = grid.shape
    order = scores.order(score_name)[:top]
    width_pt = size * 72.0
    row_label_w = text_width([str(n_layers - 1)], AXIS_FONT) + 4.0
    axis_title_w = AXIS_FONT * 1.4
    left = MARGIN + axis_title_w + row_label_w
    low = min(0.0, float(grid.min()))
    high = max(float(grid.max()), low + 1e-9)
    norm = Normalize(vmin=low, vmax=high)
    ticks = [float(t) for t in MaxNLocator(nbins=5).tick_values(low, high)]
    ticks = [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]
    tick_labels = [f"{t:.4g}" for t in ticks]
    bar_extent = COLORBAR_WIDTH + 3.5 + text_width(tick_labels, COLORBAR_FONT) + 4.0 + 9.0
    cell = min(MAX_CELL_PT, (width_pt - left - 10.0 - bar_extent - MARGIN) / n_heads)
    cell = max(cell, 2.0)
    value_font = min(MAX_VALUE_FONT, cell / 3.2)
    show_values = values and value_font >= MIN_VALUE_FONT
    grid_w, grid_h = n_heads * cell, n_layers * cell

    heading = title or f"{score_name} per layer × head"
    definition = scores.definitions.get(score_name, "")
    counted = f"{scores.counts.get(score_name, scores.n_cases)} case(s)"
    note = scores.notes.get(score_name)
    lines = [definition, counted + (f"; {note}" if note else "")]
    top_y = MARGIN + TITLE_FONT * 1.4 + len(lines) * NOTE_FONT * 1.35 + 6.0
    head_label_h = AXIS_FONT * 1.3
    grid_y = top_y + AXIS_FONT * 1.4 + head_label_h

    found_cases = [(la, h, _thumbnail_case(scores, score_name, la, h)) for la, h in order]
    picked = [(la, h, found) for la, h, found in found_cases if found is not None]
    thumb_rows = 0
    thumb = 0.0
    per_row = 0
    if picked:
        per_row = min(len(picked), 6)
        thumb = min(MAX_THUMB_PT, (width_pt - 2 * MARGIN - (per_row - 1) * GAP_PT) / per_row)
        thumb_rows = math.ceil(len(picked) / per_row)
    thumbs_y = grid_y + grid_h + 16.0
    thumb_block = thumb_rows * (thumb + THUMB_TITLE_FONT * 2.8 + GAP_PT)
    missing_line = not picked and top > 0
    height = thumbs_y + thumb_block + (NOTE_FONT * 2 if missing_line else 0.0) + MARGIN
    page = Page(width_pt, height)

    page.text(MARGIN, MARGIN, heading, ha="left", va="top", fontsize=TITLE_FONT)
    for i, line in enumerate(lines):
        page.text(
            MARGIN,
            MARGIN + TITLE_FONT * 1.4 + i * NOTE_FONT * 1.35,
            line,
            ha="left",
            va="top",
            fontsize=NOTE_FONT,
            color="#444444",
        )

    # the grid: one image, a pixel per head, then values and frames on top
    ax = page.axes(left, grid_y, grid_w, grid_h)
    ax.set_axis_off()
    rgba = cmap(norm(grid), bytes=True)[..., :3]
    ax.imshow(rgba, extent=(0, grid_w, grid_h, 0), interpolation="none", aspect="auto")
    ax.set_xlim(0, grid_w)
    ax.set_ylim(grid_h, 0)
    page.text(left + grid_w / 2, top_y, "head", ha="center", va="top", fontsize=AXIS_FONT)
    for h in range(n_heads):
        page.text(
            left + (h + 0.5) * cell,
            grid_y - 2.0,
            str(h),
            ha="center",
            va="bottom",
            fontsize=AXIS_FONT if cell >= 9 else max(4.0, cell * 0.8),
        )
    page.text(
        MARGIN,
        grid_y + grid_h / 2,
        "layer",
        ha="left",
        va="center",
        rotation=90,
        fontsize=AXIS_FONT,
    )
    for layer in range(n_layers):
        page.text(
            left - 3.0,
            grid_y + (layer + 0.5) * cell,
            str(layer),
            ha="right",
            va="center_baseline",
            fontsize=AXIS_FONT if cell >= 9 else max(4.0, cell * 0.8),
        )
    if show_values:
        for layer in range(n_layers):
            for h in range(n_heads):
                shade = luminance(rgba[layer, h])
                page.text(
                    left + (h + 0.5) * cell,
                    grid_y + (layer + 0.5) * cell,
                    _value_text(float(grid[layer, h])),
                    ha="center",
                    va="center_baseline",
                    fontsize=value_font,
                    color="#111111" if shade > 0.45 else "#ffffff",
                )
    frames = [
        [
            (h * cell, la * cell),
            ((h + 1) * cell, la * cell),
            ((h + 1) * cell, (la + 1) * cell),
            (h * cell, (la + 1) * cell),
            (h * cell, la * cell),
        ]
        for la, h in order
    ]
    if frames:
        ax.add_collection(LineCollection(frames, colors=HIGHLIGHT, linewidths=1.0))

    cax = page.axes(left + grid_w + 10.0, grid_y, COLORBAR_WIDTH, grid_h)
    bar = page.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    bar.set_ticks(ticks, labels=tick_labels)
    bar.outline.set_linewidth(0.4)
    bar.ax.tick_params(labelsize=COLORBAR_FONT, width=0.4, length=2, pad=1.5)
    bar.set_label(score_name, fontsize=COLORBAR_FONT + 0.5, labelpad=3)

    if picked:
        page.text(
            MARGIN,
            thumbs_y - 4.0,
            f"top {len(picked)} heads by {score_name}",
            ha="left",
            va="bottom",
            fontsize=AXIS_FONT,
        )
    for rank, (layer, head, found) in enumerate(picked):
        source, case, index = found
        r, c = divmod(rank, per_row)
        x = MARGIN + c * (thumb + GAP_PT)
        y = thumbs_y + THUMB_TITLE_FONT * 2.8 + r * (thumb + THUMB_TITLE_FONT * 2.8 + GAP_PT)
        image = _thumbnail(source, layer, head, case, cmap)
        rows_px, cols_px = image.shape[:2]
        scale = thumb / max(rows_px, cols_px)
        tw, th = cols_px * scale, rows_px * scale
        tax = page.axes(x, y, tw, th)
        tax.imshow(image, interpolation="none", aspect="auto")
        tax.set_xticks([])
        tax.set_yticks([])
        for spine in tax.spines.values():
            spine.set_linewidth(0.4)
        page.text(
            x,
            y - THUMB_TITLE_FONT * 1.45,
            f"#{rank + 1} L{layer} H{head}: {_value_text(float(grid[layer, head]))}",
            ha="left",
            va="bottom",
            fontsize=THUMB_TITLE_FONT,
        )
        page.text(
            x,
            y - 1.5,
            f"case {index}",
            ha="left",
            va="bottom",
            fontsize=THUMB_TITLE_FONT - 1,
            color="#555555",
        )
    if missing_line:
        page.text(
            MARGIN,
            thumbs_y,
            "no attention source kept with these scores: thumbnails left out",
            ha="left",
            va="top",
            fontsize=NOTE_FONT,
            color="#444444",
        )
    return page.fig


def render_atlas_pdf(
    scores: Any,
    score_name: str,
    *,
    top: int = 6,
    cmap: str | Colormap = "viridis",
    values: bool = True,
    title: str | None = None,
    size: float = 6.5,
    format: str = "pdf",
    dpi: float | None = None,
) -> bytes:
    """The atlas of one score as PDF bytes (same input, same bytes); ``format="svg"``/``"png"``.

    ``scores``: a :class:`~attn_widget.analysis.HeadScores`; ``score_name``
    one of its scores (an unknown or missing one is a ValueError naming the
    known ones). ``top`` heads (0..24) get a frame in the grid and a
    thumbnail; ``values`` prints each cell's value when it fits; ``size`` is
    the page width in inches; ``dpi`` is the PNG resolution (300 by default).
    """
    fmt = check_format(format)
    if dpi is not None and fmt != "png":
        raise ValueError(f"dpi: only for PNG files; format is {fmt!r}")
    grid = scores[score_name]  # unknown / missing names raise here, with the known ones
    top = check_int("top", top, 0, 24)
    if not isinstance(values, bool):
        raise ValueError(f"values: expected True or False, got {values!r}")
    size = check_size("size", size, 2.0, 40.0)
    title = check_title(title)
    colours = get_cmap(cmap)
    top = min(top, int(np.asarray(grid).size))
    with style():
        fig = atlas_figure(
            scores, score_name, top=top, cmap=colours, values=values, title=title, size=size
        )
        return save_figure(fig, fmt, title or f"{score_name} per layer × head", dpi)
