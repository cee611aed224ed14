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
    MIN_FONT,
    Page,
    check_int,
    check_size,
    check_title,
    check_width,
    draw_title,
    label_font_size,
    label_text,
    pick_labels,
    text_width,
    title_height,
    title_lines,
)

__all__ = [
    "LINES_OPTIONS",
    "LinesOptions",
    "default_top_k",
    "draw_links",
    "line_links",
    "lines_figure",
    "parse_lines_options",
]

LINES_OPTIONS = ("top_k", "threshold", "color", "per_token", "width", "size", "title")

LEVELS = 32  # opacity levels, as the view draws them
MIN_ALPHA = 1 / 255  # fainter lines are invisible: skipped
DEFAULT_SIZE = 6.5  # inches: height budget of the token columns
MAX_ROW_PT = 14.0
SPAN_PT = 160.0  # horizontal length of the lines (unless width= sets the page's width)
MIN_SPAN_PT = 40.0
HEADER_FONT = MIN_FONT


@dataclass(frozen=True)
class LinesOptions:
    top_k: int | None = None  # None: the view's default
    threshold: float = 0.0
    size: float = DEFAULT_SIZE
    title: str | None = None
    color: tuple[float, float, float] = to_rgb(LINE_COLOR)
    per_token: bool = False  # one page per query token (a multi-page PDF)
    width: float | None = None  # inches, the page; None: as wide as the lines need


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
    per_token = options.get("per_token", False)
    if not isinstance(per_token, (bool, np.bool_)):
        raise ValueError(f"per_token: expected True or False, got {per_token!r}")
    width, _ = check_width(options, None)
    return LinesOptions(
        top_k=top_k,
        threshold=check_size("threshold", options.get("threshold", 0.0), 0.0, 1.0),
        size=check_size("size", options.get("size", DEFAULT_SIZE), 1.0, 40.0),
        title=title,
        color=color,
        per_token=bool(per_token),
        width=width,
    )


def line_links(
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


def draw_links(
    ax: Any,
    links: tuple[np.ndarray, np.ndarray, np.ndarray],
    peak: float,
    y_q: np.ndarray,
    y_k: np.ndarray,
    *,
    x0: float,
    x1: float,
    gamma: float,
    color: tuple[float, float, float],
    scale: float,
    dim: float = 1.0,
) -> None:
    """Lines from ``(x0, y_q[i])`` to ``(x1, y_k[j])``, the view's opacity rule, weakest first.

    ``links`` are ``(query, key, weight)`` arrays; ``peak`` the slice's maximum;
    ``scale`` multiplies the line widths (dense figures get thinner lines).
    """
    queries, keys, weights = links
    if not (peak > 0 and weights.size):
        return
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
        vertices[0::2, 0] = x0
        vertices[0::2, 1] = y_q[queries[chosen]]
        vertices[1::2, 0] = x1
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
                edgecolor=(*color, a * dim),
                linewidth=(0.6 + 2.4 * a) * scale,
                capstyle="round",
            )
        )


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
    left = MARGIN + max(left_w, text_width(["query"], HEADER_FONT)) + LABEL_GAP
    right = LABEL_GAP + max(right_w, text_width(["key"], HEADER_FONT)) + MARGIN
    span = SPAN_PT
    if opts.width is not None:
        span = max(MIN_SPAN_PT, opts.width * 72.0 - left - right)
    page_w = left + span + right
    if opts.width is None:
        page_w = max(page_w, text_width([title], 9.5) + 2 * MARGIN)
    else:
        page_w = max(page_w, opts.width * 72.0)
    dx = (page_w - (left + span + right)) / 2
    left += dx
    lines = title_lines(title, page_w - 2 * MARGIN)
    top = MARGIN + title_height(lines) + 4.0 + HEADER_FONT * 1.3 + 3.0
    page = Page(page_w, top + height + MARGIN)
    ax = page.axes(left, top, span, height)
    ax.set_xlim(0.0, span)
    ax.set_ylim(height, 0.0)
    ax.set_axis_off()

    # Line width in points: the view's (0.6 + 2.4 a) px, scaled to the row pitch
    # so that dense figures do not turn into a solid band.
    scale = 0.6 * min(1.0, max(0.2, row / MAX_ROW_PT))
    draw_links(
        ax,
        line_links(matrix, sel, opts),
        float(matrix.max()),
        y_q,
        y_k,
        x0=0.0,
        x1=span,
        gamma=gamma,
        color=opts.color,
        scale=scale,
        dim=0.25 if sel and sel["kind"] == "cell" else 1.0,
    )
    if sel and sel["kind"] == "cell":
        i, j = int(sel["q"]), int(sel["k"])
        ax.plot([0.0, span], [y_q[i], y_k[j]], color=HIGHLIGHT, linewidth=3.0 * scale + 0.4)

    for x, ys, shown, labels, focus, ha in (
        (left - LABEL_GAP, y_q, shown_q, q_labels, focus_q, "right"),
        (left + span + LABEL_GAP, y_k, shown_k, k_labels, focus_k, "left"),
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
        (left + span + LABEL_GAP, "key", "left"),
    ):
        page.text(x, top - 3.0, text, ha=ha, va="bottom", fontsize=HEADER_FONT, color="#666666")
    draw_title(page, page_w / 2, MARGIN, lines)
    return page.fig
