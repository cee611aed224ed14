"""Side by side with today's tools: bytes and time to first paint on the same attention.

Synthetic softmax attention (12 layers x 12 heads, logits ~ N(0, 2^2), seed 0)
at N = 32, 128, 512 tokens (and 2048 for attn_widget only) is given to:

* bertviz ``head_view(attention, tokens, html_action="return")``: the HTML
  bytes (all 12 x 12 heads). Its page loads require.js and d3 from a CDN, so it
  is not rendered here; at a size whose build would not fit in memory the
  figure is extrapolated from N = 32 and 128 and marked so.
* CircuitsVis ``attention_heads(attention=..., tokens=...)`` for one layer
  (12 heads): the bytes of ``str(...)`` (what it returns; it imports the bundle
  from a CDN), the bytes of its offline form (``local_src``: the bundle
  inline, what a notebook shows without internet), and the time that offline
  page takes to render in headless chromium: navigation start to the frame
  after all 13 canvases (12 thumbnails and the zoomed head) exist, given up
  after ``--cv-timeout`` seconds.
* attn_widget, in a live kernel: the bytes before the first paint, counted as
  the widget sends them: ``_meta`` as JSON plus the binary ``_cube`` trait
  when the whole cube fits the byte budget ("cube" tier), else ``_meta`` plus
  the reply to the first overview tile request (the message the view sends,
  answered by ``w._on_message`` into a recording ``send``; reply JSON plus its
  binary buffer). The token lines' first request (top links of the visible
  rows) is shown on its own; the bundle and CSS (sent once) too.
* attn_widget ``w.save_html(path)``: the file's size and the time to first
  paint when opened from disk in headless chromium: navigation start to the
  frame after ``.aw-root`` gets ``data-painted`` (median of 3 fresh pages).
  Above the page's size limit ``save_html`` refuses; that is reported, and the
  page is also written once with ``max_bytes`` raised just enough, to show
  what the limit protects against.

bertviz and CircuitsVis are not dependencies of attn_widget: they run in a
separate virtual environment, one subprocess per figure (so each one's peak
memory is its own). Make it once (CPU torch; never let pip pull a CUDA one)::

    python3 -m venv /tmp/benchenv
    /tmp/benchenv/bin/pip install torch==2.13.0 numpy bertviz circuitsvis

then, from the repository root, with the project's environment::

    .venv/bin/python -m bench.bench_tools --tools-python /tmp/benchenv/bin/python
    .venv/bin/python -m bench.bench_tools --sizes 32 128   # quick
    .venv/bin/python -m bench.bench_tools                  # attn_widget only

Without ``--tools-python`` (or if that interpreter lacks a tool) those columns
say "skipped"; without chromium (``--chromium``, default /usr/bin/chromium)
the timings do. The full run takes about 10 minutes on 2 cores; bertviz at
N = 512 peaks at about 9 GB of memory (it is extrapolated when that would not fit).
``*`` in the save_html column: refused at the default limit; the size is that of
the page written with the limit raised.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

import attn_widget as aw

# The browser tests' chromium flags (offline, quiet), one list for tests and benches.
from bench.tools_tables import line_through, mb, print_tables
from tests.browser.driver import CHROMIUM_ARGS

LAYERS, HEADS = 12, 12
# The view's default heatmap side (js/widget.js paint: maxSize) and its token-line
# geometry (js/geometry.js linesLayout with font size 11): rows of 14..22 px in
# at most 440 px, 10 px top margin.
MAX_SIZE = 440

# Run by the tools' interpreter: argv = tool, attention .npy, tokens .json, html out.
# Prints one JSON line: bytes, seconds to build, peak RSS of that process.
TOOL_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
tool, npy, tokens_path, out = sys.argv[1:5]
attention = np.load(npy, mmap_mode="r")
tokens = json.load(open(tokens_path))
result = {}
if tool == "bertviz":
    import torch
    from bertviz import head_view
    layers = [torch.from_numpy(np.array(attention[i : i + 1])) for i in range(attention.shape[0])]
    start = time.perf_counter()
    page = head_view(layers, tokens, html_action="return")
    result["seconds"] = time.perf_counter() - start
    data = page.data.encode("utf-8")
    result["bytes"] = len(data)
    # bertviz 1.4.1 also pastes the params into the "// HACK: PYTHON_PARAMS ..."
    # comment of head_view.js: the data goes twice. That comment's length:
    marker = data.find(b"// HACK: ")
    if marker >= 0:
        result["comment_bytes"] = data.find(b"\n", marker) - marker
elif tool == "circuitsvis":
    import circuitsvis as cv
    heads = np.array(attention[0])
    start = time.perf_counter()
    shown = cv.attention.attention_heads(attention=heads, tokens=tokens)
    result["seconds"] = time.perf_counter() - start
    result["bytes"] = len(str(shown).encode("utf-8"))
    result["local_bytes"] = len(shown.local_src.encode("utf-8"))
    with open(out, "w", encoding="utf-8") as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>')
        f.write(shown.local_src)
        f.write("</body></html>")
result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""

# Marks the first frame after `test()` holds, as performance.now() (ms since navigation start).
MARK_SCRIPT = """
(() => {
  const test = () => (%s);
  const seen = () => {
    if (window.__benchMark !== undefined || window.__benchSeen || !test()) return;
    window.__benchSeen = true;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__benchMark = performance.now();
    }));
  };
  new MutationObserver(seen).observe(document, {subtree: true, childList: true,
    attributes: true, attributeFilter: ["data-painted"]});
})();
"""
OURS_PAINTED = "document.querySelector('.aw-root')?.dataset.painted"
CV_RENDERED = f"document.querySelectorAll('canvas').length >= {HEADS + 1}"


# ------------------------------------------------------------------ inputs
def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """(layers, heads, n, n) float32 softmax attention."""
    rng = np.random.default_rng(seed)
    out = np.empty((LAYERS, HEADS, n, n), dtype=np.float32)
    for layer in range(LAYERS):
        x = rng.standard_normal((HEADS, n, n), dtype=np.float32) * 2
        x -= x.max(axis=-1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=-1, keepdims=True)
        out[layer] = x
    return out


def token_list(n: int) -> list[str]:
    return [f"tok{i}" for i in range(n)]


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------ ours
class Recorder:
    """Stands in for the comm, as tests/test_widget.py does."""

    def __init__(self, widget: aw.AttentionWidget) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        widget.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def ask(self, widget: aw.AttentionWidget, request: dict[str, Any]) -> int:
        """Bytes of the reply to ``request``: its JSON plus its binary buffers."""
        widget._on_message(widget, request, [])
        content, buffers = self.sent[-1]
        if "error" in content:
            raise RuntimeError(f"the widget answered {request} with {content['error']}")
        return len(json.dumps(content).encode()) + sum(len(bytes(b)) for b in buffers)


def visible_query_rows(n: int) -> int:
    """Rows the token-line view shows at first (js/geometry.js linesLayout, visibleRows)."""
    row = max(14, min(22, MAX_SIZE / n))
    height = min(20 + row * n, MAX_SIZE + 20)
    return min(n, math.ceil((height - 10) / row))


def ours_live(widget: aw.AttentionWidget, n: int) -> dict[str, Any]:
    meta = widget._meta
    # The payload trait: the header (tokens, layout) and, in the cube tier, the cube.
    meta_bytes = len(widget._payload) - len(widget._cube)
    bundle = len(str(widget._esm).encode()) + len(str(widget._css).encode())
    out: dict[str, Any] = {"tier": meta["tier"], "bundle": bundle, "lines": 0}
    if meta["tier"] == "cube":
        out["first_paint"] = len(widget._payload)
        out["encoding"] = meta["encoding"]["dtype"]
        return out
    rec = Recorder(widget)
    slice_id = {"layer": 0, "head": 0, "case": 0}
    start = time.perf_counter()
    tile = rec.ask(
        widget,
        {
            "type": "tile",
            "id": "bench-1",
            **slice_id,
            "q0": 0,
            "q1": n,
            "k0": 0,
            "k1": n,
            "rows": MAX_SIZE,
            "cols": MAX_SIZE,
        },
    )
    out["tile_ms"] = (time.perf_counter() - start) * 1e3
    top = n if n * n <= 128 * 128 else 8  # js/lines.js defaultTopK
    rows = visible_query_rows(n)
    out["lines"] = rec.ask(
        widget,
        {"type": "links", "id": "bench-2", **slice_id, "q0": 0, "q1": rows, "top": top},
    )
    out["lines_rows"], out["lines_top"] = rows, top
    out["first_paint"] = meta_bytes + tile
    out["encoding"] = rec.sent[0][0].get("dtype")
    return out


# ------------------------------------------------------------------ browser
class Browser:
    def __init__(self, chromium: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)

    def time_to_mark(self, path: pathlib.Path, test: str, timeout_s: float) -> dict[str, Any]:
        """Open ``path`` from disk (nothing else may load) and time the frame after ``test``."""
        context = self.browser.new_context(
            viewport={"width": 1200, "height": 800}, device_scale_factor=1
        )
        page = context.new_page()
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
        page.add_init_script(MARK_SCRIPT % test)
        start = time.perf_counter()
        result: dict[str, Any] = {"outside": outside, "errors": errors}
        try:
            page.goto(path.as_uri(), wait_until="commit", timeout=timeout_s * 1e3)
            page.wait_for_function(
                "() => window.__benchMark !== undefined", timeout=timeout_s * 1e3
            )
            result["page_ms"] = page.evaluate("() => window.__benchMark")
            result["wall_s"] = time.perf_counter() - start
        except Exception as error:  # playwright's TimeoutError, or a crashed page
            result["failed"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            result["wall_s"] = time.perf_counter() - start
        context.close()
        return result

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def ours_saved(
    widget: aw.AttentionWidget, folder: pathlib.Path, n: int, browser: Browser | None
) -> dict[str, Any]:
    path = folder / f"ours-{n}.html"
    out: dict[str, Any] = {}
    try:
        widget.save_html(path)
    except ValueError as error:
        out["refused"] = str(error)
        values = LAYERS * (HEADS + 1) * n * n
        out["raised_max_bytes"] = values * 2
        widget.save_html(path, max_bytes=values * 2)
    out["bytes"] = path.stat().st_size
    if browser is not None:
        runs = [browser.time_to_mark(path, OURS_PAINTED, 120) for _ in range(3)]
        bad = [r for r in runs if "failed" in r or r["errors"] or r["outside"]]
        if bad:
            out["paint"] = "failed: " + json.dumps(bad[0])[:300]
        else:
            out["paint_ms"] = statistics.median(r["page_ms"] for r in runs)
            out["paint_wall_s"] = statistics.median(r["wall_s"] for r in runs)
    path.unlink()
    return out


# ------------------------------------------------------------------ tools
def run_tool(
    python: str, tool: str, folder: pathlib.Path, n: int, html_out: pathlib.Path
) -> dict[str, Any]:
    proc = subprocess.run(
        [
            python,
            "-c",
            TOOL_SCRIPT,
            tool,
            str(folder / f"attn-{n}.npy"),
            str(folder / f"tokens-{n}.json"),
            str(html_out),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools-python", help="interpreter with bertviz and circuitsvis")
    parser.add_argument("--sizes", type=int, nargs="*", default=[32, 128, 512])
    parser.add_argument(
        "--ours-only", type=int, nargs="*", default=[2048], help="sizes for attn_widget alone"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--cv-timeout", type=float, default=120.0, help="seconds")
    args = parser.parse_args()

    notes: list[str] = []
    tools_python = args.tools_python
    if not tools_python:
        notes.append("bertviz, CircuitsVis: skipped (no --tools-python given)")
    elif not pathlib.Path(tools_python).exists():
        notes.append(f"bertviz, CircuitsVis: skipped ({tools_python} does not exist)")
        tools_python = None
    browser = None
    if pathlib.Path(args.chromium).exists():
        browser = Browser(args.chromium)
    else:
        notes.append(f"browser timings: skipped ({args.chromium} not found)")

    print(
        f"{LAYERS} layers x {HEADS} heads, synthetic softmax attention; "
        f"CircuitsVis gets layer 0 only (its attention_heads shows one layer)"
    )
    rows: dict[int, dict[str, Any]] = {}
    measured: list[tuple[int, dict[str, Any]]] = []  # bertviz: (values, result)
    sizes = sorted(set(args.sizes) | set(args.ours_only))
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        folder = pathlib.Path(tmp)
        for n in sizes:
            row: dict[str, Any] = {}
            rows[n] = row
            attention = synthetic(n)
            tokens = token_list(n)
            values = attention.size
            print(f"N={n}: measuring ...", file=sys.stderr, flush=True)
            tools_here = tools_python and n in args.sizes
            if tools_here:
                np.save(folder / f"attn-{n}.npy", attention)
                (folder / f"tokens-{n}.json").write_text(json.dumps(tokens))
            widget = aw.AttentionWidget(attention, tokens)
            del attention
            row["live"] = ours_live(widget, n)
            if n in args.sizes:
                row["saved"] = ours_saved(widget, folder, n, browser)
            del widget
            if not tools_here:
                continue
            # bertviz: measure when its extrapolated peak memory fits, else extrapolate.
            guess = {}
            if len(measured) >= 2:
                for key in ("bytes", "comment_bytes", "peak_rss"):
                    points = [(v, r[key]) for v, r in measured]
                    guess[key] = line_through(points, values)
            room = mem_available()
            if guess and guess["peak_rss"] > 0.8 * room:
                row["bertviz"] = {**guess, "extrapolated": True}
                notes.append(
                    f"bertviz at N={n}: extrapolated from the two smallest sizes (a straight "
                    f"line in the number of values): its build would need about "
                    f"{mb(guess['peak_rss'])}, {mb(room)} is available"
                )
            else:
                result = run_tool(tools_python, "bertviz", folder, n, folder / "unused.html")
                row["bertviz"] = result
                if "bytes" in result:
                    if guess:
                        result["guess"] = guess["bytes"]
                        result["rss_guess"] = guess["peak_rss"]
                    measured.append((values, result))
            cv_page = folder / f"cv-{n}.html"
            row["cv"] = run_tool(tools_python, "circuitsvis", folder, n, cv_page)
            if browser is not None and cv_page.exists():
                row["cv_render"] = browser.time_to_mark(cv_page, CV_RENDERED, args.cv_timeout)
                if "failed" in row["cv_render"]:
                    # A page stuck in its own script can outlive the timeout: start afresh.
                    browser.close()
                    browser = Browser(args.chromium)
            for name in (f"attn-{n}.npy", f"cv-{n}.html"):
                (folder / name).unlink(missing_ok=True)
    if browser is not None:
        browser.close()
    print_tables(rows, args, notes)


if __name__ == "__main__":
    main()
