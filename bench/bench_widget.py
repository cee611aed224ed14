"""The widget in headless chromium in JupyterLab: bytes on the wire, first paint, repaint.

For 12 layers x 12 heads of random (softmax) attention at N tokens this prints:

* tier: "cube" (everything sent once) or "slices" (the view asks the kernel);
* bytes the kernel websocket delivered to the browser from running the cell
  ``w = aw.AttentionWidget(att, tokens); w`` to the first complete paint, and
  per attention value (12 * 12 * N * N values);
* first paint: milliseconds from running that cell to the first complete paint
  (Python builds and encodes, the bytes travel, the view decodes and draws);
* repaint after a slider move, median and p95, measured in the page with
  performance.now() from dispatching the slider's ``input`` event to the
  view's ``data-painted`` change (a MutationObserver) for a complete paint:
  "jump" moves go to random places (measured first, while little is cached),
  "step" moves go one layer or head at a time (a user stepping with arrow
  keys; the view prefetches neighbours); a move comes 50-67 ms after the
  previous paint (--pause);
* paint: the part of each repaint spent in the frame that painted (from the
  start of that animation frame's callbacks to the ``data-painted`` change):
  the rest of a repaint is waiting for the next frame (or for the kernel);
* bytes delivered during all slider moves, per move.

    python -m bench.bench_widget                 # N = 32, 128, 512
    python -m bench.bench_widget --sizes 512 --steps 60

Needs Debian's chromium at /usr/bin/chromium; everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import pathlib
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

from playwright.sync_api import Browser, WebSocket, sync_playwright  # noqa: E402

from tests.browser.driver import (  # noqa: E402
    CHROMIUM,
    JupyterServer,
    Notebook,
    launch_chromium,
    open_session,
    running_server,
    write_notebook,
)

LAYERS, HEADS = 12, 12
_RUNS = itertools.count(1)
# The kernel's peak resident memory in bytes (Linux reports kilobytes).
PEAK_RSS = "__import__('resource').getrusage(__import__('resource').RUSAGE_SELF).ru_maxrss * 1024"

GENERATE = """
import numpy as np
import attn_widget as aw

rng = np.random.default_rng(0)
att = np.empty(({layers}, {heads}, {n}, {n}), np.float32)
for layer in range({layers}):
    x = rng.standard_normal(({heads}, {n}, {n}), dtype=np.float32) * 2
    x -= x.max(-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(-1, keepdims=True)
    att[layer] = x
tokens = [f"tok{{i}}" for i in range({n})]
"""
SHOW = "w = aw.AttentionWidget(att, tokens{budget})\nw"

# Run the widget cell (appended at `index`) and wait for its first complete paint.
_FIRST_PAINT_JS = """async ([path, index, code]) => {
  const app = window.jupyterapp;
  let panel = null;
  for (const w of app.shell.widgets("main")) if (w.context && w.context.path === path) panel = w;
  const nb = panel.content;
  nb.model.sharedModel.insertCell(index, {cell_type: "code", source: code});
  nb.activeCellIndex = index;
  let sight = null;
  const painted = new Promise((resolve) => {
    const check = () => {
      const cell = nb.widgets[index];
      const root = cell && cell.node.querySelector(".aw-root");
      if (!root || !root.dataset.painted) return false;
      const p = JSON.parse(root.dataset.painted);
      if (p.loading) return false;
      if (sight === null) sight = performance.now();  // an estimate counts as first sight
      if (p.refining) return false;
      resolve([performance.now(), p]);
      return true;
    };
    const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
    observer.observe(nb.node, {subtree: true, childList: true, attributes: true,
                               attributeFilter: ["data-painted"]});
  });
  const t0 = performance.now();
  app.commands.execute("notebook:run-cell");
  const [t1, state] = await painted;
  return {ms: t1 - t0, sightMs: sight - t0, state};
}"""

# Move sliders one at a time; time each move from the input event to the complete paint.
_MOVES_JS = """async ([index, moves, pauseMs]) => {
  const root = document.querySelectorAll(".jp-Notebook .jp-Cell")[index].querySelector(".aw-root");
  let frameStart = performance.now();
  let looping = true;
  const loop = () => { frameStart = performance.now(); if (looping) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  const out = [];
  for (const [dim, value] of moves) {
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no paint for ${dim}=${value}`)), 30000);
      let sight = null;
      const observer = new MutationObserver(() => {
        const p = JSON.parse(root.dataset.painted);
        if (p.loading || p[dim] !== value) return;
        const now = performance.now();
        if (sight === null) sight = now;  // the first paint of it, an estimate or exact
        if (p.refining) return;
        observer.disconnect();
        clearTimeout(timer);
        resolve([now, now - frameStart, p.requests, sight]);
      });
      observer.observe(root, {attributes: true, attributeFilter: ["data-painted"]});
    });
    const slider = root.querySelector(`input.aw-slider[data-dim=${dim}]`);
    const t0 = performance.now();
    slider.value = String(value);
    slider.dispatchEvent(new Event("input", {bubbles: true}));
    const [t1, paintMs, requests, seen] = await done;
    out.push({dim, value, ms: t1 - t0, sightMs: seen - t0, paintMs, requests});
    // A pause of random length: the next input lands anywhere within a frame, as a user's does.
    await new Promise((r) => setTimeout(r, pauseMs + Math.random() * 17));
  }
  looping = false;
  return out;
}"""


@dataclass
class Row:
    n: int
    tier: str
    values: int
    first_paint_ms: float
    first_bytes: int
    first_bytes_per_value: float
    step_median_ms: float
    step_p95_ms: float
    jump_median_ms: float
    jump_p95_ms: float
    paint_median_ms: float
    paint_p95_ms: float
    move_bytes: int
    moves: int
    move_requests: int
    kernel_peak_rss: int  # bytes, ru_maxrss of the kernel after the moves
    # First sight: the first paint of the new slice, an estimate where the kernel
    # sends one (long lazy inputs), else the same as the complete paint.
    first_sight_ms: float = 0.0
    step_sight_median_ms: float = 0.0
    step_sight_p95_ms: float = 0.0
    jump_sight_median_ms: float = 0.0
    jump_sight_p95_ms: float = 0.0


class WireCounter:
    """Bytes the kernel websockets delivered to the page (and sent from it)."""

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.frames = 0

    def attach(self, ws: WebSocket) -> None:
        if "/api/kernels/" not in ws.url:
            return
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)
        self.frames += 1

    def _sent(self, payload: str | bytes) -> None:
        self.sent += len(payload.encode() if isinstance(payload, str) else payload)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    lo, hi = int(at), min(len(ordered) - 1, int(at) + 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (at - lo)


def step_moves(count: int) -> list[tuple[str, int]]:
    """A snake over the grid: layer up, head up, layer down, head down, ... one step each."""
    moves: list[tuple[str, int]] = []
    layer = head = 0
    direction = 1
    while len(moves) < count:
        for _ in range(LAYERS - 1):
            layer += direction
            moves.append(("layer", layer))
        for _ in range(HEADS - 1):
            head += direction
            moves.append(("head", head))
        direction = -direction
    return moves[:count]


def jump_moves(count: int, seed: int = 1) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    moves: list[tuple[str, int]] = []
    current = {"layer": 0, "head": 0}
    for i in range(count):
        dim = "layer" if i % 2 == 0 else "head"
        size = LAYERS if dim == "layer" else HEADS
        value = rng.choice([v for v in range(size) if v != current[dim]])
        current[dim] = value
        moves.append((dim, value))
    return moves


def settle(nb: Notebook, ms: int = 400) -> None:
    """Let prefetches and websocket events finish, so each phase counts its own bytes."""
    nb.page.wait_for_timeout(ms)


def measure(
    browser: Browser,
    server: JupyterServer,
    n: int,
    steps: int,
    jumps: int,
    pause_ms: int,
    budget: int | None = None,
    prepare: Callable[[Notebook], None] | None = None,
    moves: tuple[list[tuple[str, int]], list[tuple[str, int]]] | None = None,
) -> Row:
    """First paint, then the moves (``prepare`` runs between the two when given).

    ``moves``: ``(jumps, steps)`` of ``(slider, value)`` instead of layer and head moves.
    """
    # A fresh notebook, hence a fresh kernel, for every measurement: Lab would
    # reuse the kernel of a notebook opened before, with its memory and threads.
    name = f"bench_{n}_{next(_RUNS)}.ipynb"
    write_notebook(server.root / name, [GENERATE.format(layers=LAYERS, heads=HEADS, n=n)])
    session = open_session(browser)
    wire = WireCounter()
    session.page.on("websocket", wire.attach)
    try:
        nb = Notebook(session.page, server, name, session).open()
        nb.run_all(timeout_ms=300_000)
        settle(nb)
        before = wire.received
        show = SHOW.format(budget=f", byte_budget={budget}" if budget else "")
        first = session.page.evaluate(_FIRST_PAINT_JS, [name, 1, show])
        settle(nb, 1000)
        first_bytes = wire.received - before
        tier = nb.eval_json("w._meta['tier']")
        settle(nb)
        if prepare is not None:
            prepare(nb)

        before = wire.received
        # Jumps first, while little is cached; then back to layer 0, head 0 (not timed)
        # and the steps.
        jumps_made, steps_made = moves or (jump_moves(jumps), step_moves(steps))
        jump = session.page.evaluate(_MOVES_JS, [1, jumps_made, pause_ms])
        back = session.page.evaluate(_MOVES_JS, [1, [("layer", 0), ("head", 0)], pause_ms])
        step = session.page.evaluate(_MOVES_JS, [1, steps_made, pause_ms])
        settle(nb)
        move_bytes = wire.received - before
        kernel_peak_rss = int(nb.eval_json(PEAK_RSS))
        if session.blocked:
            raise RuntimeError(f"the page tried to reach beyond 127.0.0.1: {session.blocked}")
    finally:
        with contextlib.suppress(Exception):  # the kernel's memory is not the next row's
            session.page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        session.close()

    values = LAYERS * HEADS * n * n
    step_ms = [m["ms"] for m in step]
    jump_ms = [m["ms"] for m in jump]
    paint_ms = [m["paintMs"] for m in step + jump]
    requests = step[-1]["requests"] - first["state"]["requests"]
    return Row(
        n=n,
        tier=tier,
        values=values,
        first_paint_ms=first["ms"],
        first_bytes=first_bytes,
        first_bytes_per_value=first_bytes / values,
        step_median_ms=statistics.median(step_ms),
        step_p95_ms=percentile(step_ms, 0.95),
        jump_median_ms=statistics.median(jump_ms),
        jump_p95_ms=percentile(jump_ms, 0.95),
        paint_median_ms=statistics.median(paint_ms),
        paint_p95_ms=percentile(paint_ms, 0.95),
        move_bytes=move_bytes,
        moves=len(step) + len(jump) + len(back),
        move_requests=requests,
        kernel_peak_rss=kernel_peak_rss,
        first_sight_ms=first["sightMs"],
        step_sight_median_ms=statistics.median(m["sightMs"] for m in step),
        step_sight_p95_ms=percentile([m["sightMs"] for m in step], 0.95),
        jump_sight_median_ms=statistics.median(m["sightMs"] for m in jump),
        jump_sight_p95_ms=percentile([m["sightMs"] for m in jump], 0.95),
    )


def megabytes(b: float) -> str:
    return f"{b / 1e6:.2f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'N':>5} {'tier':>6} {'values':>10} {'first paint':>11} {'bytes':>10} {'B/value':>8}"
        f" {'step med':>8} {'step p95':>8} {'jump med':>8} {'jump p95':>8}"
        f" {'paint med':>9} {'paint p95':>9} {'bytes/move':>10} {'req/move':>8}"
        f" {'kernel RSS':>10}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.n:>5} {r.tier:>6} {r.values:>10,} {r.first_paint_ms:>8.0f} ms"
            f" {megabytes(r.first_bytes):>10} {r.first_bytes_per_value:>8.3f}"
            f" {r.step_median_ms:>5.1f} ms {r.step_p95_ms:>5.1f} ms"
            f" {r.jump_median_ms:>5.1f} ms {r.jump_p95_ms:>5.1f} ms"
            f" {r.paint_median_ms:>6.1f} ms {r.paint_p95_ms:>6.1f} ms"
            f" {megabytes(r.move_bytes / r.moves):>10} {r.move_requests / r.moves:>8.2f}"
            f" {r.kernel_peak_rss / 2**20:>7.0f} MB"
        )
    print(
        "\nbytes: kernel websocket frames delivered from running the cell to the first complete"
        "\npaint; B/value: those bytes per attention value (12 x 12 x N x N). step/jump: input"
        "\nevent to complete repaint; paint: the share of it inside the frame that painted;"
        "\nkernel RSS: the kernel's peak resident memory (ru_maxrss) after the moves."
    )


def add_move_arguments(parser: argparse.ArgumentParser, steps: int, jumps: int) -> None:
    """The options every browser bench takes for its slider moves."""
    parser.add_argument("--steps", type=int, default=steps, help="one-step slider moves")
    parser.add_argument("--jumps", type=int, default=jumps, help="random slider moves")
    parser.add_argument("--pause", type=int, default=50, help="ms between moves (+ 0-17 ms)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the rows here")


@contextlib.contextmanager
def lab_and_browser(prefix: str) -> Iterator[tuple[Browser, JupyterServer]]:
    """A throw-away JupyterLab on 127.0.0.1 and headless chromium, both closed after."""
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as tmp,
        running_server("lab", pathlib.Path(tmp)) as server,
        sync_playwright() as pw,
    ):
        browser = launch_chromium(pw)
        try:
            yield browser, server
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 512])
    add_move_arguments(parser, steps=40, jumps=20)
    parser.add_argument(
        "--budget", type=int, help="byte_budget of the widgets (default: the widget's, 64 MB)"
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_widget: needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    with lab_and_browser("aw-bench-") as (browser, server):
        for n in args.sizes:
            row = measure(browser, server, n, args.steps, args.jumps, args.pause, args.budget)
            rows.append(row)
            print(f"N={n}: done", file=sys.stderr, flush=True)
    budget = f"byte_budget={args.budget}" if args.budget else "default byte_budget"
    print(f"\n12 layers x 12 heads, {budget}, headless chromium, JupyterLab, 127.0.0.1\n")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
