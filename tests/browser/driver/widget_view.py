"""One attn_widget view in the page: its paints, canvases, pixels, sliders and tooltip."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from playwright.sync_api import (
    Locator,
    Page,
)

_PIXELS_JS = """([canvas, points]) => {
  const s = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext("2d");
  return points.map(([x, y]) =>
    Array.from(ctx.getImageData(Math.floor(x * s), Math.floor(y * s), 1, 1).data));
}"""

# For each point, the pixel within `radius` that differs most from the background:
# a thin antialiased line may only half-cover the pixel right under its centre.
_STRONGEST_JS = """([canvas, points, radius, bg]) => {
  const s = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext("2d");
  const r = Math.round(radius * s);
  return points.map(([x, y]) => {
    const cx = Math.floor(x * s), cy = Math.floor(y * s);
    const d = ctx.getImageData(cx - r, cy - r, 2 * r + 1, 2 * r + 1).data;
    let best = [bg[0], bg[1], bg[2], 255], bestDiff = -1;
    for (let i = 0; i < d.length; i += 4) {
      const diff = Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]);
      if (diff > bestDiff) { bestDiff = diff; best = Array.from(d.slice(i, i + 4)); }
    }
    return best;
  });
}"""

# Pixels of a rectangle that differ from the background, split into those near
# one of the given segments and the strays. Coordinates in CSS pixels.
_LINE_PIXELS_JS = """([canvas, spec]) => {
  const s = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext("2d");
  const [x0, y0, x1, y1] = spec.rect.map((v) => Math.round(v * s));
  const data = ctx.getImageData(x0, y0, x1 - x0, y1 - y0).data;
  const bg = spec.background;
  const segs = spec.segments.map((g) => g.map((v) => v * s));
  const tol = spec.tolerance * s;
  const dist = (px, py, [ax, ay, bx, by]) => {
    const dx = bx - ax, dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
    return Math.hypot(px - ax - t * dx, py - ay - t * dy);
  };
  let on = 0, stray = 0;
  const examples = [];
  const w = x1 - x0;
  for (let i = 0; i < data.length; i += 4) {
    const diff = Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1])
      + Math.abs(data[i + 2] - bg[2]);
    if (diff <= spec.threshold) continue;
    const px = x0 + ((i / 4) % w) + 0.5, py = y0 + Math.floor(i / 4 / w) + 0.5;
    if (segs.some((g) => dist(px, py, g) <= tol)) on++;
    else {
      stray++;
      if (examples.length < 5) examples.push([px / s, py / s, data[i], data[i + 1], data[i + 2]]);
    }
  }
  return { on, stray, examples };
}"""


class WidgetView:
    """One display of an AttentionWidget in the page, through its DOM contract."""

    def __init__(self, page: Page, root: Locator) -> None:
        self.page = page
        self.root = root

    # ------------------------------------------------------------- painting
    def painted(self) -> dict[str, Any] | None:
        raw = self.root.get_attribute("data-painted")
        return json.loads(raw) if raw else None

    def wait_paint(
        self, *, after: int | None = None, timeout_ms: float = 30_000, **want: Any
    ) -> dict[str, Any]:
        """Wait for a complete paint (not loading, not an estimate) of `want`, after `after`."""
        self.root.wait_for(state="attached", timeout=timeout_ms)
        handle = self.root.element_handle(timeout=timeout_ms)
        try:
            self.page.wait_for_function(
                """([el, want, after]) => {
                  const raw = el.dataset.painted;
                  if (!raw) return false;
                  const p = JSON.parse(raw);
                  if (p.loading) return false;
                  // An estimate (refining) is not the finished paint unless asked for.
                  if (p.refining && !("refining" in want)) return false;
                  if (after !== null && p.n <= after) return false;
                  return Object.entries(want).every(([k, v]) => p[k] === v);
                }""",
                arg=[handle, want, after],
                timeout=timeout_ms,
            )
        except Exception as error:
            raise AssertionError(
                f"no paint with {want} after n={after}; last painted: {self.painted()}; "
                f"status: {self.status()!r}"
            ) from error
        state = self.painted()
        assert state is not None
        return state

    def status(self) -> str:
        status = self.root.locator(".aw-status")
        return status.text_content() or "" if status.count() else ""

    # ------------------------------------------------------------- canvases
    @property
    def heatmap(self) -> Locator:
        return self.root.locator("canvas.aw-heatmap")

    @property
    def lines(self) -> Locator:
        return self.root.locator("canvas.aw-lines")

    def layout(self, canvas: Locator) -> dict[str, Any]:
        return json.loads(canvas.get_attribute("data-layout") or "null")

    def pixels(self, canvas: Locator, points: Sequence[tuple[float, float]]) -> list[list[int]]:
        return self.page.evaluate(_PIXELS_JS, [canvas.element_handle(), [list(p) for p in points]])

    def strongest(
        self,
        canvas: Locator,
        points: Sequence[tuple[float, float]],
        background: tuple[int, int, int],
        radius: float = 2,
    ) -> list[tuple[int, int, int]]:
        """Per point, the pixel within `radius` that stands out most from `background`."""
        found = self.page.evaluate(
            _STRONGEST_JS,
            [canvas.element_handle(), [list(p) for p in points], radius, list(background)],
        )
        return [(p[0], p[1], p[2]) for p in found]

    def cell_centre(self, q: int, k: int) -> tuple[float, float]:
        lay = self.layout(self.heatmap)
        return (lay["x0"] + (k + 0.5) * lay["cell"], lay["y0"] + (q + 0.5) * lay["cell"])

    def cell_colours(self, cells: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
        points = [self.cell_centre(q, k) for q, k in cells]
        return [(p[0], p[1], p[2]) for p in self.pixels(self.heatmap, points)]

    def matrix_colours(self) -> list[list[tuple[int, int, int]]]:
        lay = self.layout(self.heatmap)
        cells = [(q, k) for q in range(lay["nq"]) for k in range(lay["nk"])]
        flat = self.cell_colours(cells)
        return [flat[q * lay["nk"] : (q + 1) * lay["nk"]] for q in range(lay["nq"])]

    def token_y(self, index: int) -> float:
        lay = self.layout(self.lines)
        return lay["top"] + (index + 0.5) * lay["row"] - lay.get("scrollTop", 0)

    def line_pixels(
        self,
        segments: Sequence[tuple[int, int]],
        *,
        background: tuple[int, int, int],
        tolerance: float = 3.5,
        threshold: int = 24,
    ) -> dict[str, Any]:
        """Non-background pixels of the line area: near the given (query, key) lines, or not."""
        lay = self.layout(self.lines)
        xa, xb = lay["lineStartX"], lay["lineEndX"]
        segs = [[xa, self.token_y(q), xb, self.token_y(k)] for q, k in segments]
        spec = {
            "rect": [xa + 1, 0, xb - 1, lay["height"]],
            "background": list(background),
            "segments": segs,
            "tolerance": tolerance,
            "threshold": threshold,
        }
        return self.page.evaluate(_LINE_PIXELS_JS, [self.lines.element_handle(), spec])

    # ------------------------------------------------------------- controls
    def slider(self, dim: str) -> Locator:
        return self.root.locator(f"input.aw-slider[data-dim={dim}]")

    def value_label(self, dim: str) -> str:
        return self.root.locator(f"output.aw-value[data-dim={dim}]").text_content() or ""

    def set_slider(self, dim: str, value: float) -> None:
        """Set a slider's value and dispatch 'input', as a drag does."""
        self.slider(dim).evaluate(
            """(el, v) => {
              el.value = String(v);
              el.dispatchEvent(new Event("input", {bubbles: true}));
            }""",
            value,
        )

    def press_on_slider(self, dim: str, key: str) -> None:
        """Focus a slider and press a key: the keyboard path a user takes."""
        self.slider(dim).focus()
        self.page.keyboard.press(key)

    # ---------------------------------------------------------- interaction
    def hover_cell(self, q: int, k: int) -> None:
        x, y = self.cell_centre(q, k)
        self.heatmap.hover(position={"x": x, "y": y})

    def click_cell(self, q: int, k: int) -> None:
        x, y = self.cell_centre(q, k)
        self.heatmap.click(position={"x": x, "y": y})

    def hover_token(self, kind: Literal["query", "key"], index: int) -> None:
        lay = self.layout(self.lines)
        x = lay["leftX"] - 4 if kind == "query" else lay["rightX"] + 4
        self.lines.hover(position={"x": x, "y": self.token_y(index)})

    def tooltip(self) -> Locator:
        return self.root.locator(".aw-tooltip")

    def tooltip_text(self) -> str:
        tip = self.tooltip()
        tip.wait_for(state="visible", timeout=10_000)
        return tip.inner_text()
