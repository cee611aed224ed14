"""Token-line figure: query tokens on the left, key tokens on the right, a line per link.

The same rule as the view (js/lines.js): a line's opacity is
``(w / max of the slice) ** gamma``, quantised to 32 levels, its width grows
with it, lines under 1/255 opacity are skipped, and the levels are drawn
weakest first so strong lines lie on top. One compound path per level keeps
the PDF small and fast: one path and graphics state per level, not per line.

Which lines: as in the view. With no locked selection, each query's ``top_k``
strongest links (every link for matrices up to 128 x 128, else 8 per query).
A locked query (key) token: every line of that token only. A locked cell:
the lines of the unlocked view dimmed to a quarter, and the cell's own line
drawn on top in the highlight colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path

from .common import (
    HIGHLIGHT,
    LABEL_GAP,
    LABEL_PITCH,
    LINE_COLOR,
    MARGIN,
    TITLE_FONT,
    Page,
    check_int,
    check_size,
    check_title,
    label_font_size,
    label_text,
    pick_labels,
    text_width,
)

__all__ = ["LINES_OPTIONS", "LinesOptions", "default_top_k", "lines_figure", "parse_lines_options"]

LINES_OPTIONS = ("top_k", "threshold", "size", "title", "color")

LEVELS = 32  # opacity levels, as the view draws them
MIN_ALPHA = 1 / 255  # fainter lines are invisible: skipped
DEFAULT_SIZE = 6.5  # inches: height budget of the token columns
MAX_ROW_PT = 14.0
SPAN_PT = 160.0  # horizontal length of the lines
HEADER_FONT = 6.5


@dataclass(frozen=True)
class LinesOptions:
    top_k: int | None = None  # None: the view's default
    threshold: float = 0.0
    size: float = DEFAULT_SIZE
    title: str | None = None
    color: tuple[float, float, float] = to_rgb(LINE_COLOR)


def default_top_k(q: int, k: int) -> int:
    """The view's default links per query (js/lines.js defaultTopK)."""
    return k if q * k <= 128 * 128 else 8


def parse_lines_options(options: Mapping[str, Any], q: int, k: int) -> LinesOptions:
    """Validate lines options; a ValueError says what is allowed."""
    unknown = sorted(set(options) - set(LINES_OPTIONS))
    if unknown:
        raise ValueError(
            f"lines: unknown option(s) {', '.join(unknown)}; allowed: " + ", ".join(LINES_OPTIONS)
        )
    top_k = options.get("top_k")
    if top_k is not None:
        top_k = check_int("top_k", top_k, 1)
    title = check_title(options.get("title"))
    try:
        color = to_rgb(options.get("color", LINE_COLOR))
    except ValueError:
        raise ValueError(
            f"color: expected a matplotlib colour such as '#1f5fae', got {options.get('color')!r}"
        ) from None
    return LinesOptions(
        top_k=top_k,
        threshold=check_size("threshold", options.get("threshold", 0.0), 0.0, 1.0),
        size=check_size("size", options.get("size", DEFAULT_SIZE), 1.0, 40.0),
        title=title,
        color=color,
    )


def _links(
    matrix: np.ndarray, selection: Mapping[str, Any] | None, opts: LinesOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(query, key, weight)`` arrays of the lines to draw."""
    q, k = matrix.shape
    kind = selection["kind"] if selection else None
    if kind == "query":
        i = int(selection["index"])  # type: ignore[index]
        return np.full(k, i), np.arange(k), matrix[i]
    if kind == "key":
        j = int(selection["index"])  # type: ignore[index]
        return np.arange(q), np.full(q, j), matrix[:, j]
    top = min(k, opts.top_k if opts.top_k is not None else default_top_k(q, k))
    if top >= k:
        keys = np.broadcast_to(np.arange(k), (q, k))
    else:
        # Stable sort on the negated weights: equal weights keep key order, as in the view.
        keys = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    queries = np.broadcast_to(np.arange(q)[:, None], keys.shape)
    weights = np.take_along_axis(matrix, keys, axis=1)
    peak = float(matrix.max())
    keep = weights >= opts.threshold * peak if opts.threshold > 0 else np.ones(weights.shape, bool)
    return queries[keep], keys[keep], weights[keep]


def lines_figure(
    matrix: np.ndarray,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str,
    gamma: float,
    selection: Mapping[str, Any] | None,
    opts: LinesOptions,
) -> Figure:
    """The token-line figure (call inside :func:`common.style`)."""
    q, k = matrix.shape
    n = max(q, k)
    row = min(MAX_ROW_PT, opts.size * 72.0 / n)
    font = label_font_size(row)
    height = n * row
    # The shorter column is centred against the longer one (cross-attention).
    y_q = (np.arange(q) + 0.5) * row + (n - q) * row / 2
    y_k = (np.arange(k) + 0.5) * row + (n - k) * row / 2

    sel = selection or None
    focus_q = {int(sel["index"])} if sel and sel["kind"] == "query" else set()
    focus_k = {int(sel["index"])} if sel and sel["kind"] == "key" else set()
    if sel and sel["kind"] == "cell":
        focus_q, focus_k = {int(sel["q"])}, {int(sel["k"])}
    pitch = font * LABEL_PITCH
    shown_q = pick_labels(y_q, pitch, sorted(focus_q))
    shown_k = pick_labels(y_k, pitch, sorted(focus_k))
    q_labels = [label_text(t) for t in query_tokens]
    k_labels = [label_text(t) for t in key_tokens]
    left_w = text_width([q_labels[i] for i in shown_q], font, bold=bool(focus_q))
    right_w = text_width([k_labels[j] for j in shown_k], font, bold=bool(focus_k))
    title_w = text_width([title], TITLE_FONT)
    left = MARGIN + max(left_w, text_width(["query"], HEADER_FONT)) + LABEL_GAP
    top = MARGIN + TITLE_FONT * 1.3 + 4.0 + HEADER_FONT * 1.3 + 3.0
    page_w = left + SPAN_PT + LABEL_GAP + max(right_w, text_width(["key"], HEADER_FONT)) + MARGIN
    page_w = max(page_w, title_w + 2 * MARGIN)
    page = Page(page_w, top + height + MARGIN)
    ax = page.axes(left, top, SPAN_PT, height)
    ax.set_xlim(0.0, SPAN_PT)
    ax.set_ylim(height, 0.0)
    ax.set_axis_off()

    queries, keys, weights = _links(matrix, sel, opts)
    peak = float(matrix.max())
    dim = 0.25 if sel and sel["kind"] == "cell" else 1.0
    # Line width in points: the view's (0.6 + 2.4 a) px, scaled to the row pitch
    # so that dense figures do not turn into a solid band.
    scale = 0.6 * min(1.0, max(0.2, row / MAX_ROW_PT))
    if peak > 0 and weights.size:
        alpha = np.clip(weights / peak, 0.0, 1.0) ** gamma
        visible = alpha >= MIN_ALPHA
        queries, keys, alpha = queries[visible], keys[visible], alpha[visible]
        levels = np.minimum(LEVELS - 1, np.floor(alpha * LEVELS).astype(int))
        for level in np.unique(levels):  # ascending: weakest first
            chosen = levels == level
            a = (level + 0.5) / LEVELS
            count = int(chosen.sum())
            # One compound path per level (move-to, line-to pairs): a collection
            # would write every line as its own PDF path with its own state.
            vertices = np.empty((2 * count, 2))
            vertices[0::2, 0] = 0.0
            vertices[0::2, 1] = y_q[queries[chosen]]
            vertices[1::2, 0] = SPAN_PT
            vertices[1::2, 1] = y_k[keys[chosen]]
            codes = np.tile(np.array([Path.MOVETO, Path.LINETO], dtype=Path.code_type), count)
            path = Path(vertices, codes)
            path.should_simplify = False  # every line is data: keep them all
            # add_artist, not add_patch: the limits are set already, and
            # add_patch would walk every segment to update them.
            ax.add_artist(
                PathPatch(
                    path,
                    fill=False,
                    edgecolor=(*opts.color, a * dim),
                    linewidth=(0.6 + 2.4 * a) * scale,
                    capstyle="round",
                )
            )
    if sel and sel["kind"] == "cell":
        i, j = int(sel["q"]), int(sel["k"])
        ax.plot([0.0, SPAN_PT], [y_q[i], y_k[j]], color=HIGHLIGHT, linewidth=3.0 * scale + 0.4)

    for x, ys, shown, labels, focus, ha in (
        (left - LABEL_GAP, y_q, shown_q, q_labels, focus_q, "right"),
        (left + SPAN_PT + LABEL_GAP, y_k, shown_k, k_labels, focus_k, "left"),
    ):
        for index in shown:
            hot = index in focus
            page.text(
                x,
                top + ys[index],
                labels[index],
                ha=ha,
                va="center_baseline",
                fontsize=font,
                color=HIGHLIGHT if hot else "#1a1a1a",
                fontweight="bold" if hot else "normal",
            )
    for x, text, ha in (
        (left - LABEL_GAP, "query", "right"),
        (left + SPAN_PT + LABEL_GAP, "key", "left"),
    ):
        page.text(x, top - 3.0, text, ha=ha, va="bottom", fontsize=HEADER_FONT, color="#666666")
    page.text(page_w / 2, MARGIN, title, ha="center", va="top", fontsize=TITLE_FONT)
    return page.fig
