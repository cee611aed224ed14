"""Time and size of exports: heatmaps at N = 128, 512, 1024, a 12 x 12 grid, every format,
and the first PDF of a fresh process (what the first click on a button waits for).

Prints figures, passes or fails nothing. Goals (issue 3): N = 512 heatmap in
<= 1 s and <= 1.5 MB; a 12 x 12 (layers x heads) grid at N = 128 in <= 3 s.

    .venv/bin/python bench/bench_export.py [--repeat 3] [--processes 3]

Inputs are softmax rows of random logits with a local (diagonal-band) bias,
like real attention, which compresses well; a pure-noise N = 512 map is the
worst case for the file size. The best of ``--repeat`` runs is reported,
after one warm-up render (font loading, imports).

The first-PDF section starts ``--processes`` fresh interpreters and reports
the median: the import, the first heatmap PDF, the second one, and where the
first one's extra time goes (cProfile, by cumulative time of the steps that
only the first render takes), then the first PDF after ``export.warm_up()``
(what a kernel does in the background before the first click).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from attn_widget.data import AttentionData
from attn_widget.export import render_pdf


def attention(layers: int, heads: int, n: int, seed: int = 0, local: float = 0.15) -> np.ndarray:
    """Softmax rows of N(0, 1) logits minus ``local`` x |i - j| (0: pure noise, the worst case)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, (layers, heads, n, n)).astype(np.float32)
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).astype(np.float32)
    logits -= local * distance
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


def embedded_image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    from pypdf import PdfReader

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    return [image.image.size for image in page.images]


def measure(data: AttentionData, kind: str, repeat: int, **options) -> tuple[float, bytes]:
    best, pdf = float("inf"), b""
    for _ in range(repeat):
        start = time.perf_counter()
        pdf = render_pdf(data, kind, **options)
        best = min(best, time.perf_counter() - start)
    return best, pdf


# Run in a fresh interpreter (argv[1]: cold, warm or profile): the first two PDFs.
FIRST_PDF = r"""
import cProfile, json, pstats, sys, time
start = time.perf_counter()
import numpy as np
from attn_widget.data import AttentionData
from attn_widget import export
imported = time.perf_counter()
rng = np.random.default_rng(0)
x = rng.random((2, 2, 64, 64)).astype(np.float32); x /= x.sum(-1, keepdims=True)
data = AttentionData(x, [f"tok{i}" for i in range(64)])
mode = sys.argv[1]
if mode == "warm":
    export.warm_up()
warmed = time.perf_counter()
STEPS = {
    "import of the PDF backend and fontTools' subsetter": "backend_pdf.py:<module>",
    "font subsetting (fontTools reads the font's tables)": "get_glyphs_subset",
    "drawing (matplotlib's text, image and colour bar)": "figure.py:3262(draw)",
    "fallback fonts looked up": "fonts.py:families",
}
def render(profiled):
    profile = cProfile.Profile()
    if profiled:
        profile.enable()
    t0 = time.perf_counter()
    export.render_pdf(data, "heatmap", top_n=3)
    seconds = time.perf_counter() - t0
    if not profiled:
        return seconds, {}
    profile.disable()
    stats = pstats.Stats(profile).stats
    steps = {}
    for name, fragment in STEPS.items():
        names = {k: (f"{k[0]}:{k[1]}({k[2]})", f"{k[0]}:{k[2]}") for k in stats}
        hits = [v[3] for k, v in stats.items() if any(fragment in n for n in names[k])]
        steps[name] = max(hits, default=0.0)
    return seconds, steps
first, first_steps = render(mode == "profile")
second, second_steps = render(mode == "profile")
print(json.dumps({"import": imported - start, "warm_up": warmed - imported, "first": first,
                  "second": second, "first_steps": first_steps, "second_steps": second_steps}))
"""


def _runs(mode: str, processes: int) -> list[dict]:
    out = []
    for _ in range(processes):
        done = subprocess.run(
            [sys.executable, "-c", FIRST_PDF, mode], capture_output=True, text=True, check=True
        )
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def first_pdf(processes: int) -> None:
    """The first PDF of a fresh process, cold and after warm_up(); medians over processes."""
    print(f"\nfirst PDF of a process (heatmap N=64, top_n=3; median of {processes} processes)")
    cold, warm = _runs("cold", processes), _runs("warm", processes)

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"  {'import attn_widget.export':<56}{median(cold, 'import'):>7.2f} s")
    print(f"  {'first PDF':<56}{median(cold, 'first'):>7.2f} s")
    print(f"  {'second PDF':<56}{median(cold, 'second'):>7.2f} s")
    label = "export.warm_up() (a kernel runs it in the background)"
    print(f"  {label:<56}{median(warm, 'warm_up'):>7.2f} s")
    print(f"  {'first PDF after warm_up()':<56}{median(warm, 'first'):>7.2f} s")
    print(f"  {'second PDF after warm_up()':<56}{median(warm, 'second'):>7.2f} s")
    profiled = _runs("profile", processes)
    print("  where the first PDF's time goes (cProfile; first / second PDF of a process):")
    for step in profiled[0]["first_steps"]:
        one = statistics.median(run["first_steps"][step] for run in profiled)
        two = statistics.median(run["second_steps"][step] for run in profiled)
        print(f"    {step:<54}{one:>7.2f} / {two:.2f} s")


def formats(data: AttentionData, repeat: int) -> None:
    """One heatmap (N=128, top_n=5) in every format: time and size."""
    print(f"\n{'format (heatmap N=128, top_n=5)':<28}{'time (s)':>10}{'size (MB)':>11}")
    for fmt, extra in (("pdf", {}), ("svg", {}), ("png", {"dpi": 150}), ("png", {"dpi": 300})):
        seconds, out = measure(data, "heatmap", repeat, top_n=5, format=fmt, **extra)
        label = fmt + (f" at {extra['dpi']} dpi" if extra else "")
        print(f"{label:<28}{seconds:>10.3f}{len(out) / 1e6:>11.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    first_pdf(args.processes)
    print()
    warm = AttentionData(attention(1, 1, 16), [f"w{i}" for i in range(16)])
    render_pdf(warm, "heatmap", top_n=2)
    print(f"{'figure':<28}{'time (s)':>10}{'size (MB)':>11}  embedded image")
    for n in (128, 512, 1024):
        data = AttentionData(attention(1, 1, n), [f"tok{i}" for i in range(n)])
        seconds, pdf = measure(data, "heatmap", args.repeat)
        images = embedded_image_sizes(pdf)
        label = f"heatmap N={n}"
        print(f"{label:<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}  {images}")
    noise = AttentionData(attention(1, 1, 512, local=0.0), [f"tok{i}" for i in range(512)])
    seconds, pdf = measure(noise, "heatmap", args.repeat)
    print(f"{'heatmap N=512, pure noise':<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}")
    data = AttentionData(attention(1, 1, 512), [f"tok{i}" for i in range(512)])
    seconds, pdf = measure(data, "heatmap", args.repeat, top_n=10)
    print(f"{'heatmap N=512 top_n=10':<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}")
    seconds, pdf = measure(data, "lines", args.repeat)
    print(f"{'lines N=512 (top 8/query)':<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}")
    grid = AttentionData(attention(12, 12, 128, seed=1), [f"tok{i}" for i in range(128)])
    seconds, pdf = measure(grid, "grid", args.repeat)
    print(f"{'grid 12x12 N=128':<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}")
    seconds, pdf = measure(grid, "lines_grid", args.repeat, heads="mean")
    print(f"{'lines_grid 12 layers N=128':<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}")
    formats(AttentionData(attention(1, 1, 128), [f"tok{i}" for i in range(128)]), args.repeat)
    from attn_widget.export.fonts import families

    if "Noto Sans CJK JP" in families():
        cjk = [chr(0x4E00 + 37 * i) for i in range(64)]  # 64 different ideographs
        seconds, pdf = measure(AttentionData(attention(1, 1, 64), cjk), "heatmap", args.repeat)
        label = "heatmap N=64, CJK tokens"
        print(f"{label:<28}{seconds:>10.3f}{len(pdf) / 1e6:>11.3f}  (Noto Sans CJK subset)")


if __name__ == "__main__":
    main()
