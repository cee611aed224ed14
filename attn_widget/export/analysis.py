"""PDF figures of the analysis views: compare, stability and evolution.

The figure is what the view draws for one slice (:mod:`attn_widget.views`):
the background matrix as one embedded image (one pixel per cell, as the
heatmap), and an overlay drawn as a single matplotlib collection, so even
128 x 128 tokens render in about a second:

* ``"compare"``: background A; a circle in each cell filled with B's colour on
  the same scale, radius ``radius`` x the cell side (none where A = B).
  ``mode="signed"`` draws the signed difference A − B on a diverging map
  centred at 0 instead.
* ``"stability"``: background the mean over runs; a circle sized by the
  spread whose fill runs from the colour of ``low`` (mean − k·spread) at the
  centre to that of ``high`` at the edge, approximated by ``rings``
  concentric discs, clamped to the colour scale.
* ``"evolution"``: background the mean over checkpoints; a sparkline across
  each cell (``series``, in [0, 1], drawn upward), dark or light for contrast.

Cell coordinates: one data unit is one cell; ``x`` grows right (keys) and
``y`` down (queries), as the view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import Colormap, Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from ..data import AttentionSource
from ..state import ViewState
from .common import (
    COLORBAR_FONT,
    COLORBAR_WIDTH,
    LABEL_GAP,
    LABEL_PITCH,
    MARGIN,
    MASK_RGB,
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
    get_cmap,
    label_font_size,
    label_text,
    pick_labels,
    power_norm,
    save_pdf,
    style,
    text_width,
    tick_label,
    title_for,
)

__all__ = ["ANALYSIS_KINDS", "ANALYSIS_OPTIONS", "CHANNELS", "render_analysis_pdf"]

ANALYSIS_KINDS = ("compare", "stability", "evolution")
# The channels each figure reads (views._Overlay.channels sends more).
CHANNELS: dict[str, tuple[str, ...]] = {
    "compare": ("base", "b", "radius", "delta"),
    "stability": ("base", "radius", "low", "high"),
    "evolution": ("base", "series"),
}
ANALYSIS_OPTIONS: dict[str, tuple[str, ...]] = {
    "compare": ("cmap", "causal", "size", "title", "mode", "diverging_cmap"),
    "stability": ("cmap", "causal", "size", "title", "rings"),
    "evolution": ("cmap", "causal", "size", "title"),
}
COMPARE_MODES = ("circles", "signed")

DEFAULT_CMAP = "viridis"
DEFAULT_DIVERGING = "RdBu_r"  # negative blue, positive red, white at 0
DEFAULT_SIZE = 6.5  # inches: the matrix side
MAX_CELL_PT = 48.0  # short inputs: room for circles and sparklines, no larger
DEFAULT_RINGS = 4
MAX_RADIUS = 0.5  # a circle never leaves its cell
SPARK_MARGIN = 0.12  # of the cell side, around a sparkline
NOTE_FONT = 6.5
DARK_LINE, LIGHT_LINE = "#111111", "#ffffff"


@dataclass(frozen=True)
class AnalysisOptions:
    cmap: Colormap
    causal: bool | None = None  # None: mask the upper triangle when the data is causal
    size: float = DEFAULT_SIZE
    title: str | None = None
    mode: str = "circles"
    diverging_cmap: Colormap | None = None
    rings: int = DEFAULT_RINGS


def _check_kind(kind: Any) -> str:
    if kind not in ANALYSIS_KINDS:
        raise ValueError(
            f"kind: expected one of {', '.join(repr(k) for k in ANALYSIS_KINDS)}; got {kind!r}"
        )
    return str(kind)


def parse_analysis_options(
    kind: str, options: Mapping[str, Any], q: int, k: int
) -> AnalysisOptions:
    """Validate the options of one analysis figure; a ValueError says what is allowed."""
    allowed = ANALYSIS_OPTIONS[kind]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{kind}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    mode = options.get("mode", "circles")
    if mode not in COMPARE_MODES:
        raise ValueError(f"mode: expected 'circles' or 'signed', got {mode!r}")
    causal = check_causal(options.get("causal"), q, k)
    title = check_title(options.get("title"))
    diverging = options.get("diverging_cmap")
    return AnalysisOptions(
        cmap=get_cmap(options.get("cmap", DEFAULT_CMAP)),
        causal=causal,
        size=check_size("size", options.get("size", DEFAULT_SIZE), 1.0, 40.0),
        title=title,
        mode=str(mode),
        diverging_cmap=get_cmap(diverging if diverging is not None else DEFAULT_DIVERGING),
        rings=check_int("rings", options.get("rings", DEFAULT_RINGS), 1, 16),
    )


def _check_channels(
    kind: str, channels: Mapping[str, Any], q: int, k: int, mode: str
) -> dict[str, np.ndarray]:
    """The channels the figure reads, as float32 arrays of the slice's shape."""
    if not isinstance(channels, Mapping):
        raise ValueError(
            f"channels: expected a mapping of {', '.join(CHANNELS[kind])} arrays, "
            f"got {type(channels).__name__}"
        )
    needed = CHANNELS[kind]
    if kind == "compare" and mode == "circles":
        needed = ("base", "b", "radius")
    elif kind == "compare":
        needed = ("base", "delta")
    missing = [name for name in needed if name not in channels]
    if missing:
        raise ValueError(
            f"channels: {kind} needs {', '.join(needed)}; missing {', '.join(missing)}"
        )
    out: dict[str, np.ndarray] = {}
    for name in needed:
        array = np.asarray(channels[name], dtype=np.float32)
        want = (q, k) if name != "series" else (q, k, "steps")
        ok = array.shape[:2] == (q, k) and array.ndim == (3 if name == "series" else 2)
        if name == "series" and ok:
            ok = array.shape[2] >= 1
        if not ok:
            raise ValueError(
                f"channels[{name!r}]: expected shape {want} for the {q} x {k} slice, "
                f"got {array.shape}"
            )
        out[name] = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def render_analysis_pdf(
    data: AttentionSource,
    kind: str,
    channels: Mapping[str, np.ndarray],
    *,
    layer: int = 0,
    head: int | None = 0,
    case: int = 0,
    gamma: float = 1.0,
    scale_max: float | None = None,
    n: int = 2,
    **options: Any,
) -> bytes:
    """One analysis figure of a slice as PDF bytes (one page; same input, same bytes).

    Parameters
    ----------
    data:
        The widget's data (tokens, the causal check); values come from ``channels``.
    kind:
        ``"compare"``, ``"stability"`` or ``"evolution"``.
    channels:
        What the view draws for the slice (:meth:`views._Overlay.channels`):
        compare ``base`` (A), ``b``, ``radius`` (fraction of the cell side),
        ``delta`` (A − B); stability ``base`` (mean), ``radius``, ``low``,
        ``high``; evolution ``base`` (mean) and ``series`` ``(q, k, steps)``
        in [0, 1]. Extra channels are ignored.
    layer, head, case:
        The slice, for the title and the tokens; ``head=None`` is the head mean.
    gamma:
        The view's contrast (``PowerNorm``) for background, circles and colour bar.
    scale_max:
        The colour scale's maximum, shared by background and circles
        (default: the background's maximum).
    n:
        The number of runs or checkpoints, for the title.

    Options
        ``cmap`` (default ``"viridis"``), ``causal`` (mask the upper triangle;
        default: when the data is causal), ``size`` (matrix side in inches,
        default 6.5), ``title``; compare also ``mode`` (``"circles"`` or
        ``"signed"``: the signed map A − B) and ``diverging_cmap`` (default
        ``"RdBu_r"``); stability also ``rings`` (discs approximating the
        radial gradient, 1..16, default 4).

    Unknown kinds, options or channels raise ``ValueError`` saying what is allowed.
    """
    kind = _check_kind(kind)
    state = ViewState(layer=layer, head=head, case=case, gamma=gamma).check(data)
    gamma = state.gamma
    n = check_int("n", n, 1)
    q, k = data.shape(case)
    opts = parse_analysis_options(kind, options, q, k)
    chans = _check_channels(kind, channels, q, k, opts.mode)
    if scale_max is None:
        scale_max = float(chans["base"].max())
    if not isinstance(scale_max, (int, float, np.number)) or not math.isfinite(scale_max):
        raise ValueError(f"scale_max: expected a finite number, got {scale_max!r}")
    causal = opts.causal if opts.causal is not None else data.is_causal(case)
    mask = np.triu(np.ones((q, k), dtype=bool), 1) if causal else None
    title = opts.title if opts.title is not None else _title(kind, opts, layer, head, case, n)
    with style():
        fig = _figure(
            kind,
            chans,
            data.query_tokens[case],
            data.tokens[case],
            title=title,
            note=_note(kind, opts, n),
            gamma=gamma,
            scale_max=float(scale_max),
            mask=mask,
            opts=opts,
        )
        return save_pdf(fig, title)


def _title(
    kind: str, opts: AnalysisOptions, layer: int, head: int | None, case: int, n: int
) -> str:
    name = "compare (A − B)" if kind == "compare" and opts.mode == "signed" else kind
    if kind == "stability":  # the spread's kind (sem or std) is not known here
        name = f"stability · mean ± spread over {n} runs"
    elif kind == "evolution":
        name = f"evolution over {n} checkpoints"
    return f"{name} · {title_for(layer, head, case)}"


def _note(kind: str, opts: AnalysisOptions, n: int) -> str:
    if kind == "compare":
        if opts.mode == "signed":
            return "cells: A − B (red: A larger, blue: B larger)"
        return "cells: A · circles: B on the same scale, size ∝ |A − B|"
    if kind == "stability":
        return "cells: mean · circles ∝ spread, fill mean − k·spread (centre) → mean + k·spread"
    return "cells: mean over checkpoints · lines: value at each checkpoint, left to right"


def _figure(
    kind: str,
    chans: dict[str, np.ndarray],
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str,
    note: str,
    gamma: float,
    scale_max: float,
    mask: np.ndarray | None,
    opts: AnalysisOptions,
) -> Figure:
    base = chans["base"]
    q, k = base.shape
    signed = kind == "compare" and opts.mode == "signed"
    if signed:
        delta = chans["delta"]
        top = float(np.abs(delta).max()) or 1.0
        snorm = Normalize(vmin=-top, vmax=top, clip=True)
        cmap = opts.diverging_cmap
        assert cmap is not None
        rgb = np.ascontiguousarray(cmap(snorm(delta), bytes=True)[..., :3])
        if mask is not None:
            rgb[mask] = MASK_RGB
        norm: Normalize = snorm
    else:
        cmap = opts.cmap
        norm = power_norm(scale_max, gamma)
        rgb = colorize(base, norm, cmap, mask)

    unit = min(MAX_CELL_PT, opts.size * 72.0 / max(q, k))  # points per cell
    font = label_font_size(unit)
    pitch = font * LABEL_PITCH
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]
    q_shown = pick_labels((np.arange(q) + 0.5) * unit, pitch)
    k_shown = pick_labels((np.arange(k) + 0.5) * unit, pitch)
    ylab = text_width([q_labels[i] for i in q_shown], font)
    xlab = text_width([k_labels[j] for j in k_shown], font)
    width, height = k * unit, q * unit
    title_w = text_width([title], TITLE_FONT)
    note_w = text_width([note], NOTE_FONT)
    left = MARGIN + ylab + LABEL_GAP
    top = MARGIN + TITLE_FONT * 1.3 + NOTE_FONT * 1.3 + 5.0 + xlab + LABEL_GAP
    bar_x = left + width + 10.0
    bar_h = max(height, 72.0)
    bar_w = _signed_bar_extent(norm) if signed else colorbar_extent(norm)  # type: ignore[arg-type]
    centre = left + width / 2
    half_text = max(title_w, note_w) / 2
    centre = max(centre, MARGIN + half_text)
    page_w = max(bar_x + bar_w + MARGIN, centre + half_text + MARGIN)
    page = Page(page_w, top + bar_h + MARGIN)
    page.text(centre, MARGIN, title, ha="center", va="top", fontsize=TITLE_FONT)
    page.text(
        centre,
        MARGIN + TITLE_FONT * 1.3 + 2.0,
        note,
        ha="center",
        va="top",
        fontsize=NOTE_FONT,
        color="#555555",
    )
    ax = page.axes(left, top, width, height)
    ax.imshow(
        rgb,
        extent=(0, k, q, 0),
        interpolation="none",
        resample=False,
        aspect="auto",
        origin="upper",
    )
    ax.set_xlim(0, k)
    ax.set_ylim(q, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    _labels(page, left, top, unit, font, q_labels, k_labels, q_shown, k_shown)
    keep = np.ones((q, k), dtype=bool) if mask is None else ~mask
    if kind == "compare" and not signed:
        _compare_circles(ax, chans, norm, cmap, scale_max, keep, unit)  # type: ignore[arg-type]
    elif kind == "stability":
        _stability_circles(ax, chans, norm, cmap, scale_max, keep, opts.rings)  # type: ignore[arg-type]
    elif kind == "evolution":
        _sparklines(ax, chans["series"], rgb, keep, unit)
    if signed:
        _signed_colorbar(page, bar_x, top, bar_h, norm, cmap)
    else:
        colorbar(page, bar_x, top, bar_h, norm, cmap, gamma)  # type: ignore[arg-type]
    return page.fig


def _labels(
    page: Page,
    px: float,
    py: float,
    unit: float,
    font: float,
    q_labels: list[str],
    k_labels: list[str],
    q_shown: list[int],
    k_shown: list[int],
) -> None:
    """Token labels left of (queries) and above (keys) the matrix, thinned as the heatmap's."""
    marks: list[list[tuple[float, float]]] = []
    for j in k_shown:
        x = px + (j + 0.5) * unit
        marks.append([(x, py), (x, py - TICK_PT)])
        page.text(
            x, py - LABEL_GAP, k_labels[j], rotation=90, ha="center", va="bottom", fontsize=font
        )
    for i in q_shown:
        y = py + (i + 0.5) * unit
        marks.append([(px, y), (px - TICK_PT, y)])
        page.text(px - LABEL_GAP, y, q_labels[i], ha="right", va="center_baseline", fontsize=font)
    page.segments(marks, colors="#333333", linewidths=0.4)


_UNIT_CIRCLE = Path.unit_circle()


def _lut_index(cmap: Colormap, normed: np.ndarray) -> np.ndarray:
    """The colour map entry ``cmap(normed)`` picks (matplotlib's own rule), per value."""
    index = (np.asarray(normed, dtype=np.float64) * cmap.N).astype(np.int64)
    return np.clip(index, 0, cmap.N - 1)


def _disc_paths(rows: np.ndarray, cols: np.ndarray, radius: np.ndarray) -> Path:
    """All circles as one compound path in cell units (built in numpy, written once)."""
    unit = _UNIT_CIRCLE.vertices
    codes = _UNIT_CIRCLE.codes
    assert codes is not None
    verts = np.asarray(unit)[None, :, :] * radius[:, None, None]
    verts = verts + np.column_stack([cols + 0.5, rows + 0.5])[:, None, :]
    return Path(verts.reshape(-1, 2), np.tile(codes, rows.size))


def _circles(
    ax: Axes,
    rows: np.ndarray,
    cols: np.ndarray,
    radius: np.ndarray,
    colour_index: np.ndarray,
    cmap: Colormap,
    **kw: Any,
) -> None:
    """Filled circles at cell centres (``radius`` in cells), in the order given.

    Circles of one colour (one colour map entry) become one compound path, so
    the PDF holds at most ``cmap.N`` fills per call instead of one object per
    circle: matplotlib's per-path state handling was the whole render time.
    Circles of different cells never overlap, so grouping keeps the picture.
    """
    if rows.size == 0:
        return
    paths: list[Path] = []
    colours: list[np.ndarray] = []
    for index in np.unique(colour_index):
        pick = colour_index == index
        paths.append(_disc_paths(rows[pick], cols[pick], radius[pick]))
        colours.append(np.asarray(cmap(int(index))))
    ax.add_collection(
        PathCollection(paths, facecolors=np.array(colours), transform=ax.transData, **kw)
    )


def _compare_circles(
    ax: Axes,
    chans: dict[str, np.ndarray],
    norm: PowerNorm,
    cmap: Colormap,
    scale_max: float,
    keep: np.ndarray,
    unit: float,
) -> None:
    radius = np.clip(chans["radius"], 0.0, MAX_RADIUS)
    rows, cols = np.nonzero((radius > 0) & keep)
    b = np.clip(chans["b"][rows, cols], 0.0, max(scale_max, 0.0))
    # A hairline ring keeps a circle visible where B's colour matches A's.
    _circles(
        ax,
        rows,
        cols,
        radius[rows, cols],
        _lut_index(cmap, norm(b)),
        cmap,
        edgecolors="#ffffff",
        linewidths=min(0.4, unit * 0.04),
    )


def _stability_circles(
    ax: Axes,
    chans: dict[str, np.ndarray],
    norm: PowerNorm,
    cmap: Colormap,
    scale_max: float,
    keep: np.ndarray,
    rings: int,
) -> None:
    """Discs from the outside in: the edge is ``high``'s colour, the centre ``low``'s."""
    radius = np.clip(chans["radius"], 0.0, MAX_RADIUS)
    rows, cols = np.nonzero((radius > 0) & keep)
    if rows.size == 0:
        return
    r = radius[rows, cols]
    top = max(scale_max, 0.0)
    low = np.clip(chans["low"][rows, cols], 0.0, top)
    high = np.clip(chans["high"][rows, cols], 0.0, top)
    for ring in range(rings, 0, -1):  # outermost first, so inner discs paint over it
        t = (ring - 1) / (rings - 1) if rings > 1 else 0.5
        colour = _lut_index(cmap, norm(low + t * (high - low)))
        _circles(ax, rows, cols, r * ring / rings, colour, cmap, edgecolors="none", linewidths=0.0)


def _sparklines(
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
    # One compound path per line colour (not one object per cell): see _circles.
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
    top = float(norm.vmax or 0.0)
    values = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], symmetric=True).tick_values(-top, top)
    return [float(v) for v in values if abs(v) <= top * (1 + 1e-9)]


def _signed_bar_extent(norm: Normalize) -> float:
    labels = [tick_label(t) for t in _signed_ticks(norm)]
    return (
        COLORBAR_WIDTH + 3.5 + text_width(labels, COLORBAR_FONT) + 3.0 + 1.3 * (COLORBAR_FONT + 0.5)
    )


def _signed_colorbar(
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
