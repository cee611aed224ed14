"""Time of the pure-numpy analysis core (attn_widget.analysis): no drawing, no widget.

Prints, as medians of a few runs:

* region detection (``find_regions``) on N x N float32 matrices: a noisy
  matrix with a planted block, pure noise, and softmax attention with a
  diagonal and a first-column sink; whether the planted block came back;
* the statistics behind the compare, stability and evolution views at
  N = 48 and 128 tokens, for one matrix and for a whole 12 x 12 model cube
  (stability over 10 runs, evolution over 10 checkpoints), plus top cells.

Goals (issue 6): regions at 512 x 512 in <= 1 s; the PDF figures themselves
(stability at 48 in <= 2 s, all three at 128 in <= 5 s) also need drawing
time, which the export benchmark measures; this prints the numbers' share.

    python bench/bench_analysis.py            # regions at 128, 512, 2048
    python bench/bench_analysis.py --quick    # regions at 128, 512
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from attn_widget.analysis import (
    compare_cells,
    evolution_series,
    find_regions,
    stability_stats,
    top_cells,
)

LAYERS, HEADS, RUNS, STEPS = 12, 12, 10, 10


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def region_inputs(n: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, Any]]:
    """name -> (matrix, planted block or None)."""
    block = (n // 5, n // 3, n // 5 + n // 8, n // 3 + n // 6)
    planted = rng.uniform(0.0, 0.5, (n, n)).astype(np.float32)
    planted[block[0] : block[2], block[1] : block[3]] += 0.5
    noise = rng.uniform(0.0, 1.0, (n, n)).astype(np.float32)
    logits = rng.normal(size=(n, n))
    logits[np.arange(n), np.arange(n)] += 3.0
    logits[:, 0] += 3.0
    # Worst case found so far: a smooth peak, where every seed climbs across
    # most of the matrix before its score stops improving.
    rows, cols = np.mgrid[0:n, 0:n]
    cone = -(np.abs(rows - n / 2) + np.abs(cols - n / 2)).astype(np.float32)
    return {
        "planted block": (planted, block),
        "pure noise": (noise, None),
        "softmax attention": (softmax_rows(logits), None),
        "cone (worst case)": (cone, None),
    }


def bench_regions(sizes: list[int]) -> None:
    print("find_regions (n_regions=5, defaults), median of runs:")
    rng = np.random.default_rng(0)
    for n in sizes:
        repeat = 3 if n > 1024 else 7
        for name, (matrix, block) in region_inputs(n, rng).items():
            seconds, regions = timed(lambda m=matrix: find_regions(m), repeat=repeat)
            note = ""
            if block is not None:
                found = bool(regions) and tuple(regions[0]) == block
                note = f"  planted {block} -> first {tuple(regions[0])} exact={found}"
            print(f"  N={n:5}  {name:18} {seconds * 1e3:8.1f} ms{note}")


def bench_stats(sizes: list[int]) -> None:
    print(
        f"statistics per view (stability over {RUNS} runs, evolution over {STEPS} checkpoints), "
        "float32, median of runs:"
    )
    rng = np.random.default_rng(1)
    for n in sizes:
        for label, lead in (("1 matrix", ()), (f"{LAYERS}x{HEADS} cube", (LAYERS, HEADS))):
            a = softmax_rows(rng.normal(size=(*lead, n, n)))
            b = softmax_rows(rng.normal(size=(*lead, n, n)))
            runs = softmax_rows(rng.normal(size=(RUNS, *lead, n, n)))
            steps = softmax_rows(rng.normal(size=(STEPS, *lead, n, n)))
            repeat = 3 if lead else 9
            compare_s, _ = timed(lambda a=a, b=b: compare_cells(a, b), repeat)
            stability_s, _ = timed(lambda r=runs: stability_stats(r), repeat)
            evolution_s, _ = timed(lambda s=steps: evolution_series(s), repeat)
            evolution_cell_s, _ = timed(
                lambda s=steps: evolution_series(s, normalize="cell"), repeat
            )
            first = a.reshape(-1, n, n)[0]
            top_s, _ = timed(lambda m=first: top_cells(m, 20), repeat)
            print(
                f"  N={n:4} {label:13} compare {compare_s * 1e3:7.2f} ms | "
                f"stability {stability_s * 1e3:7.2f} ms | evolution global "
                f"{evolution_s * 1e3:7.2f} ms, cell {evolution_cell_s * 1e3:7.2f} ms | "
                f"top 20 cells of one matrix {top_s * 1e3:6.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="regions at 128 and 512 only")
    args = parser.parse_args()
    print(f"numpy {np.__version__}")
    bench_regions([128, 512] if args.quick else [128, 512, 2048])
    bench_stats([48, 128])


if __name__ == "__main__":
    main()
