"""Image models in the view: first paint and slider repaints in headless chromium, JupyterLab.

The ViT-B/16 (197 tokens, 12 x 12 heads) and DINOv2-L/14 at 518² (1,370
tokens, 24 x 16 heads, lazy) rows of ``bench_media``, built the same way
(random weights, a 640 x 480 picture), extracted in the kernel with
``aw.from_model(model, processor, picture)`` and shown; then measured as
``bench_widget`` measures a widget: bytes to the first complete paint, the
first paint, one-step and random layer / head moves (median and p95), bytes
per move, the kernel's peak RSS. The image picture repaints with every move.

    python -m bench.bench_media_view
    python -m bench.bench_media_view --rows vit-b16 --steps 20 --jumps 10
"""

from __future__ import annotations

import argparse
import sys

from bench import bench_widget
from bench.bench_widget import CHROMIUM, add_move_arguments, lab_and_browser

SHAPES = {"vit-b16": (12, 12, 197), "dinov2-l14": (24, 16, 1370)}
# {layers} {heads} {n} are filled by bench_widget.measure (unused here).
BUILD = """
import sys
sys.path.insert(0, {root!r})
import attn_widget as aw
from bench.bench_media import _build
model, processor, picture, options, _ = _build({row!r})
w = aw.from_model(model, processor, picture, **options)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    add_move_arguments(parser, steps=30, jumps=12)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_media_view: needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    rows = []
    with lab_and_browser("aw-bench-media-") as (browser, server):
        for name in args.rows:
            layers, heads, n = SHAPES[name]
            bench_widget.LAYERS, bench_widget.HEADS = layers, heads
            code = BUILD.format(root=str(bench_widget.ROOT), row=name)
            bench_widget.GENERATE = code.replace("{", "{{").replace("}", "}}")
            bench_widget.SHOW = "w{budget}"  # no budget given: "w"
            row = bench_widget.measure(browser, server, n, args.steps, args.jumps, args.pause)
            rows.append((name, row))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    print(f"{'row':<11} {'tier':>6} {'1st paint':>9} {'1st MB':>7} {'step med':>8} "
          f"{'step p95':>8} {'jump med':>8} {'MB/move':>7} {'kernel MB':>9}")  # fmt: skip
    for name, r in rows:
        per_move = r.move_bytes / max(1, r.moves)
        print(f"{name:<11} {r.tier:>6} {r.first_paint_ms:7.0f}ms {r.first_bytes / 1e6:7.2f} "
              f"{r.step_median_ms:6.1f}ms {r.step_p95_ms:6.1f}ms {r.jump_median_ms:6.1f}ms "
              f"{per_move / 1e6:7.2f} {r.kernel_peak_rss / 2**20:9.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
