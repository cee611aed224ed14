"""w.save_html: one file, opened from disk with no server and no network, still works."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import attn_widget as aw

HOSTILE = [
    '<img src=x onerror="window.__xss=1">',
    "</script><script>window.__xss=2</script>",
    "javascript:window.__xss=3",
    "\u202eevil\u202c",
    "x" * 300,
    "😀",
    "",
    "&amp;<b>bold</b>",
]

pytestmark = pytest.mark.browser


def diagonal_then_previous(n: int) -> np.ndarray:
    """Layer 0 attends to itself, layer 1 to the previous token."""
    a = np.zeros((2, 1, n, n), dtype=np.float32)
    a[0, 0] = np.eye(n)
    a[1, 0] = np.eye(n, k=-1)
    a[1, 0, 0, 0] = 1.0
    return a


def open_page(browser: object, path: pathlib.Path):
    page = browser.new_page(viewport={"width": 1200, "height": 800}, device_scale_factor=1)
    outside: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def guard(route) -> None:
        url = route.request.url
        if url.startswith(("file://", "blob:", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.painted")
    return page, outside, errors


def pixel(page, selector: str, x: float, y: float) -> list[int]:
    return page.evaluate(
        """([sel, x, y]) => Array.from(document.querySelector(sel).getContext('2d')
             .getImageData(Math.floor(x), Math.floor(y), 1, 1).data)""",
        [selector, x, y],
    )


def cell_centre(page, q: int, k: int) -> tuple[float, float]:
    lay = json.loads(page.eval_on_selector("canvas.aw-heatmap", "c => c.dataset.layout"))
    return lay["x0"] + (k - lay["k0"] + 0.5) * lay["cell"], lay["y0"] + (q - lay["q0"] + 0.5) * lay[
        "cell"
    ]


def test_saved_page_renders_and_its_slider_works_offline(browser, tmp_path: pathlib.Path) -> None:
    n = 8
    w = aw.AttentionWidget(diagonal_then_previous(n), [f"w{i}" for i in range(n)])
    path = w.save_html(tmp_path / "page.html")
    page, outside, errors = open_page(browser, path)
    assert outside == [] and errors == []
    bright = pixel(page, "canvas.aw-heatmap", *cell_centre(page, 3, 3))
    dark = pixel(page, "canvas.aw-heatmap", *cell_centre(page, 3, 2))
    assert bright[0] > 200 and bright[1] > 200  # viridis yellow
    assert dark[0] < 100 and dark[1] < 50  # viridis purple
    page.eval_on_selector(
        "input.aw-slider[data-dim=layer]",
        "el => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    page.wait_for_function(
        "() => JSON.parse(document.querySelector('.aw-root').dataset.painted).layer === 1"
    )
    assert pixel(page, "canvas.aw-heatmap", *cell_centre(page, 3, 2))[0] > 200
    assert pixel(page, "canvas.aw-heatmap", *cell_centre(page, 3, 3))[0] < 100
    assert page.text_content("output.aw-value[data-dim=layer]") == "1"
    button = page.locator("button.aw-export[data-kind=heatmap]")
    assert button.is_disabled()
    assert "kernel" in button.get_attribute("title")
    page.close()


def test_hostile_tokens_stay_text_in_the_saved_page(browser, tmp_path: pathlib.Path) -> None:
    n = len(HOSTILE)
    rng = np.random.default_rng(0)
    a = rng.random((1, 1, n, n)).astype(np.float32)
    w = aw.AttentionWidget(a, HOSTILE)
    path = w.save_html(tmp_path / "hostile.html")
    source = path.read_text()
    assert "<img" not in source and "window.__xss" not in source
    page, outside, errors = open_page(browser, path)
    for q in range(n):
        x, y = cell_centre(page, q, 0)
        box = page.locator("canvas.aw-heatmap").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        tip = page.locator(".aw-tooltip")
        tip.wait_for(state="visible")
        # Direction overrides are shown as code points, never applied.
        shown = HOSTILE[q].replace("\u202e", "⟨U+202E⟩").replace("\u202c", "⟨U+202C⟩")
        assert shown[:50] in tip.text_content()
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".aw-root img, .aw-root script, .aw-root a[href^=javascript]").count() == 0
    assert outside == [] and errors == []
    page.close()


def test_too_much_data_is_refused_with_the_numbers(tmp_path: pathlib.Path) -> None:
    w = aw.AttentionWidget(np.full((2, 1, 3, 64, 64), 1 / 64, dtype=np.float32))
    with pytest.raises(ValueError, match=r"32,768 values .* over max_bytes=10,000"):
        w.save_html(tmp_path / "big.html", max_bytes=10_000)
    assert not (tmp_path / "big.html").exists()
