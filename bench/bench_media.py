"""Cost of image and audio attention in the kernel: extraction time and bytes, against a forward.

Real shapes with random weights, on the CPU, each row in a fresh subprocess
(so its peak RSS, ``ru_maxrss``, is its own):

* ``vit-b16``: ViT-B/16 at 224² (197 tokens, 12 layers x 12 heads);
* ``dinov2-l14``: DINOv2-L/14 at 518² (1,370 tokens, 24 layers x 16 heads), lazy;
* ``swin-t``: Swin-T at 224² (stages of 3,136 / 784 / 196 / 49 patches, 7x7 windows), float16;
* ``whisper-tiny``: Whisper-tiny shape (4 + 4 layers x 6 heads, 1,500 encoder
  positions = 30 s) on a 1 s tone with a 12-token target.

``forward`` (the model alone on processed inputs, default sdpa attention, no
weights) and ``extract`` (``extract_media``: processor, capture, checks,
labels, the picture) alternate in the same process, so a loaded machine slows
both alike. Printed per row: median wall time of each (after one warm-up),
the median ratio extract / forward of the pairs (and its range), RSS with the
model built and at its peak, the attention bytes the source holds (weights,
or queries and keys when lazy) and the picture's bytes (PNG of the processed
image, or the waveform envelope) as a file keeps them.

    python bench/bench_media.py                  # every row
    python bench/bench_media.py --rows vit-b16   # some rows
    python bench/bench_media.py --repeat 1       # one timed call per variant
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

ROWS = ("vit-b16", "dinov2-l14", "swin-t", "whisper-tiny")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _image(height: int, width: int) -> Any:
    import numpy as np

    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _build(row: str) -> tuple[Any, Any, Any, dict[str, Any], Any]:
    """model, processor, input, extraction options, plain-forward function."""
    import numpy as np
    import torch
    import transformers as tf
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    torch.manual_seed(0)
    if row in ("vit-b16", "dinov2-l14", "swin-t"):
        if row == "vit-b16":
            model: Any = tf.ViTModel(tf.ViTConfig(image_size=224, patch_size=16))
            side, options = 224, {}
        elif row == "dinov2-l14":
            config = tf.Dinov2Config(
                image_size=518,
                patch_size=14,
                hidden_size=1024,
                num_hidden_layers=24,
                num_attention_heads=16,
            )
            model, side, options = tf.Dinov2Model(config), 518, {"lazy": True}
        else:
            config = tf.SwinConfig(
                image_size=224,
                patch_size=4,
                embed_dim=96,
                depths=[2, 2, 6, 2],
                num_heads=[3, 6, 12, 24],
                window_size=7,
            )
            model, side, options = tf.SwinModel(config), 224, {"dtype": "float16"}
        processor = ViTImageProcessorPil(size={"height": side, "width": side})
        picture = _image(480, 640)
        pixels = processor(picture, return_tensors="pt")["pixel_values"]
        return model.eval(), processor, picture, options, lambda: model(pixel_values=pixels)
    config = tf.WhisperConfig(
        vocab_size=100,
        d_model=384,
        encoder_layers=4,
        decoder_layers=4,
        encoder_attention_heads=6,
        decoder_attention_heads=6,
        encoder_ffn_dim=1536,
        decoder_ffn_dim=1536,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=3,
        begin_suppress_tokens=None,
    )
    model = tf.WhisperForConditionalGeneration(config).eval()
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "<start>": 3, **{f"w{i}": 4 + i for i in range(90)}}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = tf.PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="<pad>", unk_token="<unk>"
    )
    extractor = tf.WhisperFeatureExtractor(feature_size=80)  # 30 s: 3,000 frames
    processor = tf.WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    wave = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    features = extractor(wave.astype(np.float64), sampling_rate=16000, return_tensors="pt")
    target = " ".join(f"w{i}" for i in range(11))  # with the start token: 12 decoder rows
    ids = torch.tensor([[3, *tokenizer(target)["input_ids"]]])
    options = {"target": target}

    def forward() -> Any:
        return model(input_features=features["input_features"], decoder_input_ids=ids)

    return model, processor, wave, options, forward


def _bytes_of(source: Any) -> int:
    if getattr(source, "holds_weights", True):
        return sum(source.case_values(c).nbytes for c in range(source.n_cases))
    tensors = [t for case in (*source.queries, *source.keys) for t in case]
    return sum(t.numel() * t.element_size() for t in tensors)


def _picture_bytes(sources: dict[str, Any]) -> int:
    from attn_widget.media import media_arrays

    seen: set[int] = set()
    total = 0
    for source in sources.values():
        media = getattr(source, "media", None)
        if media is None or id(media) in seen:
            continue
        seen.add(id(media))
        total += sum(a.nbytes for a in media_arrays(source, "m").values())
    return total


def child(row: str, repeat: int) -> dict[str, Any]:
    """One row: forward and extraction alternate, so both see the same machine load."""
    import torch

    from attn_widget.extract import media

    model, processor, given, options, forward = _build(row)
    base = _rss_mb()

    def plain() -> Any:
        with torch.no_grad():
            return forward()

    def extract() -> Any:
        return media.extract_media(model, processor, given, **options)

    plain()  # warm-up
    extract()
    times: dict[str, list[float]] = {"forward": [], "extract": []}
    result = None
    for _ in range(repeat):
        for name, call in (("forward", plain), ("extract", extract)):
            result = None
            start = time.perf_counter()
            result = call()
            times[name].append(time.perf_counter() - start)
    sources = result if isinstance(result, dict) else {"attention": result}
    return {
        "forward": statistics.median(times["forward"]),
        "extract": statistics.median(times["extract"]),
        "ratios": [e / f for f, e in zip(times["forward"], times["extract"], strict=True)],
        "rss": _rss_mb(),
        "base": base,
        "tokens": {k: list(s.shape(0)) for k, s in sources.items()},
        "attention_bytes": sum(_bytes_of(s) for s in sources.values()),
        "picture_bytes": _picture_bytes(sources),
    }


def _run(row: str, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", row, "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{row} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", metavar="ROW", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeat)))
        return
    print(
        f"CPU threads: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; median of "
        f"{args.repeat} alternating calls after a warm-up"
    )
    print(
        f"{'row':<13} {'forward s':>9} {'extract s':>9} {'ratio':>6} {'(min-max)':>11} "
        f"{'RSS model':>9} {'RSS peak':>8} {'attn MB':>8} {'picture kB':>10}  tokens"
    )
    for row in args.rows:
        got = _run(row, args.repeat)
        ratio = statistics.median(got["ratios"])
        spread = f"{min(got['ratios']):.2f}-{max(got['ratios']):.2f}"
        print(
            f"{row:<13} {got['forward']:>9.3f} {got['extract']:>9.3f} {ratio:>6.2f} "
            f"{spread:>11} {got['base']:>9.0f} {got['rss']:>8.0f} "
            f"{got['attention_bytes'] / 2**20:>8.1f} {got['picture_bytes'] / 1024:>10.1f}  "
            f"{got['tokens']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
