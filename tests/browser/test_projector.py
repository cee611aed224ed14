"""Projector mode fits the room: at 1024 x 768 and 1280 x 720 every picture is in view at once.

A saved page (no server) checks the window case, the ink of the labels and the
keys; a JupyterLab notebook (left sidebar collapsed, as when presenting) checks a
text widget of 24 tokens, a planted generation (text picture) and an image
widget at both sizes (the page resized within one session), and that the keys
reach Python: layers, heads, generation steps, the next / previous token
locked, and `?` listing the keys.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import attn_widget as aw

from .browser_checks import ARTIFACTS, save_screenshot
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser
SIZES = [(1024, 768), (1280, 720)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]
MIN_LABEL_PX = 18
WORDS = [
    *("the", "old", "teacher", "walked", "slowly", "into", "the", "quiet", "room", "and"),
    *("wrote", "a", "short", "sentence", "on", "the", "board", "for", "everyone", "to", "read"),
]
TOKENS = ["[CLS]", *WORDS, "[SEP]"]  # 24 tokens

# Boxes of the view's pictures, its label sizes and its fit, in CSS pixels of the page.
_MEASURE_JS = """(root) => {
  const rect = (el) => {
    const b = el.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom];
  };
  const boxes = {};
  for (const [name, sel] of [["heat", "canvas.aw-heatmap"], ["lines", "canvas.aw-lines"],
      ["text", "canvas.aw-text"], ["image", "canvas.aw-image"], ["choices", ".aw-choices"],
      ["caption", ".aw-image-caption"]]) {
    const el = root.querySelector(sel);
    if (el && el.getClientRects().length) boxes[name] = rect(el);
  }
  // The visible area: the window, and in JupyterLab the notebook's scroll pane.
  let [l, t, r, b] = [0, 0, window.innerWidth, window.innerHeight];
  const pane = root.closest(".jp-WindowedPanel-outer");
  if (pane) {
    const p = rect(pane);
    [l, t, r, b] = [Math.max(l, p[0]), Math.max(t, p[1]), Math.min(r, p[2]), Math.min(b, p[3])];
  }
  const px = (sel) => {
    const el = root.querySelector(sel);
    return el ? parseFloat(getComputedStyle(el).fontSize) : null;
  };
  const drawn = (sel) => {
    const el = root.querySelector(sel);
    return el && el.dataset.layout ? JSON.parse(el.dataset.layout).fontSize : null;
  };
  return {
    visible: [l, t, r, b], boxes, fit: JSON.parse(root.dataset.fit || "null"),
    fonts: {
      heat: drawn("canvas.aw-heatmap"), lines: drawn("canvas.aw-lines"),
      text: drawn("canvas.aw-text"), controls: px(".aw-controls"), buttons: px(".aw-button"),
      choices: px(".aw-choices"), caption: px(".aw-image-caption"),
    },
  };
}"""


def settle(view: WidgetView) -> None:
    """Bring the widget's top to the top of the visible area; wait until it stops repainting."""
    view.root.evaluate("r => r.scrollIntoView({block: 'start'})")
    last = -1
    for _ in range(40):
        view.page.evaluate(
            "async () => { for (let i = 0; i < 3; i++) await new Promise(requestAnimationFrame); }"
        )
        painted = view.painted()
        if painted and not painted["loading"] and painted["n"] == last:
            return
        last = painted["n"] if painted else -1
    raise AssertionError(f"the view kept repainting: {view.painted()}")


def wait_selection(view: WidgetView, selection: dict[str, Any] | None) -> dict[str, Any]:
    """Wait for a paint that shows `selection` locked; return that paint."""
    want = json.dumps(selection, separators=(",", ":"))
    view.page.wait_for_function(
        """([el, want]) => el.dataset.painted
             && JSON.stringify(JSON.parse(el.dataset.painted).selection) === want""",
        arg=[view.root.element_handle(), want],
        timeout=10_000,
    )
    painted = view.painted()
    assert painted is not None
    return painted


def assert_fits(view: WidgetView, pictures: list[str], where: str) -> dict[str, Any]:
    """Every picture's box lies in the visible area, at a readable scale, labels >= 18 px."""
    m = view.root.evaluate(_MEASURE_JS)
    left, top, right, bottom = m["visible"]
    assert sorted(p for p in m["boxes"] if p in pictures) == sorted(pictures), (where, m)
    for name, (x0, y0, x1, y1) in m["boxes"].items():
        assert x1 - x0 > 50 and y1 - y0 > 20, (where, name, m["boxes"][name])
        inside = x0 >= left - 0.5 and y0 >= top - 0.5 and x1 <= right + 0.5 and y1 <= bottom + 0.5
        assert inside, (
            f"{where}: {name} {[round(v) for v in m['boxes'][name]]} outside {m['visible']}"
        )
    assert m["fit"]["fits"] and m["fit"]["t"] >= 0, (where, m["fit"])  # not the last resort
    for part, size in m["fonts"].items():
        if size is not None:
            assert size >= MIN_LABEL_PX, (where, part, size)
    return m


# ------------------------------------------------------------------ saved page
def test_a_saved_page_fits_the_window_with_large_labels_and_keys(
    browser: Any, tmp_path: pathlib.Path
) -> None:
    n = len(TOKENS)
    rng = np.random.default_rng(2)
    a = rng.random((3, 1, 4, n, n)).astype(np.float32) ** 4
    a /= a.sum(-1, keepdims=True)
    page_path = aw.AttentionWidget(a, TOKENS, large=True).save_html(tmp_path / "projector.html")
    page = browser.new_page(viewport={"width": 1024, "height": 768}, device_scale_factor=1)
    try:
        page.goto(page_path.as_uri())
        view = WidgetView(page, page.locator(".aw-root"))
        view.wait_paint()
        for w, h in SIZES:
            page.set_viewport_size({"width": w, "height": h})
            settle(view)
            m = assert_fits(view, ["heat", "lines"], f"page {w}x{h}")
            print(f"page {w}x{h}: {json.dumps(m['fit']['sizes'])} t={m['fit']['t']}")
            if (w, h) == SIZES[0]:
                save_screenshot(page.screenshot(), "projector.png")
        # Measure the ink of the first query label: its glyphs are really that tall.
        lines = view.layout(view.lines)
        ink_rows = page.evaluate(
            """(l) => {
                const c = document.querySelector('canvas.aw-lines');
                const s = c.width / c.getBoundingClientRect().width;
                const w = Math.round(l.leftX * s), h = Math.round((l.top + l.row) * s);
                const data = c.getContext('2d').getImageData(0, 0, w, h).data;
                const bg = Array.from(data.slice(0, 3));
                let rows = 0;
                for (let y = 0; y < h; y++) {
                    for (let x = 0; x < w; x++) {
                        const o = (y * w + x) * 4;
                        const diff = Math.abs(data[o] - bg[0]) + Math.abs(data[o + 1] - bg[1]);
                        if (diff > 120) { rows++; break; }
                    }
                }
                return rows / s;
            }""",
            lines,
        )
        assert ink_rows >= 12, ink_rows  # "[CLS]" at 18 px: brackets span about 0.9 of the size
        # The keys, once the view has focus: layers, heads, the next / previous token.
        page.click("canvas.aw-lines", position={"x": 2, "y": 2})
        for key in ["]", ".", "j", "j", "j", "k"]:
            page.keyboard.press(key)
        p = wait_selection(view, {"kind": "query", "index": 1})
        assert (p["layer"], p["head"]) == (1, 1), p
        keys = page.locator(".aw-keys")
        assert keys.is_hidden()
        page.keyboard.press("?")
        keys.wait_for(state="visible")
        assert "lock the next token" in keys.inner_text()
        page.keyboard.press("Escape")
        keys.wait_for(state="hidden")
        assert view.painted()["selection"] is not None  # the first Escape only closed the list
        page.click(".aw-help")  # the ? button shows the same list
        keys.wait_for(state="visible")
        page.click(".aw-help")
        keys.wait_for(state="hidden")
        # Out of projector mode the view flows as before: small type, no fitted grid.
        page.click(".aw-projector-toggle")
        view.wait_paint(large=False)
        assert view.layout(view.heatmap)["fontSize"] < MIN_LABEL_PX
        assert view.root.get_attribute("data-fit") is None
        assert page.eval_on_selector(".aw-views", "v => getComputedStyle(v).display") == "flex"
    finally:
        page.close()


# ------------------------------------------------------------------ JupyterLab
PROMPT = 6
SETUP = f"""
import threading
import numpy as np
import attn_widget as aw
from attn_widget.extract.generate import Generation
from attn_widget.generation import GenerationWidget
from attn_widget.growing import GrowingAttention
from attn_widget.media import Media

tokens = {TOKENS!r}
n = len(tokens)
rng = np.random.default_rng(2)
a = rng.random((3, 1, 4, n, n)).astype(np.float32) ** 4
a /= a.sum(-1, keepdims=True)
wt = aw.AttentionWidget(a, tokens, large=True)

gtok = ["The", " cat", " sat", " on", " the", " mat", " because", " it", " was", " tired",
        " and", " it", " fell", " asleep", " in", " the", " warm", " sun", "."]
m = len(gtok)
part = GrowingAttention(2, 2, m, m)
for r in range(m):
    part.weights[:, :, r, : r + 1] = 1 / (r + 1)
part.publish(gtok, gtok)
part.finish()
pairs = [(" a", 0.5), (" b", 0.3), (" c", 0.1)]
top = [{{"token": t, "id": i, "probability": p}} for i, (t, p) in enumerate(pairs)]
steps = [{{"id": {PROMPT} + s, "token": gtok[{PROMPT} + s], "probability": 0.5, "top": top}}
         for s in range(m - {PROMPT})]
run = Generation(components={{"attention": part}}, prompt_ids=list(range({PROMPT})),
                 ids=list(range(m)), raw=gtok, tokens=gtok, steps=steps)
run.done.set()
wg = GenerationWidget(run, stop=threading.Event(), step=3, large=True)

k = 17  # [CLS] and 4 x 4 patches
itok = ["[CLS]"] + [f"p({{r}},{{c}})" for r in range(4) for c in range(4)]
image = aw.AttentionData(rng.random((2, 1, 2, k, k)).astype(np.float32), itok)
image.meta["media"] = {{
    "kind": "image", "axes": ["query", "key"], "size": [16, 16],
    "grid": {{"rows": 4, "cols": 4, "patch": [4, 4]}}, "patches": [list(range(1, 17))],
    "first": [1], "special": {{"[CLS]": 0}}, "query": [0],
}}
image.media = Media(images=[np.full((16, 16, 3), 128, np.uint8)])
wi = aw.AttentionWidget(image, large=True)
"""
CELLS = [SETUP, "wt", "wg", "wi"]
CELL_TEXT, CELL_GENERATION, CELL_IMAGE = 1, 2, 3
PICTURES = {
    CELL_TEXT: ["heat", "lines"],
    CELL_GENERATION: ["heat", "lines", "text", "choices"],
    CELL_IMAGE: ["heat", "lines", "image", "caption"],
}


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "projector.ipynb", CELLS) as nb:
        # Presenting: the file browser folded away (at 1024 px it would take a quarter).
        nb.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        yield nb


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_in_jupyterlab_every_picture_is_in_view_at_once(
    lab: Notebook, size: tuple[int, int]
) -> None:
    w, h = size
    lab.page.set_viewport_size({"width": w, "height": h})
    for cell, pictures in PICTURES.items():
        view = lab.widget(cell)
        view.wait_paint()
        settle(view)
        m = assert_fits(view, pictures, f"lab {w}x{h} cell {cell}")
        print(f"lab {w}x{h} cell {cell}: {json.dumps(m['fit']['sizes'])} t={m['fit']['t']}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        lab.page.screenshot(path=str(ARTIFACTS / f"projector-lab-{w}x{h}-cell{cell}.png"))


def test_in_jupyterlab_the_keys_reach_python_and_stay_out_of_the_notebook(lab: Notebook) -> None:
    lab.page.set_viewport_size({"width": 1024, "height": 768})
    text = lab.widget(CELL_TEXT)
    settle(text)
    text.heatmap.click(position={"x": 2, "y": 2})  # a corner: focus, no lock
    active = lab.active_cell_index()
    for key in ["]", ".", ".", "j", "j", "ArrowDown", "k"]:
        lab.page.keyboard.press(key)
    painted = wait_selection(text, {"kind": "query", "index": 1})
    assert (painted["layer"], painted["head"]) == (1, 2), painted
    # j, k and the arrows moved no notebook cell (command mode binds them).
    assert lab.active_cell_index() == active
    assert lab.eval_json("[wt.layer, wt.head, wt.selection]") == [
        1,
        2,
        {"kind": "query", "index": 1},
    ]

    gen = lab.widget(CELL_GENERATION)
    settle(gen)
    gen.heatmap.click(position={"x": 2, "y": 2})
    for key in [">", "<", "<"]:
        lab.page.keyboard.press(key)
    gen.wait_paint(step=2)
    # With nothing locked, the walk starts after the row that wrote step 2's token.
    lab.page.keyboard.press("j")
    p = wait_selection(gen, {"kind": "query", "index": PROMPT + 1})
    assert p["step"] == 2
    keys = gen.root.locator(".aw-keys")
    lab.page.keyboard.press("?")
    keys.wait_for(state="visible")
    listed = keys.inner_text()
    assert "previous / next generation step" in listed and "lock the previous token" in listed
    box = keys.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768
    lab.page.keyboard.press("Escape")  # closes the list, keeps the lock
    keys.wait_for(state="hidden")
    assert wait_selection(gen, {"kind": "query", "index": PROMPT + 1})
    # Read back in Python last: running a cell takes the focus from the view.
    assert lab.eval_json("[wg.step, wg.selection]") == [2, {"kind": "query", "index": PROMPT + 1}]
