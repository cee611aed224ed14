"""The widget in a real JupyterLab, driven by chromium: pixels, sliders, hover,
selection, the kernel round trip, a second display, themes and export.

One notebook serves the whole module. Cell 0 builds the widgets from a known
pattern (see browser_checks.PATTERN_SETUP); the cells after it display them.
Each test first puts the widget back into a known state from Python.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from .browser_checks import (
    CAUSAL,
    DEMO_SETUP,
    DIAGONAL,
    FIRST,
    HIGHLIGHT_LIGHT,
    PATTERN_SETUP,
    PREVIOUS,
    VIRIDIS_HIGH,
    VIRIDIS_LOW,
    XSS_TOKEN,
    is_dark,
    luminance,
    near,
    pattern_of,
    save_screenshot,
    stands_out,
    viridis,
)
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser

CELLS = [
    PATTERN_SETUP
    + """
w1 = aw.AttentionWidget(A[:, :1], tokens)             # one head
ws = aw.AttentionWidget(A, tokens, byte_budget=256)   # forces the "slices" tier
"""
    + DEMO_SETUP,
    "w",
    "w",  # a second display of the same widget
    "w1",
    "ws",
    "demo",
]
CELL_W, CELL_W_AGAIN, CELL_ONE_HEAD, CELL_SLICES, CELL_DEMO = 1, 2, 3, 4, 5
WHITE = (255, 255, 255)


def bright(c: tuple[int, int, int]) -> bool:
    return near(c, VIRIDIS_HIGH, 20)


def not_low(c: tuple[int, int, int]) -> bool:
    return not near(c, VIRIDIS_LOW, 6)


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "widget_lab.ipynb", CELLS) as nb:
        yield nb


def reset(nb: Notebook, name: str, view: WidgetView, **state: Any) -> dict[str, Any]:
    """Put widget `name` into a known state from Python, the mouse away from it."""
    nb.page.mouse.move(2, 300)
    values = {"selection": None, "head_mean": False, "gamma": 1.0, "layer": 0, "head": 0}
    values.update(state)
    nb.run_code("\n".join(f"{name}.{k} = {v!r}" for k, v in values.items()))
    nb.next_frames()
    want = {k: v for k, v in values.items() if k in ("layer", "head", "gamma")}
    return view.wait_paint(mean=values["head_mean"], **want)


@pytest.fixture
def w(lab: Notebook) -> WidgetView:
    view = lab.widget(CELL_W)
    reset(lab, "w", view)
    return view


def midpoint(view: WidgetView, q: int, k: int) -> tuple[float, float]:
    lay = view.layout(view.lines)
    return (
        (lay["lineStartX"] + lay["lineEndX"]) / 2,
        (view.token_y(q) + view.token_y(k)) / 2,
    )


def line_colours(
    view: WidgetView,
    pairs: list[tuple[int, int]],
    background: tuple[int, int, int] = (255, 255, 255),
) -> list[tuple[int, int, int]]:
    """The colour of each line (query, key) at its middle."""
    return view.strongest(view.lines, [midpoint(view, q, k) for q, k in pairs], background)


# ---------------------------------------------------------------------- tests
def test_first_paint_shows_the_diagonal(lab: Notebook, w: WidgetView) -> None:
    state = w.painted()
    assert state is not None
    assert state["requests"] == 0, "the cube tier must not ask the kernel for slices"
    colours = w.matrix_colours()
    assert pattern_of(colours, bright) == DIAGONAL
    off = [c for q, row in enumerate(colours) for k, c in enumerate(row) if q != k]
    assert all(near(c, VIRIDIS_LOW, 6) for c in off), off
    # Light theme: the canvases are drawn on a light background.
    assert near(tuple(w.pixels(w.heatmap, [(2, 2)])[0]), WHITE, 8)
    assert near(tuple(w.pixels(w.lines, [(2, 2)])[0]), WHITE, 8)
    # Lines: one per token, straight across, nothing else.
    found = w.line_pixels(sorted(DIAGONAL), background=WHITE)
    assert found["stray"] == 0, found
    assert found["on"] > 8 * 100
    assert w.value_label("layer") == "0"
    assert w.value_label("gamma") == "1.00"
    assert lab.cell(CELL_W).locator(".widget-error").count() == 0
    assert lab.windowing_mode() == "none"


def test_layer_slider_by_keyboard_reaches_the_kernel(lab: Notebook, w: WidgetView) -> None:
    n = w.painted()["n"]  # type: ignore[index]
    active = lab.active_cell_index()
    w.press_on_slider("layer", "ArrowRight")
    w.wait_paint(layer=1, after=n)
    assert pattern_of(w.matrix_colours(), bright) == PREVIOUS
    assert lab.eval_json("w.layer") == 1
    assert w.value_label("layer") == "1"
    # The notebook did not take the arrow key for itself.
    assert lab.active_cell_index() == active

    n = w.painted()["n"]  # type: ignore[index]
    w.press_on_slider("layer", "ArrowLeft")
    w.wait_paint(layer=0, after=n)
    assert pattern_of(w.matrix_colours(), bright) == DIAGONAL
    assert lab.eval_json("w.layer") == 0


def test_python_sets_head_and_layer_and_the_view_repaints(lab: Notebook, w: WidgetView) -> None:
    n = w.painted()["n"]  # type: ignore[index]
    lab.run_code("w.head = 1")
    w.wait_paint(layer=0, head=1, after=n)
    colours = w.matrix_colours()
    assert pattern_of(colours, not_low) == CAUSAL
    # Exact colours: viridis(value / max) with max 1 and value 1 / (q + 1).
    for q, k in [(0, 0), (1, 0), (3, 2), (7, 5)]:
        assert near(colours[q][k], viridis(1 / (q + 1)), 10), (q, k, colours[q][k])
    assert w.slider("head").input_value() == "1"

    n = w.painted()["n"]  # type: ignore[index]
    lab.run_code("w.layer = 1")
    w.wait_paint(layer=1, head=1, after=n)
    assert pattern_of(w.matrix_colours(), bright) == FIRST
    assert w.slider("layer").input_value() == "1"
    assert w.value_label("layer") == "1"


def test_hovering_a_token_leaves_only_its_lines(lab: Notebook, w: WidgetView) -> None:
    reset(lab, "w", w, head=1)  # causal uniform: query q has lines to keys 0..q
    everything = w.line_pixels(sorted(CAUSAL), background=WHITE)
    assert everything["stray"] == 0, everything
    query5 = [(5, k) for k in range(6)]
    assert w.line_pixels(query5, background=WHITE)["stray"] > 100, "other lines are drawn"

    n = w.painted()["n"]  # type: ignore[index]
    w.hover_token("query", 5)
    w.wait_paint(after=n)
    only = w.line_pixels(query5, background=WHITE)
    assert only["stray"] == 0, only
    colours = line_colours(w, query5)
    assert all(stands_out(c, WHITE) for c in colours), colours
    assert w.tooltip_text().splitlines() == ["query 5: the"]
    # The heatmap highlights row 5 (just left of the matrix).
    lay = w.layout(w.heatmap)
    edge = w.pixels(w.heatmap, [(lay["x0"] - 1, lay["y0"] + 5.5 * lay["cell"])])[0]
    assert near(tuple(edge), HIGHLIGHT_LIGHT, 40), edge

    n = w.painted()["n"]  # type: ignore[index]
    w.hover_token("key", 0)
    w.wait_paint(after=n)
    key0 = [(q, 0) for q in range(8)]
    only = w.line_pixels(key0, background=WHITE)
    assert only["stray"] == 0, only
    colours = line_colours(w, key0)
    assert all(stands_out(c, WHITE) for c in colours), colours
    edge = w.pixels(w.heatmap, [(lay["x0"] + 0.5 * lay["cell"], lay["y0"] - 1)])[0]
    assert near(tuple(edge), HIGHLIGHT_LIGHT, 40), edge


def test_hovering_a_cell_shows_tokens_and_value(lab: Notebook, w: WidgetView) -> None:
    reset(lab, "w", w, head=1)
    n = w.painted()["n"]  # type: ignore[index]
    w.hover_cell(5, 2)
    w.wait_paint(after=n)
    assert w.tooltip_text().splitlines() == ["query 5: the", "key 2: cat", "value: 0.1667"]
    # Its line is drawn in the highlight colour.
    (colour,) = line_colours(w, [(5, 2)])
    assert near(colour, HIGHLIGHT_LIGHT, 40), colour
    w.page.mouse.move(2, 300)
    w.tooltip().wait_for(state="hidden")


def test_malicious_token_is_shown_as_text(lab: Notebook, w: WidgetView) -> None:
    reset(lab, "w", w, head=1)
    w.hover_cell(3, 0)
    assert w.tooltip_text().splitlines() == [f"query 3: {XSS_TOKEN}", "key 0: <s>", "value: 0.25"]
    w.hover_token("key", 3)
    assert w.tooltip_text().splitlines() == [f"key 3: {XSS_TOKEN}"]
    page = lab.page
    assert page.locator(".aw-root img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0


def test_click_locks_the_selection_and_escape_unlocks(lab: Notebook, w: WidgetView) -> None:
    reset(lab, "w", w, head=1)
    w.click_cell(5, 2)
    assert lab.eval_json("w.selection") == {"kind": "cell", "q": 5, "k": 2}
    # Moving on does not move a locked selection.
    n = w.painted()["n"]  # type: ignore[index]
    w.hover_cell(1, 1)
    w.wait_paint(after=n)
    (colour,) = line_colours(w, [(5, 2)])
    assert near(colour, HIGHLIGHT_LIGHT, 40), colour
    # A second click unlocks.
    w.click_cell(5, 2)
    assert lab.eval_json("w.selection") is None

    # A token in the line picture locks too, and keeps its lines when the mouse leaves;
    # Escape (the picture has the focus) unlocks.
    lay = w.layout(w.lines)
    w.lines.click(position={"x": lay["leftX"] - 4, "y": w.token_y(4)})
    n = w.painted()["n"]  # type: ignore[index]
    w.page.mouse.move(2, 300)
    w.wait_paint(after=n)
    query4 = [(4, k) for k in range(5)]
    assert w.line_pixels(query4, background=WHITE)["stray"] == 0
    n = w.painted()["n"]  # type: ignore[index]
    lab.page.keyboard.press("Escape")
    w.wait_paint(after=n)
    assert w.line_pixels(query4, background=WHITE)["stray"] > 100
    assert lab.eval_json("w.selection") is None

    # Python locks a key: the view shows that key's lines only.
    w.page.mouse.move(2, 300)
    n = w.painted()["n"]  # type: ignore[index]
    lab.run_code("w.selection = {'kind': 'key', 'index': 2}")
    w.wait_paint(after=n)
    key2 = [(q, 2) for q in range(2, 8)]
    only = w.line_pixels(key2, background=WHITE)
    assert only["stray"] == 0, only


def test_escape_unlocks_a_heatmap_selection(lab: Notebook, w: WidgetView) -> None:
    w.click_cell(5, 2)
    n = w.painted()["n"]  # type: ignore[index]
    w.page.mouse.move(2, 300)
    w.wait_paint(after=n)
    lab.page.keyboard.press("Escape")
    lab.page.wait_for_timeout(200)
    assert lab.eval_json("w.selection") is None


def test_second_display_stays_in_sync(lab: Notebook, w: WidgetView) -> None:
    other = lab.widget(CELL_W_AGAIN)
    other.wait_paint(layer=0, head=0)
    n = w.painted()["n"]  # type: ignore[index]
    other.set_slider("head", 1)
    other.wait_paint(head=1)
    w.wait_paint(head=1, after=n)
    assert lab.eval_json("w.head") == 1
    assert w.matrix_colours() == other.matrix_colours()
    assert w.slider("head").input_value() == "1"

    n1, n2 = w.painted()["n"], other.painted()["n"]  # type: ignore[index]
    lab.run_code("w.layer = 1")
    w.wait_paint(layer=1, head=1, after=n1)
    other.wait_paint(layer=1, head=1, after=n2)
    assert pattern_of(other.matrix_colours(), bright) == FIRST


def test_gamma_slider_changes_intensity(lab: Notebook, w: WidgetView) -> None:
    reset(lab, "w", w, head=1)
    before = w.cell_colours([(0, 0), (1, 0), (7, 0)])
    assert near(before[1], viridis(0.5), 10) and near(before[2], viridis(1 / 8), 10)
    lines_before = line_colours(w, [(1, 0)])[0]
    w.set_slider("gamma", 2)
    w.wait_paint(gamma=2)
    after = w.cell_colours([(0, 0), (1, 0), (7, 0)])
    assert near(after[0], VIRIDIS_HIGH, 10)
    assert near(after[1], viridis(0.25), 10), after
    assert near(after[2], viridis(1 / 64), 10), after
    assert luminance(after[1]) < luminance(before[1])
    # The lines fade with the same rule.
    assert luminance(line_colours(w, [(1, 0)])[0]) > luminance(lines_before)
    assert w.value_label("gamma") == "2.00"
    assert lab.eval_json("w.gamma") == 2.0


def test_mean_of_heads(lab: Notebook, w: WidgetView) -> None:
    lab.page.locator(".jp-Cell").nth(CELL_W).locator("input.aw-head-mean").check()
    w.wait_paint(mean=True)
    assert lab.eval_json("w.head_mean") is True
    # Layer 0: (diagonal + causal uniform) / 2; its maximum is 1 at (0, 0).
    colours = w.cell_colours([(0, 0), (1, 0), (1, 1)])
    assert near(colours[0], VIRIDIS_HIGH, 10)
    assert near(colours[1], viridis(0.25), 10)
    assert near(colours[2], viridis(0.75), 10)


def test_one_head_widget_shows_the_head_slider_disabled(lab: Notebook) -> None:
    view = lab.widget(CELL_ONE_HEAD)
    view.wait_paint()
    head = view.slider("head")
    assert head.is_visible() and head.is_disabled()
    assert view.slider("case").is_visible() and view.slider("case").is_disabled()
    assert view.slider("layer").is_enabled()
    assert view.root.locator("input.aw-head-mean").is_disabled()
    assert view.root.locator(".aw-component-select").is_hidden()
    assert pattern_of(view.matrix_colours(), bright) == DIAGONAL


def test_slices_tier_asks_the_kernel(lab: Notebook) -> None:
    view = lab.widget(CELL_SLICES)
    assert lab.eval_json("ws._meta['tier']") == "slices"
    assert lab.eval_json("len(ws._cube)") == 0
    first = reset(lab, "ws", view)
    # Nothing is in the page but what the kernel sent: at least one request per slice
    # shown (asked when wanted, or earlier, as a neighbour's prefetch).
    assert first["requests"] >= 1
    assert pattern_of(view.matrix_colours(), bright) == DIAGONAL

    view.set_slider("layer", 1)
    moved = view.wait_paint(layer=1)
    assert moved["requests"] >= 2
    assert pattern_of(view.matrix_colours(), bright) == PREVIOUS
    assert lab.eval_json("ws.layer") == 1

    view.set_slider("head", 1)
    moved = view.wait_paint(layer=1, head=1)
    assert moved["requests"] >= 3
    assert pattern_of(view.matrix_colours(), bright) == FIRST

    # A hovered token's lines (from the slice the kernel sent).
    n = view.painted()["n"]  # type: ignore[index]
    view.hover_token("query", 5)
    view.wait_paint(after=n)
    only = view.line_pixels([(5, 0)], background=WHITE)
    assert only["stray"] == 0 and only["on"] > 100, only


def test_export_button_downloads_a_pdf(lab: Notebook, w: WidgetView, tmp_path: Any) -> None:
    if not _has_export():
        pytest.skip("attn_widget.export.render_pdf is not written yet")
    from pypdf import PdfReader

    button = w.root.locator("button.aw-export[data-kind=heatmap]")
    with lab.page.expect_download(timeout=120_000) as info:
        button.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(path).pages)
    assert "cat" in text and "mat" in text
    assert "downloaded" in w.status()


def _has_export() -> bool:
    try:
        module = importlib.import_module("attn_widget.export")
    except ImportError:
        return False
    return hasattr(module, "render_pdf")


def test_dark_theme(lab: Notebook) -> None:
    demo = lab.widget(CELL_DEMO)
    w = lab.widget(CELL_W)
    demo.wait_paint(layer=2, head=3)
    lab.page.mouse.move(2, 300)
    lab.next_frames()
    save_screenshot(demo.root.screenshot(), "widget-light.png")

    n_demo, n_w = demo.painted()["n"], w.painted()["n"]  # type: ignore[index]
    try:
        lab.set_theme("JupyterLab Dark")
        demo.wait_paint(after=n_demo)
        w.wait_paint(after=n_w)
        lab.page.wait_for_function(
            """(el) => {
              const d = el.getContext("2d").getImageData(2, 2, 1, 1).data;
              return d[0] + d[1] + d[2] < 200;
            }""",
            arg=w.heatmap.element_handle(),
            timeout=10_000,
        )
        for view in (w, demo):
            for canvas in (view.heatmap, view.lines):
                background = tuple(view.pixels(canvas, [(2, 2)])[0])
                assert is_dark(background), background
        # The colour map is the same; the text and lines follow the theme.
        assert pattern_of(w.matrix_colours(), bright) == DIAGONAL
        lab.next_frames()
        save_screenshot(demo.root.screenshot(), "widget-dark.png")
    finally:
        lab.set_theme("JupyterLab Light")
    w.wait_paint()
    lab.page.wait_for_function(
        """(el) => {
          const d = el.getContext("2d").getImageData(2, 2, 1, 1).data;
          return d[0] + d[1] + d[2] > 600;
        }""",
        arg=w.heatmap.element_handle(),
        timeout=10_000,
    )


def test_requests_beyond_localhost_are_blocked_and_recorded(lab: Notebook) -> None:
    """The guard itself: what a widget might fetch from the internet is caught."""
    session = lab.session
    assert session is not None
    count = len(session.blocked)
    failed = lab.page.evaluate(
        """async () => {
          try { await fetch("https://example.com/attn.js"); return false; } catch { return true; }
        }"""
    )
    lab.page.evaluate("""() => { new WebSocket("wss://example.com/socket"); }""")
    lab.page.wait_for_timeout(300)
    caught = session.blocked[count:]
    del session.blocked[count:]  # expected here: not a failure of this test
    assert failed
    assert any(u.startswith("https://example.com/attn.js") for u in caught), caught
    assert any(u.startswith("wss://example.com/socket") for u in caught), caught
