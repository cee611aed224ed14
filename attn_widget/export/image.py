"""Image figures: the input image with one token's attention over its patches, as the view draws it.

* ``"image"``: the processed image, the overlay of one query's attention over
  the patch grid (the view's colour map and contrast, opacity rising with the
  weight), the query's patch outlined, and a colour bar of the real values.
* ``"image_grid"``: that overlay for every head of the current layer, one
  panel a head, each on its own scale (a head's pattern, not its size, is
  what a grid compares).

The query is the locked selection's (a token or a cell's query), else the
``query`` option, else the model's own (``[CLS]``), else the mean over every
query. The overlay is composed in numpy at the image's resolution, so the
figure embeds one image of exactly the processed size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..data import AttentionSource
from ..state import ViewState
from .common import (
    MARGIN,
    TITLE_FONT,
    Page,
    check_int,
    check_size,
    check_title,
    colorbar,
    colorbar_extent,
    get_cmap,
    label_text,
    power_norm,
    text_width,
    title_height,
    title_lines,
)
from .titles import head_name, layer_name, parts_title, slice_title

__all__ = ["IMAGE_KINDS", "IMAGE_OPTIONS", "image_figures", "overlay_rgb"]

IMAGE_KINDS = ("image", "image_grid")
IMAGE_OPTIONS = ("query", "cmap", "size", "title", "per_row")
OVERLAY_ALPHA = 0.8  # the view's (js/imageview.js): the image stays readable under the top colour
HIGHLIGHT = "#d84315"


def _media(source: AttentionSource, case: int) -> tuple[Mapping[str, Any], np.ndarray]:
    described = source.meta.get("media")
    media = source.media
    if not isinstance(described, Mapping) or described.get("kind") != "image" or media is None:
        raise ValueError(
            "kind: 'image' draws the attention over an input image; this attention has no image "
            "(make it with from_model(vision_model, image_processor, image))"
        )
    return described, media.images[case]


def _query(
    source: AttentionSource, state: ViewState, described: Mapping[str, Any], given: Any
) -> int | None:
    q, _ = source.shape(state.case)
    if given is not None:
        return check_int("query", given, 0, q - 1)
    selection = state.selection
    if selection and selection["kind"] in ("query", "cell"):
        return int(selection["index"] if selection["kind"] == "query" else selection["q"])
    default = (described.get("query") or [None] * (state.case + 1))[state.case]
    return None if default is None else int(default)


def _weights(
    source: AttentionSource, layer: int, head: int | None, case: int, query: int | None
) -> np.ndarray:
    if query is None:  # what the whole input looks at: each key averaged over the queries
        q, _ = source.shape(case)
        return source.rows(layer, head, case, 0, q).mean(axis=0)
    return source.rows(layer, head, case, query, query + 1)[0]


def overlay_rgb(
    image: np.ndarray, cells: np.ndarray, grid: Mapping[str, Any], gamma: float, cmap: Colormap
) -> tuple[np.ndarray, float]:
    """The image with each cell tinted by its weight; returns ``(rgb uint8, scale maximum)``.

    Colour ``cmap((v / max) ** gamma)`` at opacity ``0.8 * (v / max) ** gamma``:
    a cell without weight shows the image as it is, as in the view.
    """
    rows, cols = int(grid["rows"]), int(grid["cols"])
    ph, pw = (int(v) for v in grid["patch"])
    vmax = float(cells.max()) if cells.size else 0.0
    t = (
        np.zeros_like(cells, dtype=np.float64)
        if vmax <= 0
        else np.clip(cells / vmax, 0, 1) ** gamma
    )
    colour = cmap(t.reshape(rows, cols))[..., :3] * 255.0
    alpha = (OVERLAY_ALPHA * t).reshape(rows, cols, 1)
    height, width = image.shape[:2]
    # Cells to pixels; the last row and column may be cut by the image's edge.
    tile = lambda a: np.repeat(np.repeat(a, ph, 0), pw, 1)[:height, :width]  # noqa: E731
    out = image.astype(np.float64) * (1 - tile(alpha)) + tile(colour) * tile(alpha)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), vmax


def _cells(weights: np.ndarray, described: Mapping[str, Any], case: int) -> np.ndarray:
    patches = np.asarray(described["patches"][case], dtype=np.int64)
    return weights[patches].astype(np.float64)


def _panel(
    page: Page,
    x: float,
    y: float,
    side: float,
    rgb: np.ndarray,
    described: Mapping[str, Any],
    case: int,
    query: int | None,
) -> None:
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    ax = page.axes(x, y, width * scale, height * scale)
    ax.imshow(rgb, extent=(0, width, height, 0), interpolation="none", resample=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    patches = list(described["patches"][case])
    if query is not None and query in patches:
        cell = patches.index(query)
        cols = int(described["grid"]["cols"])
        ph, pw = (int(v) for v in described["grid"]["patch"])
        r, c = divmod(cell, cols)
        ax.add_patch(
            Rectangle((c * pw, r * ph), pw, ph, fill=False, edgecolor=HIGHLIGHT, linewidth=1.2)
        )


def _query_name(source: AttentionSource, case: int, query: int | None) -> str:
    if query is None:
        return "every query, averaged"
    return f"{label_text(source.query_tokens[case][query])} (query {query})"


def image_figures(
    source: AttentionSource, kind: str, state: ViewState, options: Mapping[str, Any]
) -> tuple[list[Figure], str, list[str]]:
    """The ``"image"`` or ``"image_grid"`` figure, its title, and the texts it shows."""
    unknown = sorted(set(options) - set(IMAGE_OPTIONS))
    if unknown:
        raise ValueError(
            f"{kind}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(IMAGE_OPTIONS)}"
        )
    described, image = _media(source, state.case)
    cmap = get_cmap(options.get("cmap", "viridis"))
    query = _query(source, state, described, options.get("query"))
    given_title = check_title(options.get("title"))
    who = _query_name(source, state.case, query)
    base = slice_title(
        source.meta, layer=state.layer, head=state.head, case=state.case,
        n_layers=source.n_layers, n_heads=source.n_heads, n_cases=source.n_cases,
    )  # fmt: skip
    if kind == "image":
        side = check_size("size", options.get("size", 3.3), 1.0, 12.0) * 72.0
        cells = _cells(
            _weights(source, state.layer, state.head, state.case, query), described, state.case
        )
        rgb, vmax = overlay_rgb(image, cells, described["grid"], state.gamma, cmap)
        title = given_title or f"{base} · attention of {who}"
        norm = power_norm(vmax, state.gamma)
        panel_h = side * image.shape[0] / max(image.shape[:2])
        panel_w = side * image.shape[1] / max(image.shape[:2])
        page_w, lines = _fitted(title, MARGIN + panel_w + 12.0 + colorbar_extent(norm) + MARGIN)
        top = MARGIN + title_height(lines) + 4.0
        page = Page(page_w, top + panel_h + MARGIN)
        _panel(page, MARGIN, top, side, rgb, described, state.case, query)
        colorbar(page, MARGIN + panel_w + 12.0, top, panel_h, norm, cmap, state.gamma)
        _title(page, lines)
        return [page.fig], title, lines
    heads = source.n_heads
    per_row = check_int("per_row", options.get("per_row", min(heads, 6)), 1, heads)
    side = check_size("size", options.get("size", 1.1), 0.5, 6.0) * 72.0
    label_h = 10.0
    rows = -(-heads // per_row)
    gap = 8.0
    where = [layer_name(source.meta, state.layer), "every head"]
    if source.n_cases > 1:
        where.append(f"case {state.case}")
    title = given_title or parts_title(source.meta, *where, f"attention of {who}")
    page_w, lines = _fitted(title, MARGIN + per_row * (side + gap))
    top = MARGIN + title_height(lines) + 4.0
    page = Page(page_w, top + rows * (side + label_h + gap) + MARGIN)
    names: list[str] = []
    for h in range(heads):
        r, c = divmod(h, per_row)
        x, y = MARGIN + c * (side + gap), top + r * (side + label_h + gap) + label_h
        cells = _cells(_weights(source, state.layer, h, state.case, query), described, state.case)
        rgb, _ = overlay_rgb(image, cells, described["grid"], state.gamma, cmap)
        _panel(page, x, y, side, rgb, described, state.case, query)
        name = head_name(source.meta, h)
        names.append(name)
        page.text(x, y - 2.0, name, ha="left", va="bottom", fontsize=7.0)
    _title(page, lines)
    return [page.fig], title, [*lines, *names]


def _fitted(title: str, page_w: float) -> tuple[float, list[str]]:
    """The title in lines that fit the page, and the page widened for a part that cannot break.

    A long title breaks at its `` · `` parts; a part wider than the page on its
    own (a long model name) widens the page: the title is never cut at the edge.
    """
    lines = title_lines(title, page_w - 2 * MARGIN)
    return max(page_w, text_width(lines, TITLE_FONT) + 2 * MARGIN), lines


def _title(page: Page, lines: list[str]) -> None:
    page.text(
        MARGIN, MARGIN, "\n".join(lines), ha="left", va="top", fontsize=TITLE_FONT,
        linespacing=1.25,
    )  # fmt: skip
