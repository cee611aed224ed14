"""Long inputs in a real JupyterLab: N = 4,096 tokens, 1 layer x 2 heads, slices tier.

Cell 0 builds random queries and keys (small, so attention is nearly uniform)
with one planted cell per head: query QP[h] puts almost all its weight on key
KP[h]. `wl` shows them through a LazyAttention (weights computed in the kernel
when the view asks), `we` the same weights computed once (AttentionData).
`wx` is N = 16,384 with two cases: its tiles come first as an estimate, then exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from .browser_checks import VIRIDIS_HIGH, VIRIDIS_LOW, near
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser

N = 4096
# Planted (query, key) per head; far apart so a head's pattern cannot pass for the other's.
PLANTED = {0: (1000, 3000), 1: (3100, 500)}

SETUP = f"""
import numpy as np
import torch
import attn_widget as aw

N, D = {N}, 16
planted = {PLANTED!r}
g = torch.Generator().manual_seed(0)
Q = torch.randn(2, N, D, generator=g) * 0.1
K = torch.randn(2, N, D, generator=g) * 0.1
for h, (q, k) in planted.items():
    Q[h, q] = 0
    Q[h, q, 0] = 40.0
    K[h, k, 0] = 40.0
tokens = [f"t{{i}}" for i in range(N)]
for h, (q, k) in planted.items():
    tokens[q], tokens[k] = f"PQ{{h}}", f"PK{{h}}"
lazy = aw.LazyAttention([[Q]], [[K]], [tokens], scaling=D ** -0.5, causal=False)
eager = np.stack([lazy.matrix(0, h) for h in range(2)])[None]
wl = aw.AttentionWidget(lazy, byte_budget=1 << 20)
we = aw.AttentionWidget(eager, tokens, byte_budget=1 << 20)
"""
LONG = 16384
# Per case (query, key) of the one strong cell of head 0.
LONG_PLANTED = {0: (9000, 2000), 1: (12000, 15000)}
SETUP_LONG = f"""
NX = {LONG}
long_planted = {LONG_PLANTED!r}
gx = torch.Generator().manual_seed(1)
QX = [torch.randn(1, NX, D, generator=gx) * 0.1 for _ in range(2)]
KX = [torch.randn(1, NX, D, generator=gx) * 0.1 for _ in range(2)]
for c, (q, k) in long_planted.items():
    QX[c][0, q, 0] = 40.0
    KX[c][0, k, 0] = 40.0
long_lazy = aw.LazyAttention([[QX[0]], [QX[1]]], [[KX[0]], [KX[1]]],
                             [[f"x{{i}}" for i in range(NX)]] * 2, scaling=D ** -0.5)
wx = aw.AttentionWidget(long_lazy, byte_budget=1 << 20)
"""
CELLS = [SETUP, "wl", "we", SETUP_LONG, "wx"]
CELL_LAZY, CELL_EAGER, CELL_LONG = 1, 2, 4

# Largest channel difference between the matrix areas of two heatmap canvases.
_DIFF_JS = """([a, b]) => {
  const lay = JSON.parse(a.dataset.layout);
  const s = a.width / a.getBoundingClientRect().width;
  const x = Math.floor(lay.x0 * s), y = Math.floor(lay.y0 * s);
  const w = Math.floor(lay.nk * lay.cell * s), h = Math.floor(lay.nq * lay.cell * s);
  const da = a.getContext("2d").getImageData(x, y, w, h).data;
  const db = b.getContext("2d").getImageData(x, y, w, h).data;
  let worst = 0, differing = 0;
  for (let i = 0; i < da.length; i++) {
    const d = Math.abs(da[i] - db[i]);
    if (d > worst) worst = d;
    if (d > 2) differing++;
  }
  return {worst, differing, total: da.length, same: a.dataset.layout === b.dataset.layout};
}"""


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "long_inputs.ipynb", CELLS) as nb:
        yield nb


def reset(nb: Notebook, name: str, view: WidgetView, head: int = 0) -> dict[str, Any]:
    """Head `head`, the whole matrix (a double-click resets the zoom), mouse away."""
    nb.page.mouse.move(2, 300)
    view.heatmap.dblclick(position={"x": 3, "y": 3})
    nb.page.mouse.move(2, 300)
    nb.run_code(f"{name}.head = {head}\n{name}.selection = None")
    nb.page.wait_for_function(
        """([root, canvas, head, n]) => {
          if (!root.dataset.painted || !canvas.dataset.layout) return false;
          const p = JSON.parse(root.dataset.painted), lay = JSON.parse(canvas.dataset.layout);
          return !p.loading && !p.refining && p.head === head && lay.nq === n && lay.nk === n;
        }""",
        arg=[view.root.element_handle(), view.heatmap.element_handle(), head, N],
        timeout=60_000,
    )
    nb.next_frames()
    state = view.painted()
    assert state is not None
    return state


def point(view: WidgetView, q: float, k: float) -> tuple[float, float]:
    """The CSS pixel of matrix cell (q, k) in the heatmap's current window."""
    lay = view.layout(view.heatmap)
    return (
        lay["x0"] + (k - lay["k0"] + 0.5) * lay["cell"],
        lay["y0"] + (q - lay["q0"] + 0.5) * lay["cell"],
    )


def bright_at(view: WidgetView, cells: list[tuple[int, int]]) -> list[bool]:
    found = view.strongest(view.heatmap, [point(view, q, k) for q, k in cells], VIRIDIS_LOW, 1.5)
    return [near(c, VIRIDIS_HIGH, 30) for c in found]


def dark_at(view: WidgetView, cells: list[tuple[int, int]]) -> list[bool]:
    found = view.pixels(view.heatmap, [point(view, q, k) for q, k in cells])
    return [near(tuple(c), VIRIDIS_LOW, 12) for c in found]


def wait_settled(nb: Notebook, view: WidgetView, timeout_ms: float = 30_000) -> dict[str, Any]:
    """The view's latest paint is complete (its tiles arrived)."""
    nb.page.wait_for_function(
        """(el) => {
          if (!el.dataset.painted) return false;
          const p = JSON.parse(el.dataset.painted);
          return !p.loading && !p.refining;
        }""",
        arg=view.root.element_handle(),
        timeout=timeout_ms,
    )
    nb.next_frames()
    state = view.painted()
    assert state is not None
    return state


# ---------------------------------------------------------------------- tests
def test_first_paint_is_pooled_and_shows_the_planted_cell(lab: Notebook) -> None:
    view = lab.widget(CELL_LAZY)
    state = reset(lab, "wl", view)
    assert lab.eval_json("wl._meta['tier']") == "slices"
    assert state["requests"] >= 1
    lay = view.layout(view.heatmap)
    assert lay["fq"] > 1 and lay["fk"] > 1, lay
    assert (lay["nq"], lay["nk"], lay["q0"], lay["k0"]) == (N, N, 0, 0), lay
    q, k = PLANTED[0]
    assert bright_at(view, [(q, k)]) == [True]
    # The other head's planted cell and cells far from both are dark.
    q1, k1 = PLANTED[1]
    assert dark_at(view, [(q1, k1), (200, 200), (3900, 1800), (2000, 3900)]) == [True] * 4


def test_head_slider_repaints_with_the_right_slice(lab: Notebook) -> None:
    view = lab.widget(CELL_LAZY)
    first = reset(lab, "wl", view)
    view.set_slider("head", 1)
    moved = view.wait_paint(head=1, after=first["n"])
    # One request per slice shown at least (asked now, or earlier as a neighbour's prefetch).
    assert moved["requests"] >= 2
    assert bright_at(view, [PLANTED[1]]) == [True]
    assert dark_at(view, [PLANTED[0]]) == [True]
    assert lab.eval_json("wl.head") == 1
    view.set_slider("head", 0)
    view.wait_paint(head=0, after=moved["n"])
    assert bright_at(view, [PLANTED[0]]) == [True]
    assert dark_at(view, [PLANTED[1]]) == [True]


def test_wheel_zoom_to_the_planted_cell_at_full_resolution(lab: Notebook) -> None:
    view = lab.widget(CELL_LAZY)
    reset(lab, "wl", view, head=1)
    q, k = PLANTED[1]
    view.heatmap.scroll_into_view_if_needed()  # the wheel acts where the mouse is
    box = view.heatmap.bounding_box()
    assert box is not None
    for _ in range(40):
        lay = view.layout(view.heatmap)
        if lay["nq"] <= 16 and lay["nk"] <= 16:
            break
        # Aim at the planted cell in the current window (the anchor stays put, but
        # rounding of the window can move it by a cell).
        x, y = point(view, q, k)
        lab.page.mouse.move(box["x"] + x, box["y"] + y)
        lab.page.mouse.wheel(0, -100)
        lab.next_frames(1)
    state = wait_settled(lab, view)
    lay = view.layout(view.heatmap)
    assert lay["nq"] <= 16 and lay["nk"] <= 16, lay
    assert lay["fq"] == 1 and lay["fk"] == 1, lay
    assert state["fq"] == 1
    assert lay["q0"] <= q < lay["q0"] + lay["nq"] and lay["k0"] <= k < lay["k0"] + lay["nk"]
    # At full resolution the cell itself is bright and its neighbours are dark.
    assert bright_at(view, [(q, k)]) == [True]
    neighbours = [
        (a, b)
        for a, b in [(q - 1, k), (q + 1, k), (q, k - 1), (q, k + 1)]
        if lay["q0"] <= a < lay["q0"] + lay["nq"] and lay["k0"] <= b < lay["k0"] + lay["nk"]
    ]
    assert dark_at(view, neighbours) == [True] * len(neighbours)
    # Hovering names the planted tokens and the weight (softmax of a 400 / 4 logit: 1.0).
    x, y = point(view, q, k)
    view.heatmap.hover(position={"x": x, "y": y})
    lines = view.tooltip_text().splitlines()
    assert lines[0] == f"query {q}: PQ1", lines
    assert lines[1] == f"key {k}: PK1", lines
    value = float(lines[2].removeprefix("value: "))
    expected = lab.eval_json(f"float(lazy.matrix(0, 1)[{q}, {k}])")
    assert value == pytest.approx(expected, abs=1e-3)
    assert value > 0.99
    # The heatmap PDF of the zoomed view holds that window: its planted tokens,
    # one pixel per cell, the window in the file name.
    with lab.page.expect_download(timeout=120_000) as info:
        view.root.locator("button.aw-export[data-kind=heatmap]").click()
    q0, q1, k0, k1 = lay["q0"], lay["q0"] + lay["nq"], lay["k0"], lay["k0"] + lay["nk"]
    assert (
        info.value.suggested_filename == f"attention_L0_H1_case0_q{q0}-{q1}_k{k0}-{k1}_heatmap.pdf"
    )
    pdf = PdfReader(info.value.path())
    text = pdf.pages[0].extract_text()
    assert "PQ1" in text and "PK1" in text and f"queries {q0}–{q1 - 1}" in text
    assert pdf.pages[0].images[0].image.size == (k1 - k0, q1 - q0)  # then the colour bar
    reset(lab, "wl", view)
    assert view.layout(view.heatmap)["fq"] > 1


def test_lazy_and_eager_show_the_same_pixels(lab: Notebook) -> None:
    lazy, eager = lab.widget(CELL_LAZY), lab.widget(CELL_EAGER)
    for head in (0, 1):
        reset(lab, "wl", lazy, head=head)
        reset(lab, "we", eager, head=head)
        wait_settled(lab, lazy)
        wait_settled(lab, eager)
        diff = lab.page.evaluate(
            _DIFF_JS, [lazy.heatmap.element_handle(), eager.heatmap.element_handle()]
        )
        assert diff["same"], "the two views have different layouts"
        assert diff["differing"] == 0 and diff["worst"] <= 2, diff
        assert bright_at(eager, [PLANTED[head]]) == [True]


# Every paint's (case, refining) in order, recorded by the page itself.
_RECORD_JS = """(root) => {
  root.__paints = [];
  new MutationObserver(() => {
    const p = JSON.parse(root.dataset.painted || "null");
    if (p) root.__paints.push({case: p.case, refining: p.refining, loading: p.loading});
  }).observe(root, {attributes: true, attributeFilter: ["data-painted"]});
}"""


def test_at_16k_a_cold_case_paints_an_estimate_marked_refining_then_the_exact_tile(
    lab: Notebook,
) -> None:
    view = lab.widget(CELL_LONG)
    first = view.wait_paint(case=0, timeout_ms=60_000)
    lay = view.layout(view.heatmap)
    assert (lay["nq"], lay["nk"]) == (LONG, LONG) and lay["fq"] > 8, lay
    q, k = LONG_PLANTED[0]
    assert bright_at(view, [(q, k)]) == [True]
    # Case 1 is cold: the warm-up follows case 0, so nothing of case 1 is kept.
    lab.page.evaluate(_RECORD_JS, view.root.element_handle())
    lab.run_code("wx.case = 1")
    done = view.wait_paint(case=1, after=first["n"], timeout_ms=60_000)
    paints = lab.page.evaluate("(root) => root.__paints", view.root.element_handle())
    shown = [p["refining"] for p in paints if p["case"] == 1 and not p["loading"]]
    assert shown[0] is True and shown[-1] is False, paints  # estimate first, exact last
    assert view.root.get_attribute("data-stage") == "exact" and not done["refining"]
    q, k = LONG_PLANTED[1]
    assert bright_at(view, [(q, k)]) == [True]
    assert dark_at(view, [LONG_PLANTED[0], (100, 100), (16000, 300)]) == [True] * 3
