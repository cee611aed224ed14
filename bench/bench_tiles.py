"""Kernel-side cost of long inputs: what the widget computes per slider step.

For N tokens and a 12 x 12 model this prints, for weights held in memory
(AttentionData, float16 storage) and for weights computed on demand from
queries and keys (LazyAttention, random Q/K of head size 64):
memory held, time for the 440 px max-pooled overview tile, the top-8 links of
30 visible rows, one token's column, and one layer of 40 px thumbnails, plus
the bytes each reply puts on the wire. For lazy sources a "limit" row puts
the exact tile beside the bare matmul of the same pairs (and the plain
``q @ k.T``), the estimate beside the exact tile, and the head mean beside the
sum of its heads, all measured in the same run.

    python bench/bench_tiles.py            # N = 512, 2048, 8192 (lazy only at 8192)
    python bench/bench_tiles.py --quick    # N = 512
    python bench/bench_tiles.py --device cuda   # queries and keys on the GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from attn_widget import AttentionData, wire
from attn_widget.lazy import LazyAttention
from attn_widget.serve import tiles

LAYERS, HEADS, DIM = 12, 12, 64


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def lazy_source(n: int, device: str = "cpu") -> LazyAttention:
    gen = torch.Generator().manual_seed(0)

    def randn() -> torch.Tensor:
        return torch.randn(HEADS, n, DIM, generator=gen).to(device)

    queries = [[randn() for _ in range(LAYERS)]]
    keys = [[randn() for _ in range(LAYERS)]]
    return LazyAttention(
        queries, keys, [[str(i) for i in range(n)]], scaling=DIM**-0.5, causal=True
    )


def eager_source(lazy: LazyAttention) -> AttentionData:
    n = lazy.shape(0)[0]
    cube = np.empty((LAYERS, HEADS, n, n), dtype=np.float16)
    for layer in range(LAYERS):
        for head in range(HEADS):
            cube[layer, head] = lazy.matrix(layer, head)
    return AttentionData(cube, lazy.tokens[0], dtype=np.float16)


def bare_matmuls(source: LazyAttention, layer: int, head: int) -> tuple[float, float]:
    """The physical limit: (plain q @ k.T of the whole head, the same pairs in blocks).

    The plain product writes every N x N score to memory (the issue's
    reference); the blocked one multiplies exactly the pairs a causal tile
    needs, block by block as the tile does, and keeps nothing.
    """
    q = source.queries[0][layer][head].float()
    k = source.keys[0][layer][head].float()
    n = q.shape[0]
    plain_s, _ = timed(lambda: q @ k.T, repeat=2) if n <= 16384 else (float("nan"), None)
    step = max(1, (1 << 19) // n)

    def blocked() -> None:
        for start in range(0, n, step):
            stop = min(n, start + step)
            k[:stop] @ q[start:stop].T

    blocked_s, _ = timed(blocked)
    return plain_s, blocked_s


def kernel_limits(n: int, source: LazyAttention) -> None:
    """One head's exact overview and its estimate beside the bare matmuls; the head mean."""
    fq = -(-n // 440)
    exact_s, _ = timed(lambda: tiles.tile(source, 5, 3, 0, max_rows=440, max_cols=440))
    reads = max(1, fq // 8)
    estimate_s, _ = timed(
        lambda: tiles.tile(source, 5, 3, 0, max_rows=440, max_cols=440, reads=reads)
    )
    plain_s, blocked_s = bare_matmuls(source, 5, 3)
    heads_s = sum(
        timed(lambda h=h: tiles.tile(source, 5, h, 0, max_rows=440, max_cols=440), repeat=1)[0]
        for h in range(HEADS)
    )
    mean_s, _ = timed(lambda: tiles.tile(source, 5, None, 0, max_rows=440, max_cols=440), 1)
    print(
        f"limit  N={n:5}  exact tile {exact_s * 1e3:7.1f} ms | blocked q·kᵀ of its pairs "
        f"{blocked_s * 1e3:7.1f} ms (x{exact_s / blocked_s:4.2f}) | plain q @ k.T "
        f"{plain_s * 1e3:7.1f} ms (x{exact_s / plain_s:4.2f}) | estimate ({reads} of {fq} rows) "
        f"{estimate_s * 1e3:6.1f} ms (x{estimate_s / exact_s:4.2f} of exact) | head mean "
        f"{mean_s * 1e3:7.1f} ms = x{mean_s / heads_s:4.2f} the sum of its {HEADS} heads"
    )


def report(name: str, n: int, source, held: int) -> None:
    overview_s, t = timed(lambda: tiles.tile(source, 5, 3, 0, max_rows=440, max_cols=440))
    # The widget's own encoding of a pooled tile (half floats past 256 x 256 values).
    overview_bytes = len(wire.tile_reply(t.values, (t.q0, t.q1, t.k0, t.k1), (t.fq, t.fk))[1][0])
    links_s, (order, weights) = timed(
        lambda: tiles.top_links(source, 5, 3, 0, n // 2, n // 2 + 30, 8)
    )
    token_s, _ = timed(lambda: tiles.token_links(source, 5, 3, 0, "key", n // 3))
    thumbs_s, thumbs = timed(lambda: tiles.thumbnails(source, 5, 0, 40), repeat=1)
    mean_s, _ = timed(lambda: tiles.tile(source, 5, None, 0, max_rows=440, max_cols=440), repeat=1)
    print(
        f"{name:6} N={n:5}  held {held / 1e6:9.1f} MB | overview {overview_s * 1e3:7.1f} ms "
        f"({overview_bytes / 1e3:6.1f} kB) | head-mean overview {mean_s * 1e3:7.1f} ms | "
        f"links {links_s * 1e3:6.1f} ms ({order.nbytes + weights.nbytes} B) | "
        f"token {token_s * 1e3:6.1f} ms | layer thumbnails {thumbs_s * 1e3:7.1f} ms "
        f"({thumbs.size * 2 / 1e3:.0f} kB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", help="where queries and keys live: cpu, cuda")
    parser.add_argument("--sizes", type=int, nargs="*", help="token counts (default 512 2048 8192)")
    args = parser.parse_args()
    sizes = args.sizes or ([512] if args.quick else [512, 2048, 8192])
    if args.device == "cuda":
        where = torch.cuda.get_device_name()
    else:
        where = f"{torch.get_num_threads()} CPU threads"
    print(f"{LAYERS} layers x {HEADS} heads, head size {DIM}, lazy on {args.device} ({where})")
    for n in sizes:
        lazy = lazy_source(n, args.device)
        report("lazy", n, lazy, lazy.nbytes())
        kernel_limits(n, lazy)
        if n <= 2048 and args.device == "cpu":
            eager = eager_source(lazy)
            report("eager", n, eager, sum(v.nbytes for v in eager.values))
        elif n > 2048:
            gigabytes = LAYERS * HEADS * n * n * 2 / 1e9
            print(f"eager  N={n:5}  held {gigabytes:.1f} GB as float16: not built")


if __name__ == "__main__":
    main()
