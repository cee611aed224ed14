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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..analysis.top import top_flat_indices
from .common import (
    HIGHLIGHT,
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    REGION_COLOR,
    TICK_PT,
    TITLE_FONT,
    Page,
    check_causal,
    check_int,
    check_size,
    check_title,
    colorbar,
    colorbar_extent,
    colorize,
    format_value,
    get_cmap,
    label_font_size,
    label_text,
    luminance,
    pick_labels,
    power_norm,
    text_width,
)

__all__ = ["HEATMAP_OPTIONS", "HeatmapOptions", "heatmap_figure", "parse_heatmap_options"]

HEATMAP_OPTIONS = (
    "cmap",
    "top_n",
    "enlarge",
    "regions",
    "split",
    "split_names",
    "split_panels",
    "causal",
    "size",
    "title",
    "window",
)

DEFAULT_CMAP = "viridis"  # perceptually uniform, and the view's map
DEFAULT_SIZE = 6.5  # inches: the matrix side; 64 tokens still get every label
MAX_CELL_PT = 24.0  # short inputs: cells no larger than this
DEFAULT_ENLARGE = 2.0
# Printed values: smaller than this is unreadable, so the top cells get ranked
# markers and a table of their values instead.
MIN_VALUE_FONT = 4.5
RANK_FONT = 5.5
TABLE_FONT = 6.5
TABLE_PITCH = 8.5


Region = tuple[int, int, int, int, "str | None"]
Window = tuple[int, int, int, int]  # half-open (q0, q1, k0, k1)


@dataclass(frozen=True)
class HeatmapOptions:
    cmap: Colormap
    top_n: int = 0
    enlarge: float = 1.0  # 1.0: off
    regions: tuple[Region, ...] = ()
    split: int | None = None
    split_names: tuple[str, str] = ("A", "B")
    split_panels: bool = False
    causal: bool | None = None  # None: mask when the data is causal
    size: float = DEFAULT_SIZE
    title: str | None = None
    window: Window | None = None  # None: the whole matrix


def _parse_window(value: Any, q: int, k: int) -> Window | None:
    """A zoomed view's rows and columns, half-open ``(q0, q1, k0, k1)`` inside the matrix."""
    if value is None:
        return None
    expected = (
        f"window: expected (q0, q1, k0, k1) with 0 <= q0 < q1 <= {q} and 0 <= k0 < k1 <= {k} "
        "(half-open rows and columns)"
    )
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 4:
        raise ValueError(f"{expected}, got {value!r}")
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{expected}, got {tuple(value)!r}")
    q0, q1, k0, k1 = (int(v) for v in value)
    if not (0 <= q0 < q1 <= q and 0 <= k0 < k1 <= k):
        raise ValueError(f"{expected}, got {(q0, q1, k0, k1)!r}")
    return q0, q1, k0, k1


def crop_to_window(
    opts: HeatmapOptions, selection: Mapping[str, Any] | None
) -> tuple[HeatmapOptions, Mapping[str, Any] | None]:
    """Regions and the selection in the window's coordinates; what lies outside is left out."""
    if opts.window is None:
        return opts, selection
    q0, q1, k0, k1 = opts.window
    regions: list[Region] = []
    for top, left, bottom, right, label in opts.regions:
        top, bottom = max(top, q0) - q0, min(bottom, q1) - q0
        left, right = max(left, k0) - k0, min(right, k1) - k0
        if top < bottom and left < right:
            regions.append((top, left, bottom, right, label))
    kept: Mapping[str, Any] | None = None
    if selection is not None:
        kind = selection["kind"]
        if kind == "query" and q0 <= selection["index"] < q1:
            kept = {"kind": kind, "index": selection["index"] - q0}
        elif kind == "key" and k0 <= selection["index"] < k1:
            kept = {"kind": kind, "index": selection["index"] - k0}
        elif kind == "cell" and q0 <= selection["q"] < q1 and k0 <= selection["k"] < k1:
            kept = {"kind": kind, "q": selection["q"] - q0, "k": selection["k"] - k0}
    return replace(opts, regions=tuple(regions)), kept


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _parse_regions(value: Any, q: int, k: int) -> tuple[Region, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(
            "regions: expected a list of (top, left, bottom, right) or "
            f"(top, left, bottom, right, label) tuples, got {value!r}"
        )
    parsed: list[Region] = []
    for i, region in enumerate(value):
        if isinstance(region, (str, bytes)) or not isinstance(region, Sequence):
            raise ValueError(
                f"regions[{i}]: expected (top, left, bottom, right[, label]), got {region!r}"
            )
        if len(region) not in (4, 5):
            raise ValueError(
                f"regions[{i}]: expected (top, left, bottom, right[, label]), got {region!r}"
            )
        try:
            top, left, bottom, right = (check_int("regions", int_, 0) for int_ in region[:4])
        except ValueError:
            raise ValueError(
                f"regions[{i}]: expected non-negative integer corners, got {tuple(region)!r}"
            ) from None
        if not (top < bottom <= q and left < right <= k):
            raise ValueError(
                f"regions[{i}]: {tuple(region[:4])} is outside the {q} x {k} matrix; regions are "
                f"half-open (top, left, bottom, right) with 0 <= top < bottom <= {q} and "
                f"0 <= left < right <= {k}"
            )
        label = region[4] if len(region) == 5 else None
        if label is not None and not isinstance(label, str):
            raise ValueError(f"regions[{i}]: the label must be a string, got {label!r}")
        parsed.append((top, left, bottom, right, label))
    return tuple(parsed)


def parse_heatmap_options(options: Mapping[str, Any], q: int, k: int) -> HeatmapOptions:
    """Validate heatmap options for a ``q x k`` matrix; a ValueError says what is allowed."""
    unknown = sorted(set(options) - set(HEATMAP_OPTIONS))
    if unknown:
        raise ValueError(
            f"heatmap: unknown option(s) {', '.join(unknown)}; allowed: "
            + ", ".join(HEATMAP_OPTIONS)
        )
    cmap = get_cmap(options.get("cmap", DEFAULT_CMAP))
    top_n = check_int("top_n", options.get("top_n", 0), 0)
    enlarge_value = options.get("enlarge", False)
    if enlarge_value is True:
        enlarge = DEFAULT_ENLARGE
    elif enlarge_value is False or enlarge_value is None:
        enlarge = 1.0
    else:
        enlarge = check_size("enlarge", enlarge_value, 1.0, 8.0)
    if enlarge > 1.0 and top_n == 0:
        raise ValueError(
            "enlarge: enlarges the rows and columns of the top cells, so it needs top_n >= 1"
        )
    split = options.get("split")
    if split is not None:
        if q != k:
            raise ValueError(
                f"split: needs a square (self-attention) matrix; this one is {q} x {k}"
            )
        split = check_int("split", split, 1, q - 1)
    names = options.get("split_names", ("A", "B"))
    if (
        isinstance(names, (str, bytes))
        or not isinstance(names, Sequence)
        or len(names) != 2
        or not all(isinstance(n, str) for n in names)
    ):
        raise ValueError(
            f"split_names: expected two strings, e.g. ('question', 'context'), got {names!r}"
        )
    split_panels = _check_bool("split_panels", options.get("split_panels", False))
    if split_panels and split is None:
        raise ValueError(
            "split_panels: needs split=<index> (1..N-1) to know where segment B starts"
        )
    causal = check_causal(options.get("causal"), q, k)
    title = check_title(options.get("title"))
    window = _parse_window(options.get("window"), q, k)
    if window is not None and split is not None:
        raise ValueError("split: draws the whole matrix, so it cannot go with window")
    return HeatmapOptions(
        cmap=cmap,
        top_n=top_n,
        enlarge=enlarge,
        regions=_parse_regions(options.get("regions"), q, k),
        split=split,
        split_names=(str(names[0]), str(names[1])),
        split_panels=split_panels,
        causal=causal,
        size=check_size("size", options.get("size", DEFAULT_SIZE), 1.0, 40.0),
        title=title,
        window=window,
    )


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


class _Axis:
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
class _Drawing:
    """Everything a panel needs, computed once for the whole matrix."""

    matrix: np.ndarray
    rgb: np.ndarray
    rows: _Axis
    cols: _Axis
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
    rows = _Axis(q, {i for i, _ in top} if factor > 1 else set(), factor)
    cols = _Axis(k, {j for _, j in top} if factor > 1 else set(), factor)
    size_pt = opts.size * 72.0
    share = 0.47 if opts.split_panels else 1.0  # the whole and the blocks side by side
    unit = min(MAX_CELL_PT / rows.base, size_pt * share / max(rows.total, cols.total))
    font = label_font_size(rows.base * unit)
    pitch = font * LABEL_PITCH
    sel_q = _selected(selection, "query")
    sel_k = _selected(selection, "key")
    top_rows = list(dict.fromkeys(i for i, _ in top))
    top_cols = list(dict.fromkeys(j for _, j in top))
    drawing = _Drawing(
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
    drawing.values_inside = all(_value_font(drawing, i, j) > 0 for i, j in top)
    if opts.split_panels:
        return _split_figure(drawing, norm, gamma, title)
    return _single_figure(drawing, norm, gamma, title)


def _selected(selection: Mapping[str, Any] | None, axis: str) -> list[int]:
    if not selection:
        return []
    if selection["kind"] == "cell":
        return [int(selection["q" if axis == "query" else "k"])]
    return [int(selection["index"])] if selection["kind"] == axis else []


def _label_extent(d: _Drawing) -> tuple[float, float]:
    """Widths in points of the widest y label and the tallest (rotated) x label."""
    marked = bool(d.top) or bool(d.selection)
    ylab = text_width([d.q_labels[i] for i in d.q_shown], d.font, bold=marked)
    xlab = text_width([d.k_labels[j] for j in d.k_shown], d.font, bold=marked)
    return ylab, xlab


def _single_figure(d: _Drawing, norm: PowerNorm, gamma: float, title: str) -> Figure:
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
    _draw_panel(page, d, left, top, (0, d.matrix.shape[0]), (0, d.matrix.shape[1]), True, True)
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


def _split_figure(d: _Drawing, norm: PowerNorm, gamma: float, title: str) -> Figure:
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
    _draw_panel(page, d, left, top, (0, q), (0, k), True, True)
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
        _draw_panel(page, d, x, y, rows, cols, rows[0] == 0, cols[0] == 0)
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


def _draw_panel(
    page: Page,
    d: _Drawing,
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
    d: _Drawing,
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
    sel_q = set(_selected(d.selection, "query"))
    sel_k = set(_selected(d.selection, "key"))
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
    ax: Axes, d: _Drawing, top: int, left: int, bottom: int, right: int, label: str | None
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
            fontsize=6.5,
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


def _value_font(d: _Drawing, i: int, j: int) -> float:
    """Font size at which cell ``(i, j)``'s value fits inside it (0 when it cannot)."""
    cell_w, cell_h = d.cols.units[j] * d.unit, d.rows.units[i] * d.unit
    size = min(8.0, cell_h * 0.6)
    width = text_width([format_value(float(d.matrix[i, j]))], size)
    if width > cell_w * 0.88:
        size *= cell_w * 0.88 / width
    return size if size >= MIN_VALUE_FONT else 0.0


def _draw_top(ax: Axes, d: _Drawing, rows: tuple[int, int], cols: tuple[int, int]) -> None:
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
                fontsize=_value_font(d, i, j),
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


def _top_table_rows(d: _Drawing, height: float) -> list[tuple[str, str, str]]:
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


def _top_table_width(d: _Drawing, height: float) -> float:
    if d.values_inside or not d.top:
        return 0.0
    rows = _top_table_rows(d, height)
    rank_w = text_width([r for r, _, _ in rows], TABLE_FONT)
    pair_w = text_width([p for _, p, _ in rows] + ["top cells (query → key)"], TABLE_FONT)
    value_w = text_width([v for _, _, v in rows], TABLE_FONT)
    return 12.0 + rank_w + 4.0 + pair_w + 6.0 + value_w


def _top_table(page: Page, d: _Drawing, x: float, y: float, height: float) -> None:
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


def _draw_selection(ax: Axes, d: _Drawing) -> None:
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
