"""Head scores of a whole corpus: texts streamed through extraction in batches, bounded memory.

Each batch of texts goes through :func:`~attn_widget.extract.extract_attention`;
its cases are scored and dropped, so only one batch's weights are ever held
(plus the first batch, kept for the figures' thumbnails). The result holds
running means, spreads and each head's top examples, never an N × N cube of
the corpus.

Launched on several processes (``accelerate launch --multi_gpu
--num_processes N``, or ``torchrun``; on a machine without GPUs the processes
join over gloo on the CPU), the same call scores a share of the texts in each
process (split with accelerate's ``split_between_processes``) and gathers the
accumulators on every process, so each returns the whole corpus's scores; accelerate does
the process bookkeeping, nothing here schedules. Put the model on
``PartialState().device`` first when each process has its own GPU. The
process group stays open for the script's own use; end the script with
``torch.distributed.destroy_process_group()`` (a gloo group left open can
abort the process at exit).

Duplicate-token and induction scores need repeated tokens: when the texts
have none (or ``repeats="built"``) they are measured, as in the
induction-head literature, on built sequences of random tokens repeated
twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .analysis.atlas import (
    ScoreAccumulator,
    case_blocks,
    case_layout,
)
from .analysis.results import HeadScores
from .analysis.scores import SPECIAL_TOKENS, Pattern, case_scores, check_names

__all__ = ["REPEAT_SCORES", "corpus_scores", "repeated_random_texts"]

REPEAT_SCORES = ("duplicate_token", "induction")
REPEATS = ("auto", "data", "built")


def _texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if texts is None or not isinstance(texts, Sequence):
        raise ValueError(
            f"texts: expected a string or a list of strings, got {type(texts).__name__}"
        )
    items = list(texts)
    if not items:
        raise ValueError("texts: the corpus is empty; expected at least one text")
    bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
    if bad:
        raise ValueError(
            f"texts: expected strings; text {bad[0]} is {type(items[bad[0]]).__name__}"
        )
    empty = [i for i, t in enumerate(items) if not t.strip()]
    if empty:
        raise ValueError(f"texts: text {empty[0]} is empty; expected non-empty texts")
    return items


def _special_tokens(tokenizer: Any, given: Sequence[str] | None) -> tuple[str, ...]:
    if given is not None:
        return tuple(given)
    found = [getattr(tokenizer, name, None) for name in ("cls_token", "sep_token")]
    return tuple(dict.fromkeys([*(str(t) for t in found if t), *SPECIAL_TOKENS]))


def _max_positions(model: Any) -> int | None:
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def repeated_random_texts(
    tokenizer: Any, *, length: int = 50, count: int = 4, seed: int = 0
) -> list[str]:
    """``count`` texts of ``length`` random words, each text the same words twice.

    Words are vocabulary entries that read as a plain word and tokenize back
    to one token after a space, drawn without repeats within a text, so the
    only repeats are the planted ones (the scores use the tokens the texts
    really give, whatever the tokenizer does at the seam).
    """
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    candidates = sorted(i for i in set(vocab.values()) if i not in special)
    rng = np.random.default_rng(seed)
    words: list[str] = []
    seen: set[str] = set()
    for index in rng.permutation(len(candidates)):
        token_id = int(candidates[int(index)])
        word = tokenizer.decode([token_id]).strip()
        if not (word.isascii() and word.isalpha() and 2 <= len(word) <= 12) or word in seen:
            continue
        if len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) != 1:
            continue
        seen.add(word)
        words.append(word)
        if len(words) == length * count:
            break
    if len(words) < length * count:
        raise ValueError(
            f"repeats: the tokenizer gave only {len(words)} single-token words; "
            f"{length * count} are needed for {count} sequences of {length}"
        )
    return [" ".join(words[c * length : (c + 1) * length] * 2) for c in range(count)]


def _no_accelerator() -> bool:
    """True when this machine has no device accelerate would run processes on (CPU only)."""
    import torch

    if torch.cuda.is_available():
        return False
    import accelerate.utils as utils

    checks = ("is_xpu_available", "is_npu_available", "is_mlu_available", "is_hpu_available")
    return not any(getattr(utils, name, lambda: False)() for name in checks)


def _process_state(parallel: bool | None) -> Any:
    """accelerate's process state when running on several processes, else None."""
    if parallel is False:
        return None
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    if parallel is None and not launched:
        return None
    try:
        from accelerate import PartialState
    except ImportError as error:
        raise ImportError(
            "parallel head scores need accelerate: pip install 'attn-widget[parallel]'"
        ) from error
    # Without an accelerator accelerate only joins the processes when told they
    # run on the CPU (gloo); launched by `accelerate launch --multi_gpu` or
    # torchrun on a CPU machine, that is the case to take.
    state = PartialState(cpu=launched and _no_accelerator())
    return state if state.num_processes > 1 else None


def _progress(total: int, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="head scores", unit="text")


def _component(result: Any, component: str | None) -> Any:
    if isinstance(result, dict):
        name = component or ("encoder" if "encoder" in result else next(iter(result)))
        if name not in result:
            raise ValueError(f"component: expected one of {', '.join(result)}, got {name!r}")
        return result[name]
    if component not in (None, "attention"):
        raise ValueError(
            f"component: this model has one attention component, got component={component!r}"
        )
    return result


class _Scorer:
    """Scores batches of texts into an accumulator, keeping the first batch as a source."""

    def __init__(self, model: Any, tokenizer: Any, names: tuple[str, ...], options: dict[str, Any]):
        self.model, self.tokenizer, self.names = model, tokenizer, names
        self.options = options
        self.accumulator: ScoreAccumulator | None = None
        self.first: Any = None
        self.first_cases: list[int] = []

    def batch(self, indices: Sequence[int], texts: Sequence[str]) -> None:
        from .extract import extract_attention

        result = extract_attention(
            self.model, self.tokenizer, list(texts), dtype=self.options["dtype"]
        )
        source = _component(result, self.options["component"])
        if self.accumulator is None:
            self.accumulator = ScoreAccumulator(
                self.names, source.n_layers, source.n_heads, self.options["top_k"]
            )
            self.first, self.first_cases = source, list(indices)
        for case, index in enumerate(indices):
            layout = case_layout(
                source,
                case,
                special_tokens=self.options["special_tokens"],
                pattern=self.options["pattern"],
                what=f"text {index}",
            )
            values = case_scores(
                case_blocks(source, case),
                (source.n_layers, source.n_heads),
                layout,
                self.names,
            )
            self.accumulator.add(index, values, layout)


def corpus_scores(
    model: Any,
    tokenizer: Any,
    texts: str | Sequence[str],
    *,
    batch_size: int = 8,
    scores: Sequence[str] | None = None,
    pattern: Pattern | None = None,
    special_tokens: Sequence[str] | None = None,
    top_k: int = 5,
    repeats: str = "auto",
    repeat_length: int = 50,
    repeat_count: int = 4,
    seed: int = 0,
    component: str | None = None,
    dtype: Any = "float32",
    progress: bool = True,
    parallel: bool | None = None,
) -> HeadScores:
    """Score every head over a corpus of texts (see the module docstring).

    ``batch_size`` texts go through the model at a time. ``repeats``:
    ``"auto"`` scores duplicate-token and induction on the texts' own
    repeats when they have any, else on ``repeat_count`` built sequences of
    ``repeat_length`` random words said twice; ``"built"`` always on the
    built ones; ``"data"`` never. ``parallel``: None runs data-parallel when
    launched on several processes (``accelerate launch``), True requires it,
    False never. ``progress`` shows a bar (tqdm) on the main process.
    ``scores["name"].examples(...)`` give corpus indices of each head's
    best texts.
    """
    items = _texts(texts)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k: expected an integer >= 1, got {top_k!r}")
    if repeats not in REPEATS:
        raise ValueError(f"repeats: expected one of {', '.join(REPEATS)}, got {repeats!r}")
    names = check_names(scores)
    if scores is None and pattern is None:
        names = tuple(n for n in names if not n.startswith("pattern_"))
    options = {
        "dtype": dtype,
        "component": component,
        "top_k": top_k,
        "special_tokens": _special_tokens(tokenizer, special_tokens),
        "pattern": pattern,
    }
    state = _process_state(parallel)
    if parallel and state is None:
        raise ValueError(
            "parallel=True: not launched on several processes; run the script with "
            "`accelerate launch --num_processes N script.py`"
        )
    main = state is None or bool(state.is_main_process)
    scorer = _Scorer(model, tokenizer, names, options)
    every = list(range(len(items)))
    if state is None:
        mine = every
    else:
        with state.split_between_processes(every) as share:
            mine = list(share)
    bar = _progress(len(mine), progress and main)
    try:
        for start in range(0, len(mine), batch_size):
            indices = mine[start : start + batch_size]
            scorer.batch(indices, [items[i] for i in indices])
            if bar is not None:
                bar.update(len(indices))
    finally:
        if bar is not None:
            bar.close()

    payload = scorer.accumulator.to_payload() if scorer.accumulator is not None else None
    if state is not None:
        from accelerate.utils import gather_object

        # Plain dicts of arrays cross between processes, in rank order.
        gathered = gather_object([payload])
        payloads = [p for p in gathered if p is not None]
        shares = [0 if p is None else int(p["cases"]) for p in gathered]
    else:
        payloads = [payload] if payload is not None else []
        shares = [len(mine)]
    total = ScoreAccumulator.from_payload(payloads[0])
    for other in payloads[1:]:
        total.merge(ScoreAccumulator.from_payload(other))

    # Every process holds the same totals now, so each decides alike; the built
    # sequences are few and seeded, so each process scores them itself rather
    # than waiting on a second exchange.
    notes: dict[str, str] = {}
    score_sources: dict[str, tuple[Any, list[int]]] = {}
    need = [
        n
        for n in REPEAT_SCORES
        if n in names and (repeats == "built" or (repeats == "auto" and total.count[n] == 0))
    ]
    for name in REPEAT_SCORES:
        if name in names and name not in need and total.count[name]:
            notes[name] = (
                f"on the texts' own repeated tokens ({total.rows[name]:,} rows in "
                f"{total.count[name]} of {total.cases} texts); repeats='built' measures it on "
                "built random sequences, as the induction-head literature does"
            )
    if need:
        half = min(repeat_length, max(2, ((_max_positions(model) or 10**6) - 4) // 2))
        built_texts = repeated_random_texts(tokenizer, length=half, count=repeat_count, seed=seed)
        built = _Scorer(model, tokenizer, tuple(need), options)
        built.batch(list(range(len(built_texts))), built_texts)
        assert built.accumulator is not None
        why = "" if repeats == "built" else " (the texts repeat no token)"
        for name in need:
            _replace(total, built.accumulator, name)
            notes[name] = (
                f"on {repeat_count} built sequences of {half} random words said twice "
                f"(seed {seed}){why}; its examples index those sequences"
            )
            score_sources[name] = (built.first, list(range(repeat_count)))
    result = total.result(
        source=scorer.first,
        source_cases=scorer.first_cases,
        notes=notes,
        hints={n: " (the texts repeat no token; use repeats='auto')" for n in REPEAT_SCORES},
    )
    result.score_sources.update(score_sources)
    result.run = {"processes": len(shares), "texts_per_process": shares}
    return result


def _replace(into: ScoreAccumulator, source: ScoreAccumulator, name: str) -> None:
    """Put ``source``'s sums for score ``name`` in place of ``into``'s."""
    into.count[name] = source.count[name]
    into.total[name] = source.total[name]
    into.squares[name] = source.squares[name]
    into.best_values[name] = source.best_values[name]
    into.best_cases[name] = source.best_cases[name]
    into.reasons[name] = source.reasons[name]
    into.rows[name] = source.rows[name]
