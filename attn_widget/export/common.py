"""What every exported figure shares: style, checks, colour rule, token text, label thinning.

The colour rule is the view's contrast (js/colormap.js): a value ``v`` of a
slice whose maximum is ``m`` gets ``cmap((v / m) ** gamma)``, which is
matplotlib's ``PowerNorm(gamma, vmin=0, vmax=m)``. The colour bar is drawn
from the same norm, so it shows real values.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Colormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from .fonts import families
from .formats import SAVE_STYLE
from .labels import (
    LABEL_PITCH,
    MAX_LABEL_CHARS,
    MAX_LABEL_FONT,
    MIN_FONT,
    MIN_LABEL_FONT,
    label_font_size,
    label_text,
    pick_labels,
    visible_token,
)

__all__ = [
    "HIGHLIGHT",
    "LABEL_PITCH",
    "LINE_COLOR",
    "MASK_COLOR",
    "MASK_RGB",
    "MAX_LABEL_CHARS",
    "MAX_LABEL_FONT",
    "MIN_FONT",
    "MIN_LABEL_FONT",
    "REGION_COLOR",
    "Page",
    "check_int",
    "check_label",
    "check_width",
    "colorbar",
    "colorbar_extent",
    "colorize",
    "format_value",
    "get_cmap",
    "label_font_size",
    "label_text",
    "pick_labels",
    "power_norm",
    "style",
    "text_width",
    "visible_token",
]

# The view's light-theme colours (js/theme.js), so a PDF reads like the widget.
HIGHLIGHT = "#d84315"
LINE_COLOR = "#1f5fae"
REGION_COLOR = "#ff2d55"
# Masked (causal upper triangle) cells: a light neutral grey, distinct from
# every colour of the sequential maps and from the white page.
MASK_COLOR = (0.93, 0.93, 0.93)
MASK_RGB = np.array([round(c * 255) for c in MASK_COLOR], dtype=np.uint8)

TICK_PT = 2.0  # tick mark length
LABEL_GAP = 3.5  # from the matrix edge to a label
TITLE_FONT = 9.5
COLORBAR_WIDTH = 9.0
COLORBAR_FONT = MIN_FONT
AXIS_TITLE_FONT = 7.5  # "query" and "key" beside the token labels
NOTE_FONT = MIN_FONT
MARGIN = 4.0  # page margin
MIN_WIDTH, MAX_WIDTH = 1.5, 40.0  # inches: the width= option

# Every setting a figure depends on is pinned here, so the user's rcParams
# (usetex, a dark style, another font) can neither break nor change a PDF.
_STYLE: dict[str, Any] = {
    "pdf.fonttype": 42,  # TrueType: vector text that pypdf and readers can extract
    "pdf.compression": 6,
    "font.size": 8,
    "font.weight": "normal",
    "text.usetex": False,
    # Tokens are data: "$x$" must stay "$x$", not become mathtext (or a parse error).
    "text.parse_math": False,
    "axes.formatter.use_mathtext": False,
    "axes.unicode_minus": False,
    "axes.linewidth": 0.5,
    "axes.edgecolor": "#333333",
    "axes.facecolor": "white",
    "axes.titlesize": 9,
    "axes.titleweight": "normal",
    "axes.titlepad": 4,
    "figure.facecolor": "white",
    "figure.dpi": 72,
    "savefig.dpi": 300,  # only the colour bar's gradient is rasterised
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "text.color": "#1a1a1a",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "xtick.major.width": 0.4,
    "ytick.major.width": 0.4,
    "xtick.major.size": 2,
    "ytick.major.size": 2,
    "xtick.major.pad": 1.5,
    "ytick.major.pad": 1.5,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "image.interpolation": "none",
    "image.resample": False,
    "path.simplify": True,
    "hatch.linewidth": 0.5,
}

# A glyph no installed font has is drawn as an empty box by matplotlib and
# stays in the text layer; fonts.check_glyphs warns once, naming the package
# to install, so matplotlib's per-glyph warnings are noise here.
_GLYPH_WARNING = r"Glyph .* missing from (current )?font"


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Pinned rcParams (fonts with their fallbacks, save options), restored on exit."""
    pinned: Any = {**_STYLE, **SAVE_STYLE, "font.family": list(families())}
    with matplotlib.rc_context(pinned), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING)
        yield


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in ``lo..hi`` (``hi`` None: no upper bound), else a ValueError."""
    allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer {allowed}, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name}: expected an integer {allowed}, got {value}")
    return int(value)


def check_causal(value: Any, q: int, k: int) -> bool | None:
    """The ``causal`` option: None (decide from the data), True or False; masking needs q == k."""
    if value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"causal: expected True, False or None, got {value!r}")
    if value and q != k:
        raise ValueError(f"causal: masking needs a square matrix; this one is {q} x {k}")
    return bool(value)


def check_title(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"title: expected a string, got {value!r}")
    return value


def check_label(name: str, value: Any, default: str) -> str:
    """An axis title (``xlabel``, ``ylabel``): a string; ``""`` hides it, None is ``default``."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string ('' hides it), got {value!r}")
    return value


def check_width(options: Mapping[str, Any], default: float | None) -> tuple[float | None, bool]:
    """The ``width`` option in inches and whether it was given.

    ``width`` is the whole figure's width (labels and colour bar included):
    3.3 for a single journal column, 7 for a double one. Given, the page is
    exactly that wide; by default a figure is at most ``default`` wide.
    """
    value = options.get("width")
    if value is None:
        return default, False
    return check_size("width", value, MIN_WIDTH, MAX_WIDTH), True


def fit_unit(page_width: Any, target: float, largest: float) -> float:
    """The largest cell size (points) ``<= largest`` whose page is at most ``target`` wide.

    ``page_width(unit)`` is the page width a layout with cells of ``unit``
    points needs; it grows with ``unit`` (labels may shrink with the cells).
    """
    if page_width(largest) <= target:
        return largest
    low, high = 0.0, largest
    for _ in range(30):  # bisection: the label extents make the width stepwise
        middle = (low + high) / 2
        if page_width(middle) <= target:
            low = middle
        else:
            high = middle
    return max(low, 1e-3)


def check_size(name: str, value: Any, lo: float, hi: float) -> float:
    """A finite float in ``lo..hi`` (figure sizes in inches, factors)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name}: expected a number in {lo:g}..{hi:g}, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and lo <= number <= hi):
        raise ValueError(f"{name}: expected a number in {lo:g}..{hi:g}, got {value!r}")
    return number


def get_cmap(cmap: str | Colormap) -> Colormap:
    """A matplotlib colour map by name (or as given), with a helpful error."""
    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise ValueError(f"cmap: expected a matplotlib colour map name, got {cmap!r}")
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(
            f"cmap: unknown colour map {cmap!r}; perceptually uniform choices are "
            "'viridis', 'magma', 'inferno', 'plasma', 'cividis', or a sequential map such as "
            "'Blues' (any name in matplotlib.colormaps works)"
        ) from None


def power_norm(vmax: float, gamma: float) -> PowerNorm:
    """The view's contrast as a norm; an all-zero slice gets a 0..1 scale (all cells at 0)."""
    top = float(vmax) if vmax > 0 else 1.0
    return PowerNorm(gamma=gamma, vmin=0.0, vmax=top, clip=True)


def colorize(
    matrix: np.ndarray, norm: PowerNorm, cmap: Colormap, mask: np.ndarray | None = None
) -> np.ndarray:
    """RGB bytes ``(rows, cols, 3)``, one pixel a cell; ``mask`` True cells get MASK_COLOR.

    Built here rather than by ``imshow`` so that the PDF holds exactly one
    pixel per cell (imshow's own resampling drops cells on long inputs) and
    so that the image has no alpha channel to embed.
    """
    rgb = cmap(norm(matrix), bytes=True)[..., :3]
    if mask is not None:
        rgb[mask] = MASK_RGB
    return np.ascontiguousarray(rgb)


def luminance(rgb: Sequence[float]) -> float:
    """Relative luminance 0..1 of 0..255 RGB (Rec. 709 weights, as the view uses)."""
    r, g, b = (float(c) / 255.0 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def format_value(value: float) -> str:
    """A cell value as printed in a cell: two decimals, or two significant digits when tiny."""
    if value == 0:
        return "0"
    if abs(value) >= 0.005:
        return f"{value:.2f}"
    return f"{value:.1e}"


def colorbar_label(gamma: float) -> str:
    """The colour bar's label; names gamma when it bends the scale."""
    return "attention" if gamma == 1 else f"attention (γ = {gamma:g})"


@functools.lru_cache(maxsize=16384)
def _width_at_10pt(text: str, bold: bool, family: tuple[str, ...]) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=list(family), size=10.0, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def text_width(texts: Iterable[str], size: float, bold: bool = False) -> float:
    """Width in points of the widest of ``texts`` in the figure font (0 for none).

    Measured with the real fonts (fallbacks included), so layouts leave room
    for wide glyphs that a character count would miss. Outline widths scale
    with the size, so each text is measured once at 10 pt and cached: layouts
    that try several cell sizes measure their labels once.
    """
    family = families()
    return max((_width_at_10pt(t, bold, family) * size / 10.0 for t in texts), default=0.0)


class Page:
    """A figure laid out in points, measured from its top-left corner (y grows down).

    Labels are plain texts placed here rather than axis ticks: a matplotlib
    Tick is five artists and its layout pass dominated the render time, and
    knowing every extent lets the page be sized exactly.
    """

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.fig = Figure(figsize=(width / 72.0, height / 72.0))
        # points from the top-left -> inches from the bottom-left -> display
        self.transform = (
            Affine2D().scale(1.0 / 72.0, -1.0 / 72.0).translate(0.0, height / 72.0)
            + self.fig.dpi_scale_trans
        )

    def axes(self, x: float, y: float, w: float, h: float) -> Axes:
        """Axes whose top-left corner is at ``x, y``, ``w`` x ``h`` points."""
        fw, fh = self.width, self.height
        return self.fig.add_axes((x / fw, 1.0 - (y + h) / fh, w / fw, h / fh))

    def text(self, x: float, y: float, text: str, **kwargs: Any) -> Any:
        return self.fig.text(x, y, text, transform=self.transform, **kwargs)

    def segments(self, segments: Sequence[Sequence[tuple[float, float]]], **kwargs: Any) -> None:
        """Line segments in page points (tick marks), as one collection."""
        if len(segments):
            self.fig.add_artist(LineCollection(segments, transform=self.transform, **kwargs))


def tick_values(vmax: float) -> list[float]:
    """Colour bar ticks: round values from 0 to at most ``vmax``."""
    top = vmax if vmax > 0 else 1.0
    values = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, top)
    return [float(v) for v in values if -1e-12 <= v <= top * (1 + 1e-9)]


def tick_label(value: float) -> str:
    return f"{value:.4g}"


def colorbar(
    page: Page, x: float, y: float, height: float, norm: PowerNorm, cmap: Colormap, gamma: float
) -> None:
    """The colour bar (real values, the view's power scale) at ``x, y``, 9 pt wide."""
    cax = page.axes(x, y, COLORBAR_WIDTH, height)
    bar = page.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    ticks = tick_values(_vmax(norm))
    bar.set_ticks(ticks, labels=[tick_label(t) for t in ticks])
    bar.outline.set_linewidth(0.4)
    bar.ax.tick_params(labelsize=COLORBAR_FONT, width=0.4, length=2, pad=1.5)
    bar.set_label(colorbar_label(gamma), fontsize=COLORBAR_FONT + 0.5, labelpad=3)


def _vmax(norm: PowerNorm) -> float:
    return float(norm.vmax) if norm.vmax is not None else 1.0


def colorbar_extent(norm: PowerNorm) -> float:
    """Width in points the colour bar takes right of its left edge, labels included."""
    labels = [tick_label(t) for t in tick_values(_vmax(norm))]
    return (
        COLORBAR_WIDTH + 3.5 + text_width(labels, COLORBAR_FONT) + 3.0 + 1.3 * (COLORBAR_FONT + 0.5)
    )


def title_lines(
    title: str, max_width: float, size: float = TITLE_FONT, sep: str = " · "
) -> list[str]:
    """``title`` broken after its ``sep`` separators into lines no wider than ``max_width``.

    A part wider than the line on its own gets a line of its own (it is never cut).
    """
    parts = title.split(sep)
    # "layer 2 · head 3" is one part: a line never ends between a layer and its head.
    glued: list[str] = []
    for part in parts:
        if glued and part.startswith(("head ", "H")) and glued[-1].startswith(("layer ", "L")):
            glued[-1] += sep + part
        else:
            glued.append(part)
    parts = glued
    lines: list[str] = []
    for part in parts:
        if lines and text_width([lines[-1] + sep + part], size) <= max_width:
            lines[-1] += sep + part
        else:
            if lines and sep.strip() != "·":
                lines[-1] += sep.rstrip()  # "a;" then "b" on the next line
            lines.append(part)
    return lines


def title_height(lines: Sequence[str], size: float = TITLE_FONT) -> float:
    return len(lines) * size * 1.25


def draw_title(
    page: Page,
    x: float,
    y: float,
    lines: Sequence[str],
    size: float = TITLE_FONT,
    color: str = "#1a1a1a",
) -> None:
    """The title's lines centred on ``x``, the first line's top at ``y``."""
    page.text(
        x, y, "\n".join(lines), ha="center", va="top", fontsize=size, linespacing=1.25, color=color
    )
