"""Heatmap figure options: what each one means, its check, and the zoomed window's crop.

Every option a user can give ``render_pdf(kind="heatmap")`` (and
``export_pdf``) is parsed here into one frozen :class:`HeatmapOptions`; an
unknown option or a bad value is a ``ValueError`` that says what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.colors import Colormap

from ..state import Window, check_window
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
    "DEFAULT_ENLARGE",
    "HEATMAP_OPTIONS",
    "HeatmapOptions",
    "Region",
    "crop_to_window",
    "parse_heatmap_options",
    "with_auto_regions",
]

HEATMAP_OPTIONS = (
    "cmap",
    "top_n",
    "enlarge",
    "show_values",
    "regions",
    "region_options",
    "split",
    "split_names",
    "split_panels",
    "causal",
    "width",
    "size",
    "title",
    "xlabel",
    "ylabel",
    "label_every",
    "window",
)

DEFAULT_CMAP = "viridis"  # perceptually uniform, and the view's map
DEFAULT_WIDTH = 7.0  # inches: at most a double journal column, unless width= or size=
DEFAULT_ENLARGE = 2.0
Region = tuple[int, int, int, int, "str | None"]
# find_regions' parameters that regions="auto" passes on (region_options=).
REGION_PARAMETERS = ("n_regions", "min_distance", "ring", "similarity", "max_seeds", "patience")
DEFAULT_AUTO_REGIONS = 3


@dataclass(frozen=True)
class HeatmapOptions:
    cmap: Colormap
    top_n: int = 0
    enlarge: float = 1.0  # 1.0: off
    show_values: bool = True  # print the top cells' values (inside, or in a table)
    regions: tuple[Region, ...] = ()
    auto_regions: dict[str, Any] | None = None  # regions="auto": find_regions' arguments
    split: int | None = None
    split_names: tuple[str, str] = ("A", "B")
    split_panels: bool = False
    causal: bool | None = None  # None: mask when the data is causal
    width: float | None = DEFAULT_WIDTH  # inches, the whole figure
    width_given: bool = False  # the page is exactly `width` wide
    size: float | None = None  # inches, the matrix side (instead of width)
    title: str | None = None
    xlabel: str = "key"
    ylabel: str = "query"
    label_every: int = 1
    window: Window | None = None  # None: the whole matrix


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


def _parse_auto(value: Any, options: Any) -> dict[str, Any]:
    """``region_options``: find_regions' keyword arguments for ``regions="auto"``."""
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(
            "region_options: expected a dict of find_regions arguments ("
            + ", ".join(REGION_PARAMETERS)
            + f"), got {options!r}"
        )
    unknown = sorted(set(options) - set(REGION_PARAMETERS))
    if unknown:
        raise ValueError(
            f"region_options: unknown {', '.join(unknown)}; allowed: "
            + ", ".join(REGION_PARAMETERS)
        )
    return {"n_regions": DEFAULT_AUTO_REGIONS, **options}


def _parse_regions(value: Any, q: int, k: int) -> tuple[Region, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(
            "regions: expected 'auto' (found by attn_widget.regions) or a list of "
            "(top, left, bottom, right) or (top, left, bottom, right, label) tuples, "
            f"got {value!r}"
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
    window = check_window(options.get("window"), q, k)
    if window is not None and split is not None:
        raise ValueError("split: draws the whole matrix, so it cannot go with window")
    regions_value = options.get("regions")
    auto = isinstance(regions_value, str) and regions_value == "auto"
    if options.get("region_options") is not None and not auto:
        raise ValueError("region_options: only with regions='auto'")
    width, width_given = check_width(options, DEFAULT_WIDTH)
    size = options.get("size")
    if size is not None:
        if width_given:
            raise ValueError(
                "size: the matrix side in inches, or width: the whole figure's; not both"
            )
        size = check_size("size", size, 1.0, 40.0)
        width = None
    return HeatmapOptions(
        cmap=cmap,
        top_n=top_n,
        enlarge=enlarge,
        show_values=_check_bool("show_values", options.get("show_values", True)),
        regions=() if auto else _parse_regions(regions_value, q, k),
        auto_regions=_parse_auto(regions_value, options.get("region_options")) if auto else None,
        split=split,
        split_names=(str(names[0]), str(names[1])),
        split_panels=split_panels,
        causal=causal,
        width=width,
        width_given=width_given,
        size=size,
        title=title,
        xlabel=check_label("xlabel", options.get("xlabel"), "key"),
        ylabel=check_label("ylabel", options.get("ylabel"), "query"),
        label_every=check_int("label_every", options.get("label_every", 1), 1),
        window=window,
    )


def with_auto_regions(opts: HeatmapOptions, matrix: np.ndarray) -> HeatmapOptions:
    """``regions="auto"``: the regions :func:`attn_widget.analysis.find_regions` finds.

    Found on the matrix as drawn (the window, when zoomed), strongest first.
    They are not labelled (a label would cover the values of small regions);
    give ``regions=[(top, left, bottom, right, label), ...]`` to label them.
    """
    if opts.auto_regions is None:
        return opts
    from ..analysis import find_regions

    found = find_regions(matrix, **opts.auto_regions)
    regions = tuple((r.top, r.left, r.bottom, r.right, None) for r in found)
    return replace(opts, regions=regions)
