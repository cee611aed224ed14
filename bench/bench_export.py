"""Time and size of PDF exports: heatmaps at N = 128, 512, 1024 and a 12 x 12 grid at N = 128.

Prints figures, passes or fails nothing. Goals (issue 3): N = 512 heatmap in
<= 1 s and <= 1.5 MB; a 12 x 12 (layers x heads) grid at N = 128 in <= 3 s.

    .venv/bin/python bench/bench_export.py [--repeat 3]

Inputs are softmax rows of random logits with a local (diagonal-band) bias,
like real attention, which compresses well; a pure-noise N = 512 map is the
worst case for the file size. The best of ``--repeat`` runs is reported,
after one warm-up render (font loading, imports).
"""

from __future__ import annotations

import argparse
import io
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
