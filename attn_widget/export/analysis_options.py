"""Options of the analysis figures (compare, stability, evolution) and their channels' checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import Colormap

from ..analysis import MAX_RADIUS
from .common import (
    check_causal,
    check_int,
    check_label,
    check_size,
    check_title,
    check_width,
    get_cmap,
)

__all__ = [
    "ANALYSIS_KINDS",
    "ANALYSIS_OPTIONS",
    "CHANNELS",
    "AnalysisOptions",
    "check_channels",
    "check_kind",
    "parse_analysis_options",
]

ANALYSIS_KINDS = ("compare", "stability", "evolution")
# The channels each figure reads (views._Overlay.channels sends more).
CHANNELS: dict[str, tuple[str, ...]] = {
    "compare": ("base", "b", "radius", "delta"),
    "stability": ("base", "radius", "low", "high"),
    "evolution": ("base", "series"),
}
_COMMON = ("cmap", "causal", "width", "size", "title", "xlabel", "ylabel")
ANALYSIS_OPTIONS: dict[str, tuple[str, ...]] = {
    "compare": (*_COMMON, "mode", "diverging_cmap", "max_radius"),
    "stability": (*_COMMON, "rings", "white_center", "max_radius"),
    "evolution": _COMMON,
}
COMPARE_MODES = ("circles", "signed")

DEFAULT_CMAP = "viridis"
DEFAULT_DIVERGING = "RdBu_r"  # negative blue, positive red, white at 0
DEFAULT_WIDTH = 7.0  # inches: at most a double journal column, unless width= or size=
DEFAULT_RINGS = 4


@dataclass(frozen=True)
class AnalysisOptions:
    cmap: Colormap
    causal: bool | None = None  # None: mask the upper triangle when the data is causal
    width: float | None = DEFAULT_WIDTH  # inches, the whole figure
    width_given: bool = False
    size: float | None = None  # inches, the matrix side (instead of width)
    title: str | None = None
    xlabel: str = "key"
    ylabel: str = "query"
    mode: str = "circles"
    diverging_cmap: Colormap | None = None
    rings: int = DEFAULT_RINGS
    white_center: bool = False
    max_radius: float = MAX_RADIUS  # the largest circle's radius, in cell sides


def check_kind(kind: Any) -> str:
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
    white = options.get("white_center", False)
    if not isinstance(white, (bool, np.bool_)):
        raise ValueError(f"white_center: expected True or False, got {white!r}")
    width, width_given = check_width(options, DEFAULT_WIDTH)
    size = options.get("size")
    if size is not None:
        if width_given:
            raise ValueError(
                "size: the matrix side in inches, or width: the whole figure's; not both"
            )
        size = check_size("size", size, 1.0, 40.0)
        width = None
    return AnalysisOptions(
        cmap=get_cmap(options.get("cmap", DEFAULT_CMAP)),
        causal=causal,
        width=width,
        width_given=width_given,
        size=size,
        title=title,
        xlabel=check_label("xlabel", options.get("xlabel"), "key"),
        ylabel=check_label("ylabel", options.get("ylabel"), "query"),
        mode=str(mode),
        diverging_cmap=get_cmap(diverging if diverging is not None else DEFAULT_DIVERGING),
        rings=check_int("rings", options.get("rings", DEFAULT_RINGS), 1, 16),
        white_center=bool(white),
        max_radius=check_size("max_radius", options.get("max_radius", MAX_RADIUS), 0.05, 0.5),
    )


def check_channels(
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
