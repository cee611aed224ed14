"""The figure of one generation step: the text shaded by what the writing token attended to.

The prompt and the generated text flow as wrapped lines; each token's box is
filled with the view's colour for the weight the step's query gives it
(``cmap((w / max) ** gamma)``), the token the step wrote is outlined, a colour
bar gives the real values, and a table lists the step's top-k choices with
their probabilities. An encoder–decoder step shades the source by the
cross-attention and lists the target below it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .common import (
    MARGIN,
    TITLE_FONT,
    Page,
    check_size,
    check_title,
    colorbar,
    colorbar_extent,
    get_cmap,
    label_text,
    luminance,
    power_norm,
    text_width,
)

__all__ = ["TEXT_OPTIONS", "text_figure"]

TEXT_OPTIONS = ("cmap", "width", "title", "sinks")
FONT = 9.0
LINE = FONT * 1.9
HIGHLIGHT = "#d84315"


def _flow(
    widths: Sequence[float], width: float, top: float
) -> tuple[list[tuple[float, float, float]], float]:
    """``(x, y, w)`` of each token box, left to right with wrapping; and the bottom."""
    boxes, x, y = [], MARGIN, top
    for w in widths:
        w += 6.0
        if x > MARGIN and x + w > width - MARGIN:
            x, y = MARGIN, y + LINE
        boxes.append((x, y, w))
        x += w + 1.5
    return boxes, y + LINE


def text_figure(
    tokens: Sequence[str],
    weights: np.ndarray,
    *,
    written: int,
    choices: Sequence[Mapping[str, Any]],
    chosen: Mapping[str, Any],
    title: str,
    gamma: float,
    options: Mapping[str, Any],
    target: Sequence[str] | None = None,
) -> Figure:
    """The step's figure: ``weights`` over ``tokens`` (the keys), token ``written`` outlined."""
    unknown = sorted(set(options) - set(TEXT_OPTIONS))
    if unknown:
        raise ValueError(
            f"text: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(TEXT_OPTIONS)}"
        )
    cmap: Colormap = get_cmap(options.get("cmap", "viridis"))
    width = check_size("width", options.get("width", 7.0), 3.0, 17.0) * 72.0
    title = check_title(options.get("title")) or title
    sinks = set(options.get("sinks") or ())
    shown = [label_text(t, 40) for t in tokens]
    rest = [v for i, v in enumerate(weights) if i not in sinks]
    vmax = float(max(rest)) if rest else 0.0
    norm = power_norm(vmax, gamma)
    bar = colorbar_extent(norm) + 8.0
    text_w = width - bar
    top = MARGIN + TITLE_FONT * 1.4 + 6.0
    boxes, bottom = _flow([text_width([s], FONT) for s in shown], text_w, top)
    below: list[tuple[float, float, float]] = []
    if target is not None:
        below, bottom = _flow(
            [text_width([label_text(t, 40)], FONT) for t in target], text_w, bottom + 8.0
        )
    table_top = bottom + 10.0
    rows = [("chosen", label_text(str(chosen.get("token", "")), 40), chosen.get("probability"))]
    rows += [
        (f"{i + 1}", label_text(str(c["token"]), 40), c["probability"])
        for i, c in enumerate(choices)
    ]
    height = table_top + (len(rows) + 1) * FONT * 1.4 + MARGIN
    page = Page(width, max(height, top + 100.0))
    page.text(MARGIN, MARGIN, title, ha="left", va="top", fontsize=TITLE_FONT)
    ax = page.axes(0, 0, width, page.height)
    ax.set_xlim(0, width)
    ax.set_ylim(page.height, 0)
    ax.axis("off")
    for i, (x, y, w) in enumerate(boxes):
        value = float(weights[i]) if i < len(weights) else 0.0
        t = float(norm(value)) if vmax > 0 else 0.0
        colour = cmap(t) if value > 0 else (1.0, 1.0, 1.0, 1.0)
        ax.add_patch(Rectangle((x, y), w, LINE - 3.0, facecolor=colour, edgecolor="none"))
        dark = value > 0 and luminance([c * 255 for c in colour[:3]]) < 0.5
        ax.text(x + 3.0, y + (LINE - 3.0) / 2, shown[i], fontsize=FONT, va="center", ha="left",
                color="white" if dark else "#1a1a1a")  # fmt: skip
    marked = below if target is not None else boxes
    if 0 <= written < len(marked):
        x, y, w = marked[written]
        ax.add_patch(
            Rectangle(
                (x - 1, y - 1), w + 2, LINE - 1.0, fill=False, edgecolor=HIGHLIGHT, linewidth=1.4
            )
        )
    if target is not None:
        for i, (x, y, _) in enumerate(below):
            label = label_text(target[i], 40)
            ax.text(x + 3.0, y + (LINE - 3.0) / 2, label, fontsize=FONT, va="center", ha="left",
                    color="#1f5fae")  # fmt: skip
    page.text(MARGIN, table_top, "top choices at this step (probability)", ha="left", va="top",
              fontsize=FONT - 1, color="#555555")  # fmt: skip
    for n, (rank, token, p) in enumerate(rows, start=1):
        y = table_top + n * FONT * 1.4
        page.text(MARGIN, y, rank, ha="left", va="top", fontsize=FONT - 1)
        page.text(MARGIN + 40.0, y, token, ha="left", va="top", fontsize=FONT - 1)
        shown_p = "–" if p is None or not np.isfinite(p) else f"{float(p):.3g}"
        page.text(MARGIN + 220.0, y, shown_p, ha="right", va="top", fontsize=FONT - 1)
    colorbar(page, width - bar + 4.0, top, max(bottom - top, 60.0), norm, cmap, gamma)
    return page.fig
