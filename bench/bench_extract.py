"""Cost of getting attention out of a model: from_model against the forwards it replaces.

A GPT-2-shaped model (12 layers x 12 heads, 768 wide, random weights) runs on
N tokens on the CPU in four ways, each in a fresh subprocess so that its peak
resident memory (``ru_maxrss``, which counts torch's allocations, unlike
tracemalloc) is its own:

* ``sdpa``: a plain forward, default attention, no weights;
* ``eager+attn``: ``attn_implementation="eager"`` and ``output_attentions=True``;
* ``from_model``: ``aw.from_model`` on the default (sdpa) model, float32 weights;
* ``from_model16``: the same storing float16 weights;
* ``lazy``: ``aw.from_model(..., lazy=True)``, which keeps queries and keys
  instead of weights (the issue's goal: within 1.3x of ``sdpa``).

Each prints wall time of the call (after a short warm-up) and peak RSS; the
model's own memory (``base``: RSS after building it) is in every figure.

    python bench/bench_extract.py              # N = 512 and 2048
    python bench/bench_extract.py --quick      # N = 128
    python bench/bench_extract.py --sizes 1024
    python bench/bench_extract.py --device cuda --sizes 2048 8192   # GPU peak memory too
    python bench/bench_extract.py --kinds --repeat 3   # one row per family kind, N = 2048

``--kinds`` runs one model per kind of attention (6 layers x 8 heads x 512
wide, random weights): plain causal (Llama), sliding window (Mistral, a
window of 512), ALiBi (BLOOM, outside the attention interface: lazy hooks
its modules) and T5's relative position bias (the T5 encoder), each as a
plain forward with its default attention (``sdpa``; BLOOM has only eager),
``from_model`` and ``lazy``, with the ratios to the plain forward of time and
peak memory (best of ``--repeat`` fresh processes: the CPUs may be shared), and
of time measured side by side in the variant's own process (alternating with a
plain forward, best of 3), which load drift on a shared machine does not skew.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

VARIANTS = ("sdpa", "eager+attn", "from_model", "from_model16", "lazy")


def _tokenizer(n_words: int) -> Any:
    """A word-level tokenizer: one token per word, so a text of N words is N tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(n_words)}
    vocab["[UNK]"] = n_words
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def _rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(variant: str, n: int, device: str) -> dict[str, Any]:
    """Run one variant in this process and return its figures."""
    import torch
    from transformers import GPT2Config, GPT2Model

    import attn_widget as aw

    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=max(1024, n))
    implementation = "eager" if variant == "eager+attn" else "sdpa"
    model = GPT2Model(config).eval().to(device)
    model.set_attn_implementation(implementation)
    cuda = device.startswith("cuda")
    tokenizer = _tokenizer(config.vocab_size - 1)

    def text(length: int) -> str:
        return " ".join(f"w{i % 5000}" for i in range(length))

    def run(length: int) -> Any:
        if variant == "lazy":
            return aw.from_model(model, tokenizer, text(length), lazy=True)
        if variant.startswith("from_model"):
            dtype = "float16" if variant == "from_model16" else "float32"
            return aw.from_model(model, tokenizer, text(length), dtype=dtype)
        ids = torch.tensor([tokenizer(text(length))["input_ids"]], device=device)
        with torch.no_grad():
            return model(ids, output_attentions=variant == "eager+attn")

    run(16)  # warm-up: imports, first kernels
    base = _rss_mb()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated() / 2**20
    start = time.perf_counter()
    result = run(n)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = _rss_mb()
    gpu = {}
    if cuda:
        gpu = {
            "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20,
            "gpu_base_mb": gpu_base,
        }
    if variant == "eager+attn":
        assert len(result.attentions) == 12 and result.attentions[0].shape[-1] == n
    elif variant.startswith("from_model") or variant == "lazy":
        assert result.data.shape(0) == (n, n)
    return {
        "variant": variant,
        "n": n,
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": base,
        **gpu,
    }


KINDS = ("plain causal", "sliding window", "alibi", "t5 bias")
KIND_VARIANTS = ("sdpa", "from_model", "lazy")


def _kind_model(kind: str) -> Any:
    import transformers as T

    common = {"vocab_size": 8192, "pad_token_id": 0}
    llama = dict(
        hidden_size=512,
        intermediate_size=1024,
        num_hidden_layers=6,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=4096,
    )
    if kind == "plain causal":
        return T.LlamaModel(T.LlamaConfig(**common, **llama))
    if kind == "sliding window":
        return T.MistralModel(T.MistralConfig(**common, **llama, sliding_window=512))
    if kind == "alibi":
        return T.BloomModel(T.BloomConfig(**common, hidden_size=512, n_layer=6, n_head=8))
    if kind == "t5 bias":
        config = T.T5Config(
            **common,
            d_model=512,
            d_kv=64,
            d_ff=1024,
            num_layers=6,
            num_heads=8,
            decoder_start_token_id=0,
        )
        return T.T5EncoderModel(config)
    raise ValueError(kind)


def kind_child(kind: str, variant: str, n: int) -> dict[str, Any]:
    """One variant of one kind's model, in this process."""
    import torch

    import attn_widget as aw

    torch.manual_seed(0)
    model = _kind_model(kind).eval()
    tokenizer = _tokenizer(8000)

    def text(length: int) -> str:
        return " ".join(f"w{(7 * i) % 8000}" for i in range(length))

    def run(length: int) -> Any:
        if variant == "sdpa":
            ids = torch.tensor([tokenizer(text(length))["input_ids"]])
            with torch.no_grad():
                return model(input_ids=ids)
        return aw.from_model(model, tokenizer, text(length), lazy=variant == "lazy")

    def warm(length: int) -> None:
        result = run(length)
        if hasattr(result, "close"):
            result.close()  # a widget stays registered until closed: free its weights
        del result
        gc.collect()

    warm(16)
    base = _rss_mb()
    # A first full-size run warms the allocator and the kernels for these shapes; the
    # peak (ru_maxrss) is this variant's own either way.
    warm(n)
    start = time.perf_counter()
    result = run(n)
    seconds = time.perf_counter() - start
    peak = _rss_mb()
    paired = None
    if variant != "sdpa":
        data = result.data
        assert data.shape(0) == (n, n)
        if variant == "lazy":
            assert isinstance(data, aw.LazyAttention)
        if hasattr(result, "close"):
            result.close()
        del result, data
        gc.collect()
        # Side by side in this process, alternating, best of 3: the ratio that a
        # shared machine's load drift does not skew (peak memory is taken above).
        ids = torch.tensor([tokenizer(text(n))["input_ids"]])
        best = {"plain": float("inf"), "this": float("inf")}
        for _ in range(3):
            t0 = time.perf_counter()
            with torch.no_grad():
                model(input_ids=ids)
            best["plain"] = min(best["plain"], time.perf_counter() - t0)
            t0 = time.perf_counter()
            warm(n)
            best["this"] = min(best["this"], time.perf_counter() - t0)
        paired = best["this"] / best["plain"]
    return {
        "kind": kind,
        "variant": variant,
        "n": n,
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": base,
        "paired": paired,
    }


def main_kinds(n: int, env: dict[str, str], repeat: int = 1) -> None:
    import torch

    print(
        f"One model per kind, 6 layers x 8 heads x 512 wide, N = {n}, CPU, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"{'kind':<16} {'variant':<11} {'wall s':>8} {'peak MB':>9} {'base MB':>8} "
        f"{'t / sdpa':>9} {'mem / sdpa':>11} {'t / plain, same process':>24}"
    )
    for kind in KINDS:
        rows = []
        for variant in KIND_VARIANTS:
            runs = []
            for _ in range(repeat):  # a fresh process each time; the fastest run is kept
                done = subprocess.run(
                    [sys.executable, __file__, "--kind-child", kind, variant, str(n)],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                if done.returncode != 0:
                    last = done.stderr.strip().splitlines()[-1]
                    print(f"{kind:<16} {variant:<11} failed: {last}")
                    break
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if runs:
                best = min(runs, key=lambda r: r["seconds"])
                best["peak_mb"] = min(r["peak_mb"] for r in runs)
                rows.append(best)
        sdpa = next((r for r in rows if r["variant"] == "sdpa"), None)
        for r in rows:
            ratios = ""
            if sdpa and r is not sdpa:
                ratios = (
                    f"{r['seconds'] / sdpa['seconds']:>8.2f}x "
                    f"{r['peak_mb'] / sdpa['peak_mb']:>10.2f}x "
                    f"{r['paired']:>23.2f}x"
                )
            print(
                f"{kind:<16} {r['variant']:<11} {r['seconds']:>8.2f} {r['peak_mb']:>9.0f} "
                f"{r['base_mb']:>8.0f} {ratios}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 128 only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="token counts")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--kinds", action="store_true", help="one row per family kind")
    parser.add_argument("--kind-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help="--kinds: best of this many runs")
    args = parser.parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    if args.kind_child:
        kind, variant, n = args.kind_child
        print(json.dumps(kind_child(kind, variant, int(n))))
        return
    if args.kinds:
        main_kinds((args.sizes or [2048])[0], env, args.repeat)
        return
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.device)))
        return
    sizes = args.sizes or ([128] if args.quick else [512, 2048])
    import torch

    where = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else f"CPU, {torch.get_num_threads()} threads"
    )
    gpu = args.device.startswith("cuda")
    print(f"GPT-2 shape 12 x 12 x 768, random weights, {where}")
    print(
        f"{'N':>6} {'variant':<13} {'wall s':>8} {'peak MB':>9} {'base MB':>8}"
        + (f" {'GPU peak MB':>12} {'GPU base MB':>12}" if gpu else "")
        + f" {'vs eager':>16} {'vs sdpa':>8}"
    )
    for n in sizes:
        rows = []
        for variant in args.variants:
            done = subprocess.run(
                [sys.executable, __file__, "--device", args.device, "--child", variant, str(n)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"{n:>6} {variant:<13} failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        eager = next((r for r in rows if r["variant"] == "eager+attn"), None)
        sdpa = next((r for r in rows if r["variant"] == "sdpa"), None)
        memory = "gpu_peak_mb" if gpu else "peak_mb"
        for r in rows:
            ratio = ""
            if eager and r is not eager:
                ratio = (
                    f"{r['seconds'] / eager['seconds']:.2f}x t {r[memory] / eager[memory]:.0%} mem"
                )
            extra = f" {r['gpu_peak_mb']:>12.0f} {r['gpu_base_mb']:>12.0f}" if gpu else ""
            versus_sdpa = f"{r['seconds'] / sdpa['seconds']:.2f}x" if sdpa else ""
            print(
                f"{n:>6} {r['variant']:<13} {r['seconds']:>8.2f} {r['peak_mb']:>9.0f} "
                f"{r['base_mb']:>8.0f}{extra} {ratio:>16} {versus_sdpa:>8}"
            )


if __name__ == "__main__":
    main()
