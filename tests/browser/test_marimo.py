"""The widget in marimo (anywidget's marimo support), offline, in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from .driver import open_session

MARIMO = shutil.which("marimo", path=os.path.dirname(sys.executable))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MARIMO is None, reason="marimo is not installed"),
]

NOTEBOOK = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import numpy as np

    import attn_widget as aw

    a = np.zeros((2, 1, 6, 6), dtype=np.float32)
    a[0, 0] = np.eye(6)
    a[1, 0] = np.eye(6, k=-1)
    a[1, 0, 0, 0] = 1
    w = mo.ui.anywidget(aw.AttentionWidget(a, list("abcdef")))
    w
    return mo, w


@app.cell
def _(mo, w):
    mo.md(f"kernel layer = {w.value['layer']}")
    return
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("marimo")
    (folder / "nb.py").write_text(textwrap.dedent(NOTEBOOK))
    port = free_port()
    env = {**os.environ, "MARIMO_SKIP_UPDATE_CHECK": "1"}
    server = subprocess.Popen(
        [
            MARIMO,
            "run",
            "nb.py",
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-token",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("marimo did not start within 60 s")
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_widget_renders_and_slider_reaches_python_in_marimo(browser, marimo_url: str) -> None:
    session = open_session(browser)
    page = session.page
    page.goto(marimo_url)
    # marimo puts each anywidget in a shadow root: Playwright's locators pierce it.
    root = page.locator(".aw-root")
    root.and_(page.locator("[data-painted]")).wait_for(timeout=60_000)
    heatmap = page.locator("canvas.aw-heatmap")
    lay = json.loads(heatmap.get_attribute("data-layout"))

    def pixel(q: int, k: int) -> list[int]:
        x = lay["x0"] + (k + 0.5) * lay["cell"]
        y = lay["y0"] + (q + 0.5) * lay["cell"]
        return heatmap.evaluate(
            "(c, [x, y]) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data)",
            [x, y],
        )

    assert pixel(2, 2)[0] > 200 and pixel(2, 1)[0] < 100
    page.locator("input.aw-slider[data-dim=layer]").evaluate(
        "el => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function(
        "r => JSON.parse(r.dataset.painted).layer === 1", arg=root.element_handle()
    )
    assert pixel(2, 1)[0] > 200 and pixel(2, 2)[0] < 100
    page.get_by_text("kernel layer = 1").wait_for(timeout=30_000)
    assert session.blocked == []
    session.close()
