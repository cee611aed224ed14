"""The image and audio pictures in a real JupyterLab, on planted attention.

Cell 0 builds two sources by hand, as extraction would describe them
(``meta["media"]`` and ``source.media``): a 16 x 16 grey image of 4 x 4
patches where patch (2, 3) attends only to patch (0, 0) (everything else is
uniform), and 50 audio positions (0.02 s each) where position 10 attends only
to position 20.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .browser_checks import HIGHLIGHT_LIGHT, VIRIDIS_HIGH, VIRIDIS_LOW, near
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser

GREY = 128
SETUP = f"""
import numpy as np
import attn_widget as aw
from attn_widget.media import Media

n = 17  # [CLS] and 4 x 4 patches
a = np.full((1, 1, n, n), 1 / n, np.float32)
a[0, 0, 12] = 0
a[0, 0, 12, 1] = 1.0  # p(2,3) (token 1 + 2*4 + 3) looks only at p(0,0) (token 1)
tokens = ["[CLS]"] + [f"p({{r}},{{c}})" for r in range(4) for c in range(4)]
image = aw.AttentionData(a, tokens)
image.meta["media"] = {{
    "kind": "image", "axes": ["query", "key"], "size": [16, 16],
    "grid": {{"rows": 4, "cols": 4, "patch": [4, 4]}}, "patches": [list(range(1, 17))],
    "first": [1], "special": {{"[CLS]": 0}}, "query": [0],
}}
image.media = Media(images=[np.full((16, 16, 3), {GREY}, np.uint8)])
wi = aw.AttentionWidget(image)

m = 50
b = np.full((1, 1, m, m), 1 / m, np.float32)
b[0, 0, 10] = 0
b[0, 0, 10, 20] = 1.0
audio = aw.AttentionData(b, [f"{{0.02 * i:.2f}}s" for i in range(m)])
audio.meta["media"] = {{
    "kind": "audio", "axes": ["query", "key"], "seconds_per_position": 0.02, "positions": m,
    "sampling_rate": 16000, "duration": [1.0], "audio_positions": [m],
    "envelope": {{"bins": 4 * m, "seconds_per_bin": 0.005}},
}}
wave = np.sin(np.linspace(0, 40, 4 * m)).astype(np.float32) * 0.5
audio.media = Media(envelopes=[np.stack([-np.abs(wave), np.abs(wave)], 1)])
wa = aw.AttentionWidget(audio)
"""
CELLS = [SETUP, "wi", "wa"]
CELL_IMAGE, CELL_AUDIO = 1, 2


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "media_views.ipynb", CELLS) as nb:
        yield nb


def cell_centre(layout: dict[str, Any], r: int, c: int) -> tuple[float, float]:
    side = layout["ph"] * layout["scale"]
    return layout["x0"] + (c + 0.5) * side, layout["y0"] + (r + 0.5) * side


def test_hovering_a_patch_lights_exactly_the_patch_it_attends_to(lab: Notebook) -> None:
    view: WidgetView = lab.widget(CELL_IMAGE)
    view.wait_paint()
    canvas = view.root.locator("canvas.aw-image")
    layout = view.layout(canvas)
    x, y = cell_centre(layout, 2, 3)
    painted = view.painted()["n"]
    canvas.hover(position={"x": x, "y": y})
    view.wait_paint(after=painted)
    lab.next_frames()
    cells = [(r, c) for r in range(4) for c in range(4)]
    colours = view.pixels(canvas, [cell_centre(layout, r, c) for r, c in cells])
    bright = [
        cell
        for cell, colour in zip(cells, colours, strict=True)
        if not near(colour, (GREY,) * 3, 4)
    ]
    assert bright == [(0, 0)], colours
    # The overlay at the top of the scale is the colour map's top colour over the grey.
    assert near(colours[0], tuple(int(0.8 * v + 0.2 * GREY) for v in VIRIDIS_HIGH), 14), colours[0]
    assert "p(2,3)" in (view.root.locator(".aw-image-caption").text_content() or "")
    # The heatmap lights the hovered patch's row (query 12): its outline in the highlight colour.
    heat = view.layout(view.heatmap)
    row_y = heat["y0"] + 12.5 * heat["cell"]
    (left,) = view.pixels(view.heatmap, [(heat["x0"] - 1.0, row_y)])
    assert near(left, HIGHLIGHT_LIGHT, 40), left


def test_hovering_a_heatmap_cell_outlines_both_patches(lab: Notebook) -> None:
    view = lab.widget(CELL_IMAGE)
    lab.page.mouse.move(2, 2)
    painted = view.wait_paint()["n"]
    view.hover_cell(6, 11)  # p(1,1) attending to p(2,2)
    view.wait_paint(after=painted)
    lab.next_frames()
    canvas = view.root.locator("canvas.aw-image")
    layout = view.layout(canvas)
    side = layout["ph"] * layout["scale"]

    def edge(r: int, c: int) -> tuple[float, float]:
        return layout["x0"] + c * side + 0.4, layout["y0"] + (r + 0.5) * side

    outlined = view.pixels(canvas, [edge(1, 1), edge(2, 2), edge(3, 0)])
    assert near(outlined[0], HIGHLIGHT_LIGHT, 40) and near(outlined[1], HIGHLIGHT_LIGHT, 40)
    assert not near(outlined[2], HIGHLIGHT_LIGHT, 40)


def test_the_audio_strip_shows_the_planted_time(lab: Notebook) -> None:
    view = lab.widget(CELL_AUDIO)
    view.wait_paint()
    canvas = view.root.locator("canvas.aw-audio")
    layout = view.layout(canvas)
    at = lambda p: layout["x0"] + (p + 0.5) * layout["perPosition"]  # noqa: E731
    painted = view.painted()["n"]
    canvas.hover(position={"x": at(10), "y": layout["stripTop"] + 5})
    view.wait_paint(after=painted)
    lab.next_frames()
    band = layout["bandTop"] + layout["bandHeight"] / 2
    planted, elsewhere = view.pixels(canvas, [(at(20), band), (at(35), band)])
    assert near(planted, VIRIDIS_HIGH, 14), planted
    assert near(elsewhere, VIRIDIS_LOW, 14), elsewhere
    caption = view.root.locator(".aw-audio-caption").text_content() or ""
    assert "0.20s (query 10)" in caption, caption
