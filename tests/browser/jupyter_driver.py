"""Drive a real JupyterLab 4 / Notebook 7 with Playwright and Debian's chromium.

Shared by the browser tests (tests/browser/) and the widget benchmark
(bench/bench_widget.py). See ../shared/BROWSER-TESTING.md for the facts behind
the choices here: a token-less server on 127.0.0.1 with throw-away config,
data, runtime, workspace and IPython dirs, offline and quiet; chromium with
a fixed set of flags; every request that leaves 127.0.0.1 aborted and recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Route,
    WebSocketRoute,
)

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Any URL that is not on 127.0.0.1 (blob: and data: URLs are never routed).
NOT_LOCAL = re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/]).*")
# Page errors that are upstream noise, not the widget's (BROWSER-TESTING.md).
IGNORED_PAGE_ERRORS = ("Cannot read properties of undefined (reading 'schema')",)

App = Literal["lab", "notebook"]

# Lab settings for tests: render every cell (no windowing), no news or update toasts.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- server
@dataclass
class JupyterServer:
    """A JupyterLab or Notebook 7 server of our own, stopped by its pid."""

    app: App
    base: pathlib.Path
    root: pathlib.Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: pathlib.Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            return f"{self.url}/lab/tree/{name}?reset"
        return f"{self.url}/notebooks/{name}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; the kernels live in the server's own process group."""
        proc = self.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Kernels the server did not shut down (it was killed): they are in the
        # process group we created for it, whose id is the server's pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def server_env(base: pathlib.Path) -> dict[str, str]:
    """Environment of a server (and its kernels) that touches nothing outside `base`."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "JUPYTERLAB_SETTINGS_DIR": base / "config" / "lab" / "user-settings",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for name, settings in USER_SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        {
            "MPLBACKEND": "Agg",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    return env


def start_server(app: App, base: pathlib.Path, timeout: float = 90.0) -> JupyterServer:
    """Start `jupyter lab` or `jupyter notebook` on 127.0.0.1 and wait until it answers."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = server_env(base)
    module = "jupyterlab" if app == "lab" else "notebook"
    app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        log_path = base / f"server-{port}.log"
        args = [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",
            "--ServerApp.open_browser=False",
            "--ServerApp.disable_check_xsrf=False",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.log_level=WARN",
            # JupyterLab's server extension runs under Notebook 7 too: keep it quiet there.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--{app_class}.workspaces_dir={base / 'workspaces'}",
            f"--{app_class}.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                args,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = JupyterServer(app, base, root, port, proc, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{server.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        last_error = server.log()[-4000:]
        server.stop()
    raise RuntimeError(f"jupyter {app} did not start on 127.0.0.1:\n{last_error}")


@contextlib.contextmanager
def running_server(app: App, base: pathlib.Path) -> Iterator[JupyterServer]:
    server = start_server(app, base)
    try:
        yield server
    finally:
        server.stop()


def write_notebook(path: pathlib.Path, sources: Sequence[str]) -> pathlib.Path:
    """Write a notebook of code cells (each with an id) for the python3 kernel."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": uuid.uuid4().hex[:8],
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
            for source in sources
        ],
    }
    path.write_text(json.dumps(nb, indent=1))
    return path


# --------------------------------------------------------------------- browser
def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@dataclass
class BrowserSession:
    """One browser context and page; what left 127.0.0.1 and what went wrong is recorded."""

    context: BrowserContext
    page: Page
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()

    def real_page_errors(self) -> list[str]:
        return [e for e in self.page_errors if not any(i in e for i in IGNORED_PAGE_ERRORS)]


def open_session(browser: Browser, *, width: int = 1500, height: int = 1100) -> BrowserSession:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        accept_downloads=True,
        color_scheme="light",
    )
    session = BrowserSession(context, context.new_page())

    def block(route: Route) -> None:
        session.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(ws: WebSocketRoute) -> None:
        session.blocked.append(ws.url)  # not connected to anything: it goes nowhere

    # The pattern is matched in the browser driver, so requests to 127.0.0.1 never
    # wait for Python (a catch-all handler here slows a page load several times).
    context.route(NOT_LOCAL, block)
    context.route_web_socket(NOT_LOCAL, block_socket)
    session.page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    return session


# -------------------------------------------------------------------- notebook
_FIND_PANEL = """
const findPanel = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets("main")) {
    if (w.context && w.context.path === path && w.content && w.content.model) return w;
  }
  return null;
};
"""


class Notebook:
    """A notebook open in JupyterLab or Notebook 7 (same DOM, same commands)."""

    def __init__(
        self,
        page: Page,
        server: JupyterServer,
        name: str,
        session: BrowserSession | None = None,
    ) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.session = session

    def open(self, timeout_ms: float = 60_000) -> Notebook:
        self.page.goto(self.server.notebook_url(self.name), wait_until="domcontentloaded")
        self.page.wait_for_function(
            f"(path) => {{ {_FIND_PANEL} return !!findPanel(path); }}",
            arg=self.name,
            timeout=timeout_ms,
        )
        self.page.evaluate(
            f"""async (path) => {{ {_FIND_PANEL}
              const panel = findPanel(path);
              await panel.context.ready;
              await panel.sessionContext.ready;
              window.jupyterapp.shell.activateById(panel.id);
            }}""",
            self.name,
        )
        self.wait_kernel_idle(timeout_ms)
        return self

    def wait_kernel_idle(self, timeout_ms: float = 60_000) -> None:
        self.page.wait_for_function(
            f"""(path) => {{ {_FIND_PANEL}
              const p = findPanel(path);
              const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
              return !!k && k.status === "idle" && k.connectionStatus === "connected";
            }}""",
            arg=self.name,
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: float = 120_000) -> None:
        """Run every cell; resolves when execution is done. Raises on an error output."""
        self.page.evaluate(
            f"""async (path) => {{ {_FIND_PANEL}
              const panel = findPanel(path);
              window.jupyterapp.shell.activateById(panel.id);
              await window.jupyterapp.commands.execute("notebook:run-all-cells");
            }}""",
            self.name,
        )
        self.page.wait_for_function(
            f"""(path) => {{ {_FIND_PANEL}
              const nb = findPanel(path).content;
              return nb.widgets.every((c) => c.model.type !== "code" || c.model.executionCount);
            }}""",
            arg=self.name,
            timeout=timeout_ms,
        )
        errors = self.cell_errors()
        if errors:
            raise AssertionError("a notebook cell failed:\n" + "\n".join(errors))

    def cell_errors(self) -> list[str]:
        return self.page.evaluate(
            f"""(path) => {{ {_FIND_PANEL}
              const out = [];
              for (const cell of findPanel(path).content.widgets) {{
                if (cell.model.type !== "code") continue;
                for (const o of cell.model.outputs.toJSON()) {{
                  if (o.output_type === "error") out.push(o.ename + ": " + o.evalue);
                }}
              }}
              return out;
            }}""",
            self.name,
        )

    def run_code(self, code: str, timeout_ms: float = 60_000) -> str:
        """Add a cell with `code` at the end, run it, remove it; return its text output.

        This is how a user reads Python state after acting in the page. An
        error output raises AssertionError with the traceback.
        """
        outputs: list[dict[str, Any]] = self.page.evaluate(
            f"""async ([path, code, timeout]) => {{ {_FIND_PANEL}
              const app = window.jupyterapp;
              const panel = findPanel(path);
              const nb = panel.content;
              const model = nb.model;
              const index = model.cells.length;
              model.sharedModel.insertCell(index, {{cell_type: "code", source: code}});
              nb.activeCellIndex = index;
              app.shell.activateById(panel.id);
              await app.commands.execute("notebook:run-cell");
              const cell = nb.widgets[index];
              const t0 = performance.now();
              while (!cell.model.executionCount && performance.now() - t0 < timeout) {{
                await new Promise((r) => setTimeout(r, 20));
              }}
              const outputs = cell.model.outputs.toJSON();
              model.sharedModel.deleteCell(index);
              return outputs;
            }}""",
            [self.name, code, timeout_ms],
        )
        text: list[str] = []
        for o in outputs:
            if o["output_type"] == "error":
                raise AssertionError(
                    f"{o['ename']}: {o['evalue']}\n" + "\n".join(o.get("traceback", []))
                )
            if o["output_type"] == "stream":
                t = o["text"]
                text.append(t if isinstance(t, str) else "".join(t))
            elif "data" in o and "text/plain" in o["data"]:
                t = o["data"]["text/plain"]
                text.append(t if isinstance(t, str) else "".join(t))
        return "".join(text)

    def eval_json(self, expression: str) -> Any:
        """The value of a Python expression in the kernel, through JSON."""
        out = self.run_code(f"import json as _j\nprint(_j.dumps({expression}))")
        return json.loads(out.strip().splitlines()[-1])

    def windowing_mode(self) -> str:
        """The notebook's windowing mode: "none" renders every cell (tests need it)."""
        return self.page.evaluate(
            f"""(path) => {{ {_FIND_PANEL}
              return findPanel(path).content.notebookConfig.windowingMode; }}""",
            self.name,
        )

    def active_cell_index(self) -> int:
        return self.page.evaluate(
            f"(path) => {{ {_FIND_PANEL} return findPanel(path).content.activeCellIndex; }}",
            self.name,
        )

    def set_theme(self, theme: str, timeout_ms: float = 30_000) -> None:
        """Switch the application theme ("JupyterLab Light" / "JupyterLab Dark") and wait for it."""
        self.page.evaluate(
            """async (theme) => {
              await window.jupyterapp.commands.execute("apputils:change-theme", {theme});
            }""",
            theme,
        )
        light = "false" if "Dark" in theme else "true"
        self.page.wait_for_function(
            "(light) => document.body.dataset.jpThemeLight === light", arg=light, timeout=timeout_ms
        )

    def next_frames(self, count: int = 2) -> None:
        """Let the page render `count` animation frames."""
        self.page.evaluate(
            """async (count) => {
              for (let i = 0; i < count; i++) await new Promise((r) => requestAnimationFrame(r));
            }""",
            count,
        )

    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def widget(self, cell_index: int, nth: int = 0) -> WidgetView:
        return WidgetView(self.page, self.cell(cell_index).locator(".aw-root").nth(nth))


# ---------------------------------------------------------------------- widget
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
        """Wait for a completed (not loading) paint showing `want`, newer than paint `after`."""
        self.root.wait_for(state="attached", timeout=timeout_ms)
        handle = self.root.element_handle(timeout=timeout_ms)
        try:
            self.page.wait_for_function(
                """([el, want, after]) => {
                  const raw = el.dataset.painted;
                  if (!raw) return false;
                  const p = JSON.parse(raw);
                  if (p.loading) return false;
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
