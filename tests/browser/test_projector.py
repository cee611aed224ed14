"""Projector mode: readable from the back of a room at 1024 x 768."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

import attn_widget as aw

pytestmark = pytest.mark.browser
DOCS_IMG = pathlib.Path(__file__).resolve().parents[2] / "docs" / "img"
TOKENS = [
    "[CLS]",
    "the",
    "cat",
    "sat",
    "on",
    "the",
    "mat",
    "because",
    "it",
    "was",
    "tired",
    "[SEP]",
]


def test_projector_mode_has_large_labels_and_steps_with_keys(
    browser, tmp_path: pathlib.Path
) -> None:
    n = len(TOKENS)
    rng = np.random.default_rng(2)
    a = rng.random((3, 1, 4, n, n)).astype(np.float32) ** 4
    a /= a.sum(-1, keepdims=True)
    page_path = aw.AttentionWidget(a, TOKENS, large=True).save_html(tmp_path / "projector.html")
    page = browser.new_page(viewport={"width": 1024, "height": 768}, device_scale_factor=1)
    page.goto(page_path.as_uri())
    page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.painted")
    lines = json.loads(page.eval_on_selector("canvas.aw-lines", "c => c.dataset.layout"))
    heat = json.loads(page.eval_on_selector("canvas.aw-heatmap", "c => c.dataset.layout"))
    assert lines["fontSize"] >= 18 and heat["fontSize"] >= 18
    controls = page.eval_on_selector(".aw-root", "r => parseFloat(getComputedStyle(r).fontSize)")
    assert controls >= 18
    # Measure the ink of the first query label: its glyphs are really that tall.
    ink_rows = page.evaluate(
        """(l) => {
            const c = document.querySelector('canvas.aw-lines');
            const data = c.getContext('2d').getImageData(0, 0, l.leftX, l.top + l.row).data;
            const bg = Array.from(data.slice(0, 3));
            let rows = 0;
            for (let y = 0; y < l.top + l.row; y++) {
                for (let x = 0; x < l.leftX; x++) {
                    const o = (y * l.leftX + x) * 4;
                    const diff = Math.abs(data[o] - bg[0]) + Math.abs(data[o + 1] - bg[1]);
                    if (diff > 120) { rows++; break; }
                }
            }
            return rows;
        }""",
        lines,
    )
    assert ink_rows >= 12, ink_rows  # "[CLS]" at 18 px: brackets span about 0.9 of the size
    # Keyboard stepping through layers and heads once the view has focus.
    page.click("canvas.aw-lines", position={"x": 2, "y": 2})
    page.keyboard.press("]")
    page.keyboard.press(".")
    page.wait_for_function(
        "() => { const p = JSON.parse(document.querySelector('.aw-root').dataset.painted);"
        " return p.layer === 1 && p.head === 1; }"
    )
    if os.environ.get("AW_UPDATE_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / "projector.png"))
    page.close()
