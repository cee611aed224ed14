"""PDF time and size of the analysis figures (issue 6).

Goals: stability at 48 x 48 tokens in <= 2 s (IzzyViz: 74 s); compare,
stability and evolution at 128 x 128 in <= 5 s each. Times are the whole
``export_pdf`` (channels of the slice, figure, PDF bytes), best of 3 after
a warm-up render. Run: ``python bench/bench_analysis_pdf.py``.
"""

from __future__ import annotations

import pathlib
import tempfile
import time

import numpy as np

import attn_widget.api as views

GOALS = {("stability", 48): 2.0, ("compare", 128): 5.0, ("stability", 128): 5.0}
GOALS[("evolution", 128)] = 5.0


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def widgets(n: int) -> dict[str, views.AnalysisWidget]:
    rng = np.random.default_rng(n)
    tokens = [f"tok{i}" for i in range(n)]
    shape = (2, 2, n, n)  # layers, heads, q, k
    runs = softmax(rng.normal(size=(5, *shape)) * 2).astype(np.float32)
    steps = softmax(np.cumsum(rng.normal(size=(8, *shape)), axis=0)).astype(np.float32)
    return {
        "compare": views.compare(runs[0], runs[1], tokens),
        "stability": views.stability(runs, tokens),
        "evolution": views.evolution(steps, tokens),
    }


def main() -> None:
    print(f"{'figure':<10} {'tokens':>7} {'time s':>8} {'size KiB':>9}  goal")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (48, 128):
            for kind, w in widgets(n).items():
                path = pathlib.Path(tmp) / f"{kind}{n}.pdf"
                w.export_pdf(path)  # warm-up (fonts, imports)
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    w.export_pdf(path)
                    best = min(best, time.perf_counter() - start)
                size = path.stat().st_size / 1024
                goal = GOALS.get((kind, n))
                verdict = (
                    "" if goal is None else f"<= {goal:g} s {'ok' if best <= goal else 'MISSED'}"
                )
                print(f"{kind:<10} {n:>4}x{n:<3} {best:>8.3f} {size:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
