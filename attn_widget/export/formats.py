"""File formats of a figure: PDF, SVG and PNG from the same matplotlib Figure.

A figure is built once; only the save differs. PDF and SVG are vector with
their token text as text (PDF: embedded TrueType subsets with ToUnicode, so
readers extract it; SVG: ``<text>`` elements); PNG is a raster at ``dpi``.

Same figure, same bytes, in every format: no dates, a fixed creator, a fixed
SVG id salt, and no software version in the PNG.
"""

from __future__ import annotations

import io
import math
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_DPI",
    "FORMATS",
    "check_dpi",
    "check_format",
    "format_of",
    "save_figure",
    "save_pages",
]

FORMATS = ("pdf", "svg", "png")
DEFAULT_DPI = 300.0  # PNG: print resolution
MIN_DPI, MAX_DPI = 50.0, 1200.0
CREATOR = "attn_widget"
# Pinned for every format (applied inside export.style()).
SAVE_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # text as <text>, not paths: searchable, selectable
    "svg.hashsalt": "attn_widget",  # fixed ids: same figure, same bytes
    "svg.image_inline": True,
}


def _allowed() -> str:
    return ", ".join(f".{f}" for f in FORMATS)


def check_format(value: Any) -> str:
    """``"pdf"``, ``"svg"`` or ``"png"`` (a leading dot and upper case are fine)."""
    if not isinstance(value, str) or value.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {value!r}")
    return value.lower().lstrip(".")


def format_of(path: str | os.PathLike[str]) -> str:
    """The format a path asks for by its extension; an unknown one is a ValueError."""
    suffix = pathlib.Path(path).suffix.lower()
    if suffix.lstrip(".") not in FORMATS:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        raise ValueError(
            f"path: {os.fspath(path)!r} has {shown}; figures are written as {_allowed()} "
            "(the extension chooses the format)"
        )
    return suffix.lstrip(".")


def check_dpi(value: Any) -> float:
    """PNG resolution in dots per inch, ``MIN_DPI..MAX_DPI``; None gives ``DEFAULT_DPI``."""
    if value is None:
        return DEFAULT_DPI
    expected = f"dpi: expected a number in {MIN_DPI:g}..{MAX_DPI:g} (dots per inch)"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{expected}, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and MIN_DPI <= number <= MAX_DPI):
        raise ValueError(f"{expected}, got {value!r}")
    return number


def save_figure(fig: Figure, fmt: str, title: str, dpi: float | None = None) -> bytes:
    """The figure as bytes of ``fmt``; call inside ``export.style()``.

    The page is laid out exactly (measured text), so no ``bbox_inches="tight"``:
    that would draw every artist twice.
    """
    buffer = io.BytesIO()
    if fmt == "pdf":
        metadata: dict[str, Any] = {"Title": title, "Creator": CREATOR, "CreationDate": None}
        fig.savefig(buffer, format="pdf", metadata=metadata)
    elif fmt == "svg":
        fig.savefig(
            buffer, format="svg", metadata={"Title": title, "Creator": CREATOR, "Date": None}
        )
    elif fmt == "png":
        fig.savefig(
            buffer,
            format="png",
            dpi=check_dpi(dpi),
            metadata={"Title": title, "Software": CREATOR},
        )
    else:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return buffer.getvalue()


def save_pages(figures: Sequence[Figure], title: str) -> bytes:
    """Several figures as the pages of one PDF (same figures, same bytes)."""
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    metadata = {"Title": title, "Creator": CREATOR, "CreationDate": None}
    with PdfPages(buffer, metadata=metadata) as pages:
        for fig in figures:
            pages.savefig(fig)
    return buffer.getvalue()
