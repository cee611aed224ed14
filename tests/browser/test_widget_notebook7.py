"""The same smoke test in Notebook 7: render, pixels, slider → kernel, Python → view,
hover, and the malicious token shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .browser_checks import (
    DIAGONAL,
    PATTERN_SETUP,
    PREVIOUS,
    VIRIDIS_HIGH,
    VIRIDIS_LOW,
    XSS_TOKEN,
    near,
    pattern_of,
)
from .driver import JupyterServer, Notebook

pytestmark = pytest.mark.browser

WHITE = (255, 255, 255)


@pytest.fixture(scope="module")
def nb7(browser: object, notebook7_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, notebook7_server, "widget_nb7.ipynb", [PATTERN_SETUP, "w"]) as nb:
        yield nb


def test_notebook7_smoke(nb7: Notebook) -> None:
    assert "/notebooks/" in nb7.page.url
    assert nb7.windowing_mode() == "none"
    w = nb7.widget(1)
    first = w.wait_paint(layer=0, head=0)
    assert first["requests"] == 0
    colours = w.matrix_colours()
    assert pattern_of(colours, lambda c: near(c, VIRIDIS_HIGH, 20)) == DIAGONAL
    assert all(
        near(c, VIRIDIS_LOW, 6)
        for q, row in enumerate(colours)
        for k, c in enumerate(row)
        if q != k
    )
    assert w.line_pixels(sorted(DIAGONAL), background=WHITE)["stray"] == 0

    # Keyboard on the layer slider: the view moves and the kernel follows.
    active = nb7.active_cell_index()
    w.press_on_slider("layer", "ArrowRight")
    w.wait_paint(layer=1, after=first["n"])
    assert pattern_of(w.matrix_colours(), lambda c: near(c, VIRIDIS_HIGH, 20)) == PREVIOUS
    assert nb7.eval_json("w.layer") == 1
    assert nb7.active_cell_index() == active

    # A slider set as a drag does, then Python back to layer 0.
    w.set_slider("head", 1)
    w.wait_paint(layer=1, head=1)
    assert nb7.eval_json("[w.layer, w.head]") == [1, 1]
    n = w.painted()["n"]  # type: ignore[index]
    nb7.run_code("w.layer = 0; w.head = 0")
    w.wait_paint(layer=0, head=0, after=n)
    assert pattern_of(w.matrix_colours(), lambda c: near(c, VIRIDIS_HIGH, 20)) == DIAGONAL

    # Hover: only the token's line; the malicious token is plain text.
    n = w.painted()["n"]  # type: ignore[index]
    w.hover_token("query", 3)
    w.wait_paint(after=n)
    assert w.tooltip_text().splitlines() == [f"query 3: {XSS_TOKEN}"]
    assert w.line_pixels([(3, 3)], background=WHITE)["stray"] == 0
    w.hover_cell(3, 3)
    assert w.tooltip_text().splitlines() == [
        f"query 3: {XSS_TOKEN}",
        f"key 3: {XSS_TOKEN}",
        "value: 1",
    ]
    assert nb7.page.locator(".aw-root img").count() == 0
    assert nb7.page.evaluate("() => window.__xss") is None
