"""Token labels: the text a token shows, its font size, and which labels fit on an axis.

Labels are thinned so that no two are closer than their pitch, whatever the
figure's size: every k-th token (k a "nice" step), with the locked token and
the tokens of top cells placed first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..token_text import visible_text

__all__ = [
    "LABEL_PITCH",
    "MAX_LABEL_CHARS",
    "MAX_LABEL_FONT",
    "MIN_FONT",
    "MIN_LABEL_FONT",
    "label_font_size",
    "label_text",
    "pick_labels",
    "visible_token",
]

# Token labels: below this pitch (font size times this) neighbours would touch.
LABEL_PITCH = 1.12
# No text of a figure is smaller than this: 7 pt is the least journals accept
# once the figure is printed at its width (3.3 in single, 7 in double column).
MIN_FONT = 7.0
MIN_LABEL_FONT = MIN_FONT
MAX_LABEL_FONT = 8.5
MAX_LABEL_CHARS = 16


def visible_token(text: str) -> str:
    """A token as the view shows it (js/geometry.js visibleToken).

    What a font or an encoder cannot take (controls, direction overrides,
    lone surrogates, BOM, ...) becomes a visible stand-in
    (:func:`attn_widget.token_text.visible_text`); the empty token is ``∅``.
    """
    if text == "":
        return "∅"
    return visible_text(text)


def label_text(text: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """A token label, shortened with an ellipsis like the view's ``truncateLabel``."""
    shown = visible_token(text)
    return shown if len(shown) <= max_chars else shown[: max_chars - 1] + "…"


def label_font_size(cell_pt: float) -> float:
    """Font size for labels on cells ``cell_pt`` points apart: as large as fits, within limits."""
    return min(MAX_LABEL_FONT, max(MIN_LABEL_FONT, cell_pt / LABEL_PITCH))


def _nice_step(step: int) -> int:
    """The smallest of 1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64, ... that is >= ``step``."""
    candidates: set[int] = set()
    for power in range(0, 7):
        for mantissa in (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64):
            candidates.add(mantissa * 10**power)
    return min(c for c in candidates if c >= step)


def pick_labels(
    centres: np.ndarray, pitch: float, priority: Iterable[int] = (), every: int = 1
) -> list[int]:
    """Indices of the tokens to label so that no two labels are closer than ``pitch``.

    ``centres``: label positions along the axis in points (increasing).
    ``priority`` indices (the locked token, tokens of top cells) are placed
    first, in the order given; then every k-th token, k the smallest "nice"
    step that clears ``pitch`` on the narrowest cells (at least ``every``: the
    ``label_every`` option). A candidate that would come closer than
    ``pitch`` to a label already placed is skipped, so labels never overlap
    whatever the priorities. Returns sorted indices.
    """
    centres = np.asarray(centres, dtype=float)
    n = centres.size
    if n == 0:
        return []
    gaps = np.diff(centres)
    narrowest = float(gaps.min()) if gaps.size else math.inf
    # A hair of tolerance: a pitch that exactly matches the cells must label them all.
    step = 1 if narrowest >= pitch * (1 - 1e-9) else _nice_step(math.ceil(pitch / narrowest))
    step = max(step, every)
    placed: list[float] = []  # sorted positions already taken
    chosen: list[int] = []

    def fits(x: float) -> bool:
        i = int(np.searchsorted(placed, x))
        left_ok = i == 0 or x - placed[i - 1] >= pitch * (1 - 1e-9)
        right_ok = i == len(placed) or placed[i] - x >= pitch * (1 - 1e-9)
        return left_ok and right_ok

    seen: set[int] = set()
    for index in [*priority, *range(0, n, step)]:
        if index in seen or not 0 <= index < n:
            continue
        seen.add(index)
        x = float(centres[index])
        if fits(x):
            placed.insert(int(np.searchsorted(placed, x)), x)
            chosen.append(index)
    return sorted(chosen)
