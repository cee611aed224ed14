"""The analysis widgets (compare, stability, evolution) in a real JupyterLab,
plus the overview grid and the regions overlay.

Cell 0 builds 8-token attentions of 2 layers x 3 heads where one cell,
(query 5, key 2) of layer 0 head 0, has known values in every input; the
other cells hold 0.1. A fourth widget has a planted bright block for the
regions overlay.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from .browser_checks import VIRIDIS_HIGH, VIRIDIS_LOW, near
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser

Q, K = 5, 2
BLOCK = (8, 4, 14, 10)  # rows 8..13, columns 4..9 (half-open), of a 24 x 24 matrix
REGION_COLOUR = (255, 45, 85)  # #ff2d55

SETUP = f"""
import numpy as np
import attn_widget as aw

tokens = ["<s>", "The", "cat", "sat", "on", "the", "mat", "."]
def filled(value):
    a = np.full((2, 3, 8, 8), 0.1, np.float32)
    a[0, 0, {Q}, {K}] = value
    return a

wc = aw.compare(filled(0.5), filled(0.25), tokens)
ws = aw.stability([filled(v) for v in (0.2, 0.4, 0.6)], tokens)
we = aw.evolution([filled(v) for v in (0.1, 0.3, 0.5)], tokens)

rng = np.random.default_rng(3)
m = 24
R = rng.uniform(0.0, 0.05, (1, 1, m, m)).astype(np.float32)
top, left, bottom, right = {BLOCK!r}
R[0, 0, top:bottom, left:right] = 0.9
wr = aw.AttentionWidget(R, [f"r{{i}}" for i in range(m)])

# The atlas: causal uniform heads, but layer 1 head 2 looks only at the token before.
P = np.zeros((2, 3, 8, 8), np.float32)
for i in range(8):
    P[:, :, i, : i + 1] = 1 / (i + 1)
P[1, 2] = 0
P[1, 2, 0, 0] = 1
for i in range(1, 8):
    P[1, 2, i, i - 1] = 1
wp = aw.AttentionWidget(P, [f"t{{i}}" for i in range(8)])
"""
CELLS = [SETUP, "wc", "ws", "we", "wr", "wp"]
CELL_COMPARE, CELL_STABILITY, CELL_EVOLUTION, CELL_REGIONS, CELL_ATLAS = 1, 2, 3, 4, 5

# Pixels near a colour in a rectangle of the canvas (CSS pixels), counted.
_COLOUR_COUNT_JS = """([canvas, rect, colour, tol]) => {
  const s = canvas.width / canvas.getBoundingClientRect().width;
  const [x0, y0, x1, y1] = rect.map((v) => Math.round(v * s));
  const d = canvas.getContext("2d").getImageData(x0, y0, x1 - x0, y1 - y0).data;
  let count = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - colour[0]) <= tol && Math.abs(d[i + 1] - colour[1]) <= tol
        && Math.abs(d[i + 2] - colour[2]) <= tol) count++;
  }
  return count;
}"""


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "analysis_views.ipynb", CELLS) as nb:
        yield nb


def shown(nb: Notebook, cell: int, name: str) -> WidgetView:
    """The widget of `cell` at layer 0 head 0, painted with its overlay, mouse away."""
    view = nb.widget(cell)
    nb.page.mouse.move(2, 300)
    nb.run_code(f"{name}.layer = 0\n{name}.head = 0\n{name}.selection = None")
    view.wait_paint(layer=0, head=0)
    nb.next_frames()
    return view


def hover_lines(nb: Notebook, view: WidgetView) -> list[str]:
    """The tooltip of cell (Q, K), once it shows the overlay's numbers."""
    view.hover_cell(Q, K)
    tip = view.tooltip()
    tip.wait_for(state="visible", timeout=10_000)
    nb.page.wait_for_function(
        "(el) => el.innerText.split('\\n').length > 3", arg=tip.element_handle(), timeout=10_000
    )
    lines = view.tooltip_text().splitlines()
    nb.page.mouse.move(2, 300)
    return lines


def test_compare_renders_and_tooltip_gives_a_b_and_delta(lab: Notebook) -> None:
    view = shown(lab, CELL_COMPARE, "wc")
    assert lab.cell(CELL_COMPARE).locator(".widget-error").count() == 0
    # Cells are coloured by A: (5, 2) is the maximum; a circle (B's colour) sits in it.
    lay = view.layout(view.heatmap)
    centre, corner = view.pixels(
        view.heatmap,
        [
            view.cell_centre(Q, K),
            (lay["x0"] + (K + 0.08) * lay["cell"], lay["y0"] + (Q + 0.08) * lay["cell"]),
        ],
    )
    assert near(tuple(corner), (253, 231, 37), 20), corner  # A = max: viridis top
    assert not near(tuple(centre), tuple(corner), 20), (centre, corner)  # B's circle
    lines = hover_lines(lab, view)
    assert lines[:2] == [f"query {Q}: the", f"key {K}: cat"], lines
    assert "A: 0.5" in lines and "B: 0.25" in lines, lines
    assert "Δ = A − B: 0.25" in lines, lines


def test_stability_tooltip_gives_mean_sem_and_n(lab: Notebook) -> None:
    view = shown(lab, CELL_STABILITY, "ws")
    lines = hover_lines(lab, view)
    assert lines[:2] == [f"query {Q}: the", f"key {K}: cat"], lines
    sem = 0.2 / 3**0.5  # sample std of 0.2, 0.4, 0.6 is 0.2
    values = dict(line.split(": ", 1) for line in lines[2:])
    assert float(values["mean"]) == pytest.approx(0.4, abs=1e-4), lines
    # Shown to 3 significant digits; the population std (ddof=0) would give 0.0943.
    assert float(values["sem"]) == pytest.approx(sem, abs=6e-4), lines
    assert values["n"] == "3", lines


def test_evolution_tooltip_gives_mean_and_series(lab: Notebook) -> None:
    view = shown(lab, CELL_EVOLUTION, "we")
    lines = hover_lines(lab, view)
    assert lines[:2] == [f"query {Q}: the", f"key {K}: cat"], lines
    values = dict(line.split(": ", 1) for line in lines[2:])
    assert float(values["mean"]) == pytest.approx(0.3, abs=1e-4), lines
    assert values["series"] == "0.1, 0.3, 0.5", lines


def test_overview_grid_click_selects_layer_and_head(lab: Notebook) -> None:
    view = shown(lab, CELL_COMPARE, "wc")
    view.root.locator(".aw-overview-toggle").click()
    grid = view.root.locator("canvas.aw-overview-grid")
    grid.wait_for(state="visible", timeout=10_000)
    lab.page.wait_for_function(
        "(el) => !!el.dataset.layout", arg=grid.element_handle(), timeout=10_000
    )
    lay = view.layout(grid)
    assert (lay["layers"], lay["heads"]) == (2, 3), lay
    layer, head = 1, 2
    grid.click(
        position={
            "x": lay["x0"] + head * lay["pitch"] + lay["thumb"] / 2,
            "y": lay["y0"] + layer * lay["pitch"] + lay["thumb"] / 2,
        }
    )
    view.wait_paint(layer=layer, head=head)
    assert lab.eval_json("[wc.layer, wc.head, wc.head_mean]") == [layer, head, False]
    view.root.locator(".aw-overview-toggle").click()
    grid.wait_for(state="hidden", timeout=10_000)


def test_choosing_a_score_sorts_the_atlas_with_the_top_head_first(lab: Notebook) -> None:
    view = shown(lab, CELL_ATLAS, "wp")
    view.root.locator(".aw-overview-toggle").click()
    grid = view.root.locator("canvas.aw-overview-grid")
    grid.wait_for(state="visible", timeout=10_000)
    painted = view.wait_paint()["n"]
    view.root.locator("select.aw-atlas-score").select_option("previous_token")
    view.root.locator("label:has(input.aw-atlas-sort)").click()
    view.wait_paint(after=painted)
    lab.page.wait_for_function(
        "(el) => JSON.parse(el.dataset.layout).order[0].join() === '1,2'",
        arg=grid.element_handle(),
        timeout=20_000,
    )
    lab.next_frames()
    lay = view.layout(grid)
    side = lay["thumb"] / 8  # 8 tokens in a 40-pixel thumbnail
    # The first place shows L1 H2: bright just below the diagonal, dark on it.
    below, on = view.pixels(grid, [(lay["x0"] + 4.5 * side, lay["y0"] + 5.5 * side),
                                   (lay["x0"] + 5.5 * side, lay["y0"] + 5.5 * side)])  # fmt: skip
    assert near(below, VIRIDIS_HIGH, 20) and near(on, VIRIDIS_LOW, 20), (below, on)
    assert lab.eval_json("wp.atlas") == "previous_token"
    grid.hover(position={"x": lay["x0"] + 20, "y": lay["y0"] + 20})
    tip = view.tooltip_text()
    assert "layer 1 · head 2" in tip and "previous token: 1" in tip, tip
    view.root.locator(".aw-overview-toggle").click()


def test_regions_toggle_draws_a_box_around_the_planted_block(lab: Notebook) -> None:
    view = shown(lab, CELL_REGIONS, "wr")
    lay = view.layout(view.heatmap)
    cell = lay["cell"]
    top, left, bottom, right = BLOCK

    def count(rect: tuple[float, float, float, float]) -> int:
        return lab.page.evaluate(
            _COLOUR_COUNT_JS,
            [view.heatmap.element_handle(), list(rect), list(REGION_COLOUR), 40],
        )

    def at(q: float, k: float) -> tuple[float, float]:
        return lay["x0"] + k * cell, lay["y0"] + q * cell

    outer = (*at(top - 0.5, left - 0.5), *at(bottom + 0.5, right + 0.5))
    inner = (*at(top + 0.5, left + 0.5), *at(bottom - 0.5, right - 0.5))
    whole = (0.0, 0.0, float(lay["width"]), float(lay["height"]))
    assert count(whole) == 0
    button = view.root.locator(".aw-regions-toggle")
    n = view.painted()["n"]  # type: ignore[index]
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    lab.page.wait_for_function(
        "([c, r, col]) => (" + _COLOUR_COUNT_JS + ")([c, r, col, 40]) > 0",
        arg=[view.heatmap.element_handle(), list(outer), list(REGION_COLOUR)],
        timeout=15_000,
    )
    view.wait_paint(after=n)
    ring, interior = count(outer), count(inner)
    # The box runs along the block's edges: at least its perimeter in pixels, not inside.
    perimeter = 2 * ((bottom - top) + (right - left)) * cell
    assert ring - interior >= perimeter * 0.8, (ring, interior, perimeter)
    assert interior <= ring * 0.05, (ring, interior)
    button.click()
    view.wait_paint()
    lab.page.wait_for_function(
        "([c, r, col]) => (" + _COLOUR_COUNT_JS + ")([c, r, col, 40]) === 0",
        arg=[view.heatmap.element_handle(), list(whole), list(REGION_COLOUR)],
        timeout=15_000,
    )


def test_pdf_button_of_an_analysis_widget_downloads(lab: Notebook, tmp_path: Any) -> None:
    """The heatmap button of an analysis widget exports the normal heatmap PDF."""
    if not hasattr(importlib.import_module("attn_widget.export"), "render_pdf"):
        pytest.skip("attn_widget.export.render_pdf is not written yet")
    view = shown(lab, CELL_COMPARE, "wc")
    button = view.root.locator("button.aw-export[data-kind=heatmap]")
    with lab.page.expect_download(timeout=120_000) as info:
        button.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(path).pages)
    assert "cat" in text and "mat" in text


def test_analysis_pdf_from_python(lab: Notebook) -> None:
    """`w.export_pdf(path)` writes the analysis figure (once export/analysis.py exists)."""
    try:
        importlib.import_module("attn_widget.export.analysis")
    except ImportError:
        pytest.skip("attn_widget/export/analysis.py is not written yet")
    for name in ("wc", "ws", "we"):
        head = lab.eval_json(
            f"open({name}.export_pdf('{name}.pdf') or '{name}.pdf', 'rb').read(5).decode()"
        )
        assert head == "%PDF-", name
