"""Automatic regions: rectangles of cells that stand out from what surrounds them.

Rectangles are **half-open**, ``Region(top, left, bottom, right)``: rows
``top .. bottom - 1`` and columns ``left .. right - 1``, so
``matrix[top:bottom, left:right]`` is the region, ``bottom - top`` its height,
and a single cell ``(i, j)`` is ``Region(i, j, i + 1, j + 1)``. (Drawn on a
heatmap with cell side ``s``: ``x = left * s``, ``width = (right - left) * s``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._validate import as_finite, positive_int

__all__ = ["Region", "find_regions"]

_Rect = tuple[int, int, int, int]


class Region(NamedTuple):
    """A half-open rectangle of cells: rows ``top:bottom``, columns ``left:right``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index a matrix with this: ``matrix[region.slices]``."""
        return slice(self.top, self.bottom), slice(self.left, self.right)


class _Scorer:
    """O(1) box sums, means and region scores from a summed-area table."""

    def __init__(self, matrix: np.ndarray, ring: int, patience: int = 0) -> None:
        self.rows, self.cols = matrix.shape
        self.ring = ring
        self.patience = patience
        # Centring first keeps the table's numbers small, so box sums taken as
        # differences of table entries lose little precision; scores only use
        # differences of means, which centring does not change.
        self._offset = float(matrix.mean())
        table = np.zeros((self.rows + 1, self.cols + 1))
        table[1:, 1:] = matrix - self._offset
        table.cumsum(axis=0, out=table)
        table.cumsum(axis=1, out=table)
        # Scalar lookups from Python: .item avoids making a numpy scalar per call.
        self._at: Callable[[int, int], float] = table.item

    def box_sum(self, top: int, left: int, bottom: int, right: int) -> float:
        at = self._at
        return at(bottom, right) - at(top, right) - at(bottom, left) + at(top, left)

    def mean(self, rect: _Rect) -> float:
        top, left, bottom, right = rect
        return self.box_sum(*rect) / ((bottom - top) * (right - left)) + self._offset

    def contrast_and_score(self, rect: _Rect) -> tuple[float, float]:
        """``(d, score)`` of a rectangle; ``score = -inf`` when it has no ring.

        ``d = mean inside - mean of the ring`` (the cells within ``ring`` rows or
        columns of the rectangle, cut off at the matrix edge) and
        ``score = d * |d| * n_in * n_ring / (n_in + n_ring)``.
        """
        top, left, bottom, right = rect
        m = self.ring
        n_in = (bottom - top) * (right - left)
        outer_top, outer_left = max(0, top - m), max(0, left - m)
        outer_bottom, outer_right = min(self.rows, bottom + m), min(self.cols, right + m)
        n_ring = (outer_bottom - outer_top) * (outer_right - outer_left) - n_in
        if n_ring == 0:
            return 0.0, -np.inf
        inside = self.box_sum(top, left, bottom, right)
        ring_sum = self.box_sum(outer_top, outer_left, outer_bottom, outer_right) - inside
        d = inside / n_in - ring_sum / n_ring
        return d, d * abs(d) * (n_in * n_ring / (n_in + n_ring))

    def score(self, rect: _Rect) -> float:
        return self.contrast_and_score(rect)[1]

    def grow(self, rect: _Rect, *, trim: bool = True) -> tuple[_Rect, float]:
        """Grow ``rect`` one row or column at a time, then trim it; return it and its score.

        Growth: each step takes the best of the four one-strip extensions (a row
        above, a row below, a column left, a column right; the first of equal
        bests wins, so growth is deterministic). It goes on while the score
        improves, and up to ``patience`` steps further without improvement, so
        that a seed on a noise spike can cross the dip before a plateau pays
        off; the best rectangle seen is kept.

        Trim: then, while it strictly improves the score, the best single move
        among the four extensions and the four one-strip removals is taken. This
        undoes a step that looked good while the rectangle was small (a column
        of background added to a one-row seed) and any overshoot of the
        look-ahead. With ``trim=False`` the result always contains ``rect``.
        Every score is O(1) from the summed-area table.
        """
        best_rect, best = rect, self.score(rect)
        misses = 0
        while misses <= self.patience:
            pick, value = self._best_move(rect, shrink=False)
            if pick is None:
                break
            rect = pick
            if value > best:
                best_rect, best, misses = pick, value, 0
            else:
                misses += 1
        rect, current = best_rect, best
        while trim:
            pick, value = self._best_move(rect, shrink=True)
            if pick is None or not value > current:
                break
            rect, current = pick, value
        return rect, current

    def _best_move(self, rect: _Rect, *, shrink: bool) -> tuple[_Rect | None, float]:
        """The best-scoring one-strip change of ``rect`` (first of equals) and its score."""
        top, left, bottom, right = rect
        moves = []
        if top > 0:
            moves.append((top - 1, left, bottom, right))
        if bottom < self.rows:
            moves.append((top, left, bottom + 1, right))
        if left > 0:
            moves.append((top, left - 1, bottom, right))
        if right < self.cols:
            moves.append((top, left, bottom, right + 1))
        if shrink and bottom - top > 1:
            moves += [(top + 1, left, bottom, right), (top, left, bottom - 1, right)]
        if shrink and right - left > 1:
            moves += [(top, left + 1, bottom, right), (top, left, bottom, right - 1)]
        pick: _Rect | None = None
        value = -np.inf
        for move in moves:
            score = self.score(move)
            if score > value:
                pick, value = move, score
        return pick, value


def _strength_key(item: tuple[_Rect, float]) -> tuple[float, _Rect]:
    """Sort key: score descending, then position. Scores are rounded to 10
    significant digits first, so that equal scores that differ only by the
    summed-area table's round-off (the same shape at another place) are ties."""
    rect, score = item
    return -float(f"{score:.10g}"), rect


def _touching(a: _Rect, b: _Rect) -> bool:
    """Overlapping or adjacent (sharing an edge or a corner) half-open rectangles."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _inside(a: _Rect, b: _Rect) -> bool:
    """``a`` lies within ``b``."""
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def find_regions(
    matrix: Any,
    n_regions: int = 5,
    min_distance: int | None = None,
    *,
    ring: int | None = None,
    similarity: float = 0.25,
    max_seeds: int | None = None,
    patience: int = 3,
) -> list[Region]:
    """Rectangles of cells that stand out from their surroundings, strongest first.

    Returns at most ``n_regions`` half-open :class:`Region` rectangles
    ``(top, left, bottom, right)`` (see the module docstring). Same input, same
    answer: no randomness, and every tie is broken by position.

    Algorithm (``H x W`` matrix):

    1. **Score.** For a rectangle, ``d`` = mean inside minus mean of its ring
       (the cells within ``ring`` rows/columns around it, cut off at the matrix
       edge), and ``score = d * |d| * n_in * n_ring / (n_in + n_ring)`` (the
       drop in squared error from describing rectangle and ring by two means
       instead of one, signed so that only brighter-than-surroundings regions
       score above 0). It prefers large rectangles of uniform contrast and
       falls as soon as a row or column of the surroundings is taken in. A
       summed-area table of the matrix makes every score O(1).
    2. **Seeds.** Cells in descending value (ties: row-major order). A cell is
       a seed unless it lies within ``min_distance`` (Chebyshev distance
       ``< min_distance``) of an earlier seed or inside an already grown
       region; at most ``max_seeds`` seeds.
    3. **Growth.** Each seed starts as its own cell and grows one row or one
       column at a time, taking the best of the four one-strip extensions,
       while the score improves; it looks up to ``patience`` steps past a
       non-improving step (a seed on a noise spike must cross a dip before a
       plateau pays off) and keeps the best rectangle seen. It is then trimmed:
       the best of the four extensions and four one-strip removals is taken
       while that strictly improves the score, which undoes a step that only
       looked good while the rectangle was small. Regions with score <= 0
       (not brighter than their ring) are dropped.
    4. **Merge.** Two regions are linked when they overlap or touch (an edge
       or a corner) and their inside means differ by at most ``similarity``
       times the larger of their contrasts ``d``. Each linked group becomes its
       bounding box, grown again but not trimmed, so that it still covers every
       part (unless that box scores <= 0: then the parts stay); repeated until
       nothing merges. A region inside a stronger one (a seed that stalled on a
       plateau which a later seed grew over) is then dropped.
    5. **Order.** By score, highest first (ties, to 10 significant digits: by
       position, top then left, bottom, right); the first
       ``n_regions`` are returned.

    Cost: one pass to build the table, one O(H * W) argmax per seed, then
    O(H + W) growth steps of O(1) each per seed.

    Parameters:
        matrix: numpy array or torch tensor ``(q, k)`` with finite values (may
            be negative, e.g. a difference map).
        n_regions: the most regions returned, an int >= 1.
        min_distance: the least Chebyshev distance between seeds, an int >= 1;
            default ``max(2, min(H, W) // 16)``.
        ring: the ring's thickness in cells, an int >= 1; default
            ``max(2, min(H, W) // 4)``. A plateau reaching further than this
            from its brightest cell in every direction is still found, from a
            seed near its edge; ``ring`` sets how local "stands out" is.
        similarity: merge tolerance, a number >= 0 (0: merge only equal means).
        max_seeds: the most seeds grown, an int >= 1; default ``3 * n_regions + 5``.
        patience: growth look-ahead in steps, an int >= 0 (0: plain greedy).

    A constant matrix, or a 1 x 1 one, has no region: ``[]``.
    """
    array = as_finite(matrix, "matrix", ndim=2, layout="(q, k)")
    n_regions = positive_int(n_regions, "n_regions")
    rows, cols = array.shape
    short = min(rows, cols)
    min_distance = positive_int(
        max(2, short // 16) if min_distance is None else min_distance, "min_distance"
    )
    ring = positive_int(max(2, short // 4) if ring is None else ring, "ring")
    patience = positive_int(patience, "patience", minimum=0)
    max_seeds = positive_int(3 * n_regions + 5 if max_seeds is None else max_seeds, "max_seeds")
    if isinstance(similarity, bool) or not isinstance(similarity, (int, float, np.number)):
        raise ValueError(f"similarity: expected a number >= 0, got {similarity!r}")
    if not (np.isfinite(similarity) and similarity >= 0):
        raise ValueError(f"similarity: expected a number >= 0, got {similarity}")

    values = array.astype(np.float64, copy=False)
    scorer = _Scorer(values, ring, patience)
    # Seed search: blocked cells are set to -inf in a copy, so the next seed is
    # one argmax, O(H * W), and argmax returns the first maximum in row-major
    # order, which is the tie-break. A few dozen argmaxes cost less than sorting.
    free = values.copy()
    found: list[tuple[_Rect, float]] = []
    reach = min_distance - 1
    for _ in range(max_seeds):
        index = int(np.argmax(free))
        i, j = divmod(index, cols)
        if free[i, j] == -np.inf:
            break
        free[max(0, i - reach) : i + reach + 1, max(0, j - reach) : j + reach + 1] = -np.inf
        rect, score = scorer.grow((i, j, i + 1, j + 1))
        free[rect[0] : rect[2], rect[1] : rect[3]] = -np.inf
        if score > 0:
            found.append((rect, score))

    found = _merge(found, scorer, float(similarity))
    found.sort(key=_strength_key)
    kept: list[tuple[_Rect, float]] = []
    for rect, score in found:
        # Sorted strongest first, so anything containing `rect` is stronger and kept already.
        if not any(_inside(rect, other) for other, _ in kept):
            kept.append((rect, score))
    return [Region(*rect) for rect, _ in kept[:n_regions]]


def _root(parent: list[int], x: int) -> int:
    """Union-find root of ``x``, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _merge(
    found: list[tuple[_Rect, float]], scorer: _Scorer, similarity: float
) -> list[tuple[_Rect, float]]:
    """Merge touching regions with alike means into their grown bounding box, until none merge.

    Each pass links every pair of regions that touch and are alike, and
    replaces each linked group by one box at once, so the outcome does not
    depend on which pair is looked at first (and duplicates, which are
    trivially alike, collapse into one). A group whose box scores <= 0 stays
    as it was. Every pass that goes on has fewer regions, so this ends.
    """
    regions = list(found)
    while True:
        count = len(regions)
        parent = list(range(count))
        means = [scorer.mean(rect) for rect, _ in regions]
        contrasts = [scorer.contrast_and_score(rect)[0] for rect, _ in regions]
        for x in range(count):
            for y in range(x + 1, count):
                if not _touching(regions[x][0], regions[y][0]):
                    continue
                if abs(means[x] - means[y]) <= similarity * max(contrasts[x], contrasts[y]):
                    parent[_root(parent, y)] = _root(parent, x)
        groups: dict[int, list[int]] = {}
        for x in range(count):
            groups.setdefault(_root(parent, x), []).append(x)
        merged: list[tuple[_Rect, float]] = []
        for members in groups.values():
            parts = [regions[x][0] for x in members]
            if len(parts) == 1:
                merged.append(regions[members[0]])
                continue
            box = (
                min(p[0] for p in parts),
                min(p[1] for p in parts),
                max(p[2] for p in parts),
                max(p[3] for p in parts),
            )
            # No trimming: the merged region must keep covering all its parts.
            rect, score = scorer.grow(box, trim=False)
            if score > 0:
                merged.append((rect, score))
            else:
                # A box no brighter than its ring would lose every part: keep them.
                merged.extend(regions[x] for x in members)
        if len(merged) == count:
            return merged
        regions = merged
