"""The marks of the analysis figures: compare and stability circles, sparklines, signed bar.

Cell coordinates: one data unit is one cell; ``x`` grows right (keys) and
``y`` down (queries), as the view. Every mark of one colour is one compound
path (not one object per circle or line): matplotlib's per-path state
handling was the whole render time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import Colormap, Normalize, PowerNorm
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from .common import COLORBAR_FONT, COLORBAR_WIDTH, Page, luminance, text_width, tick_label

__all__ = [
    "compare_circles",
    "signed_bar_extent",
    "signed_colorbar",
    "sparklines",
    "stability_circles",
]

DARK_LINE, LIGHT_LINE = "#111111", "#ffffff"
SPARK_MARGIN = 0.12  # of the cell side, around a sparkline
_UNIT_CIRCLE = Path.unit_circle()


def _disc_paths(rows: np.ndarray, cols: np.ndarray, radius: np.ndarray) -> Path:
    """All circles as one compound path in cell units (built in numpy, written once)."""
    unit = np.asarray(_UNIT_CIRCLE.vertices, dtype=np.float64)
    codes = _UNIT_CIRCLE.codes
    assert codes is not None
    verts = unit[None, :, :] * radius[:, None, None]
    verts = verts + np.column_stack([cols + 0.5, rows + 0.5])[:, None, :]
    return Path(verts.reshape(-1, 2), np.tile(codes, rows.size))


def _circles(
    ax: Axes,
    rows: np.ndarray,
    cols: np.ndarray,
    radius: np.ndarray,
    colours: np.ndarray,
    **kw: Any,
) -> None:
    """Filled circles at cell centres (``radius`` in cells); ``colours`` RGBA, one per circle.

    Circles of one colour become one compound path, so the PDF holds one fill
    per colour instead of one object per circle. Circles of different cells
    never overlap, so grouping keeps the picture.
    """
    if rows.size == 0:
        return
    # Colours quantised to the 8 bits every format stores, so equal-looking fills group.
    keys = np.round(np.asarray(colours, dtype=np.float64) * 255).astype(np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    paths = [
        _disc_paths(rows[inverse == g], cols[inverse == g], radius[inverse == g])
        for g in range(len(unique))
    ]
    ax.add_collection(
        PathCollection(paths, facecolors=unique / 255.0, transform=ax.transData, **kw)
    )


def _lut_colours(cmap: Colormap, normed: np.ndarray) -> np.ndarray:
    """``cmap(normed)`` as RGBA rows (matplotlib's own lookup rule)."""
    return np.asarray(cmap(np.asarray(normed, dtype=np.float64)))


def compare_circles(
    ax: Axes,
    chans: dict[str, np.ndarray],
    norm: PowerNorm,
    cmap: Colormap,
    scale_max: float,
    keep: np.ndarray,
    unit: float,
    radius_scale: float,
) -> None:
    """A circle filled with B's colour in each cell, sized by ``|A − B|`` (none where A = B)."""
    radius = np.clip(chans["radius"] * radius_scale, 0.0, 0.5)
    rows, cols = np.nonzero((radius > 0) & keep)
    b = np.clip(chans["b"][rows, cols], 0.0, max(scale_max, 0.0))
    # A hairline ring keeps a circle visible where B's colour matches A's.
    _circles(
        ax,
        rows,
        cols,
        radius[rows, cols],
        _lut_colours(cmap, norm(b)),
        edgecolors="#ffffff",
        linewidths=min(0.4, unit * 0.04),
    )


def stability_circles(
    ax: Axes,
    chans: dict[str, np.ndarray],
    norm: PowerNorm,
    cmap: Colormap,
    scale_max: float,
    keep: np.ndarray,
    rgb: np.ndarray,
    *,
    rings: int,
    unit: float,
    radius_scale: float,
    white_center: bool,
) -> None:
    """Discs from the outside in: the edge is ``high``'s colour, the centre ``low``'s.

    ``white_center`` fades from white at the centre to ``high``'s colour at
    the edge instead. Each circle has an outline that contrasts with its
    cell (white on dark cells, near black on light ones), so a circle whose
    colours match its cell's stays visible.
    """
    radius = np.clip(chans["radius"] * radius_scale, 0.0, 0.5)
    rows, cols = np.nonzero((radius > 0) & keep)
    if rows.size == 0:
        return
    r = radius[rows, cols]
    top = max(scale_max, 0.0)
    low = np.clip(chans["low"][rows, cols], 0.0, top)
    high = np.clip(chans["high"][rows, cols], 0.0, top)
    edge = _lut_colours(cmap, norm(high))
    for ring in range(rings, 0, -1):  # outermost first, so inner discs paint over it
        t = (ring - 1) / (rings - 1) if rings > 1 else 0.5
        if white_center:
            colour = (1.0 - t) * np.ones_like(edge) + t * edge
        else:
            colour = _lut_colours(cmap, norm(low + t * (high - low)))
        _circles(ax, rows, cols, r * ring / rings, colour, edgecolors="none", linewidths=0.0)
    dark = np.array([luminance(c) < 0.5 for c in rgb[rows, cols]])
    width = max(0.35, min(0.8, unit * 0.03))
    for on_dark, outline in ((True, LIGHT_LINE), (False, DARK_LINE)):
        pick = dark == on_dark
        if pick.any():
            ax.add_collection(
                PathCollection(
                    [_disc_paths(rows[pick], cols[pick], r[pick])],
                    facecolors="none",
                    edgecolors=outline,
                    linewidths=width,
                    transform=ax.transData,
                )
            )


def sparklines(
    ax: Axes, series: np.ndarray, rgb: np.ndarray, keep: np.ndarray, unit: float
) -> None:
    """One polyline per cell: ``x`` across the cell, ``y`` up with the series."""
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return
    steps = series.shape[2]
    s = np.clip(series[rows, cols], 0.0, 1.0)  # (cells, steps)
    span = 1.0 - 2.0 * SPARK_MARGIN
    t = np.linspace(0.0, 1.0, steps) if steps > 1 else np.array([0.5])
    x = cols[:, None] + SPARK_MARGIN + span * t[None, :]
    y = rows[:, None] + 1.0 - SPARK_MARGIN - span * s  # y grows down
    if steps == 1:  # a single point: a short flat line
        x = np.concatenate([x - span / 2, x + span / 2], axis=1)
        y = np.concatenate([y, y], axis=1)
    lines = np.stack([x, y], axis=-1)  # (cells, points, 2)
    cell_rgb = rgb[rows, cols].astype(np.float64) / 255.0
    dark_cell = cell_rgb @ np.array([0.2126, 0.7152, 0.0722]) < 0.5
    points = lines.shape[1]
    paths, colours = [], []
    for on_dark, colour in ((False, DARK_LINE), (True, LIGHT_LINE)):
        pick = dark_cell == on_dark
        if not pick.any():
            continue
        codes = np.full(points, Path.LINETO, dtype=Path.code_type)
        codes[0] = Path.MOVETO
        count = int(pick.sum())
        paths.append(Path(lines[pick].reshape(-1, 2), np.tile(codes, count)))
        colours.append(colour)
    ax.add_collection(
        PathCollection(
            paths,
            facecolors="none",
            edgecolors=colours,
            linewidths=max(0.25, min(1.2, unit * 0.05)),
            capstyle="round",
            joinstyle="round",
            transform=ax.transData,
        )
    )


def _signed_ticks(norm: Normalize) -> list[float]:
    top = float(norm.vmax) if norm.vmax is not None else 1.0
    values = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], symmetric=True).tick_values(-top, top)
    return [float(v) for v in values if abs(v) <= top * (1 + 1e-9)]


def signed_bar_extent(norm: Normalize) -> float:
    labels = [tick_label(t) for t in _signed_ticks(norm)]
    return (
        COLORBAR_WIDTH + 3.5 + text_width(labels, COLORBAR_FONT) + 3.0 + 1.3 * (COLORBAR_FONT + 0.5)
    )


def signed_colorbar(
    page: Page, x: float, y: float, height: float, norm: Normalize, cmap: Colormap
) -> None:
    from matplotlib.cm import ScalarMappable

    cax = page.axes(x, y, COLORBAR_WIDTH, height)
    bar = page.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    ticks = _signed_ticks(norm)
    bar.set_ticks(ticks, labels=[tick_label(t) for t in ticks])
    bar.outline.set_linewidth(0.4)
    bar.ax.tick_params(labelsize=COLORBAR_FONT, width=0.4, length=2, pad=1.5)
    bar.set_label("A − B", fontsize=COLORBAR_FONT + 0.5, labelpad=3)
