"""Head scores over many cases: running means, spreads and top examples; scoring a source.

:class:`ScoreAccumulator` takes one case's ``(layers, heads)`` scores at a
time and keeps only sums, sums of squares and each head's best cases, so a
corpus of any size is scored in bounded memory; accumulators of several
processes merge into one, and give a :class:`~.results.HeadScores`.
:func:`score_source` scores every case of an attention source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .results import HeadScores
from .scores import (
    SPECIAL_TOKENS,
    CaseLayout,
    Pattern,
    case_scores,
    check_names,
)

__all__ = [
    "ScoreAccumulator",
    "case_blocks",
    "case_layout",
    "is_causal",
    "layer_block",
    "score_source",
]


class ScoreAccumulator:
    """Running sums, sums of squares and top cases of every score, one case at a time."""

    def __init__(self, names: Sequence[str], n_layers: int, n_heads: int, top_k: int = 5) -> None:
        self.names = tuple(names)
        self.n_layers, self.n_heads, self.top_k = n_layers, n_heads, top_k
        shape = (n_layers, n_heads)
        self.count = dict.fromkeys(self.names, 0)
        self.total = {n: np.zeros(shape) for n in self.names}
        self.squares = {n: np.zeros(shape) for n in self.names}
        self.best_values = {n: np.full((*shape, top_k), -np.inf) for n in self.names}
        self.best_cases = {n: np.full((*shape, top_k), -1, dtype=np.int64) for n in self.names}
        self.reasons: dict[str, Counter[str]] = {n: Counter() for n in self.names}
        self.rows = dict.fromkeys(self.names, 0)  # rows that gave each score, all cases
        self.cases = 0

    def add(self, index: int, values: Mapping[str, np.ndarray | None], layout: CaseLayout) -> None:
        """Add case ``index`` (its position in the corpus); None values record their reason."""
        self.cases += 1
        for name in self.names:
            value = values.get(name)
            if value is None:
                self.reasons[name][layout.reason(name) or "not computed"] += 1
                continue
            self.count[name] += 1
            self.rows[name] += layout.rows_of(name)
            self.total[name] += value
            self.squares[name] += value * value
            self._keep_best(name, index, value)

    def _keep_best(self, name: str, index: int, value: np.ndarray) -> None:
        best, cases = self.best_values[name], self.best_cases[name]
        slot = best.argmin(axis=2)
        lowest = np.take_along_axis(best, slot[..., None], axis=2)[..., 0]
        better = value > lowest  # strictly: on ties the earlier case stays
        layer, head = np.nonzero(better)
        best[layer, head, slot[better]] = value[better]
        cases[layer, head, slot[better]] = index

    def merge(self, other: ScoreAccumulator) -> None:
        """Fold another accumulator (another process's share of the corpus) into this one."""
        if (other.names, other.n_layers, other.n_heads) != (
            self.names,
            self.n_layers,
            self.n_heads,
        ):
            raise ValueError(
                "merge: accumulators differ in scores or model shape: "
                f"{other.names} {other.n_layers}x{other.n_heads} vs "
                f"{self.names} {self.n_layers}x{self.n_heads}"
            )
        self.cases += other.cases
        for name in self.names:
            self.count[name] += other.count[name]
            self.rows[name] += other.rows[name]
            self.total[name] += other.total[name]
            self.squares[name] += other.squares[name]
            self.reasons[name].update(other.reasons[name])
            values = np.concatenate([self.best_values[name], other.best_values[name]], axis=2)
            cases = np.concatenate([self.best_cases[name], other.best_cases[name]], axis=2)
            order = _best_order(values, cases)[..., : self.top_k]
            self.best_values[name] = np.take_along_axis(values, order, axis=2)
            self.best_cases[name] = np.take_along_axis(cases, order, axis=2)

    def result(
        self,
        *,
        per_case: Mapping[str, np.ndarray] | None = None,
        source: Any = None,
        source_cases: Sequence[int] | None = None,
        notes: Mapping[str, str] | None = None,
        hints: Mapping[str, str] | None = None,
    ) -> HeadScores:
        """The scores; a score no case could give is listed in ``missing`` with its reason."""
        if self.cases == 0:
            raise ValueError("head_scores: no case was scored (the corpus is empty)")
        means: dict[str, np.ndarray] = {}
        spreads: dict[str, np.ndarray] = {}
        missing: dict[str, str] = {}
        examples: dict[str, list[list[list[tuple[int, float]]]]] = {}
        for name in self.names:
            n = self.count[name]
            if n == 0:
                reason = self.reasons[name].most_common(1)[0][0]
                hint = (hints or {}).get(name, "")
                missing[name] = f"{name}: {reason}; none of the {self.cases} case(s) has one{hint}"
                continue
            mean = self.total[name] / n
            variance = np.maximum(self.squares[name] / n - mean * mean, 0.0)
            means[name], spreads[name] = mean, np.sqrt(variance)
            examples[name] = self._examples(name)
        return HeadScores(
            means,
            spreads,
            counts={n: self.count[n] for n in means},
            n_cases=self.cases,
            examples=examples,
            missing=missing,
            notes=dict(notes or {}),
            per_case=dict(per_case) if per_case is not None else None,
            source=source,
            source_cases=list(source_cases) if source_cases is not None else None,
        )

    def _examples(self, name: str) -> list[list[list[tuple[int, float]]]]:
        values, cases = self.best_values[name], self.best_cases[name]
        order = _best_order(values, cases)
        values = np.take_along_axis(values, order, axis=2)
        cases = np.take_along_axis(cases, order, axis=2)
        return [
            [
                [
                    (int(c), float(v))
                    for c, v in zip(cases[layer, h], values[layer, h], strict=True)
                    if c >= 0
                ]
                for h in range(self.n_heads)
            ]
            for layer in range(self.n_layers)
        ]

    # Plain arrays and dicts: what crosses between processes (no numpy objects pickled
    # with custom classes, so any gather that pickles plain data carries it).
    def to_payload(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "shape": [self.n_layers, self.n_heads, self.top_k],
            "cases": self.cases,
            "count": dict(self.count),
            "rows": dict(self.rows),
            "total": self.total,
            "squares": self.squares,
            "best_values": self.best_values,
            "best_cases": self.best_cases,
            "reasons": {n: dict(c) for n, c in self.reasons.items()},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ScoreAccumulator:
        layers, heads, top_k = payload["shape"]
        made = cls(payload["names"], layers, heads, top_k)
        made.cases = int(payload["cases"])
        made.count = {n: int(v) for n, v in payload["count"].items()}
        made.rows = {n: int(v) for n, v in payload["rows"].items()}
        made.total = {n: np.asarray(v) for n, v in payload["total"].items()}
        made.squares = {n: np.asarray(v) for n, v in payload["squares"].items()}
        made.best_values = {n: np.asarray(v) for n, v in payload["best_values"].items()}
        made.best_cases = {n: np.asarray(v) for n, v in payload["best_cases"].items()}
        made.reasons = {n: Counter(v) for n, v in payload["reasons"].items()}
        return made


def _best_order(values: np.ndarray, cases: np.ndarray) -> np.ndarray:
    """Per head, slots by value descending, ties by case index; empty slots last."""
    empty = cases < 0
    # lexsort sorts by the last key first: empty slots last, then -value, then case.
    keys = (np.where(empty, np.iinfo(np.int64).max, cases), -values, empty)
    return np.lexsort(keys, axis=-1)


def layer_block(source: Any, layer: int, case: int) -> np.ndarray:
    """One layer's ``(heads, q, k)`` weights as float32 (a view when the source holds them)."""
    if source.holds_weights:
        return np.asarray(source.case_values(case)[layer], dtype=np.float32)
    return np.stack([source.matrix(layer, h, case) for h in range(source.n_heads)])


def case_blocks(source: Any, case: int) -> Iterator[np.ndarray]:
    """A case's matrices for :func:`case_scores`: the whole held case as one block, else per layer.

    One ``(layers · heads, q, k)`` block lets every score run once per case
    instead of once per layer (at 128 tokens the per-call overhead was most
    of the time); a source that computes its weights gives a layer at a time.
    """
    if source.holds_weights:
        values = np.asarray(source.case_values(case), dtype=np.float32)
        yield values.reshape(-1, *values.shape[-2:])
        return
    for layer in range(source.n_layers):
        yield layer_block(source, layer, case)


def key_ids(source: Any, case: int) -> list[Any]:
    """What identifies each key token of a case: raw tokenizer tokens when kept, else tokens."""
    raw = source.raw_tokens
    k = source.shape(case)[1]
    if isinstance(raw, (list, tuple)) and len(raw) > case:
        ids = raw[case]
        if isinstance(ids, (list, tuple)) and len(ids) == k:
            return list(ids)
    return list(source.tokens[case])


def is_causal(source: Any, case: int) -> bool:
    """``source.is_causal(case)``, answered from the weights row by row when they are held.

    Same answer as :meth:`AttentionData.is_causal` (nothing above the
    diagonal of any layer and head of a square, self-attention case), but
    reading each row's part above the diagonal in place rather than
    gathering the whole upper triangle: 20-40 ms instead of ~0.3 s for
    12 x 12 heads at 512 tokens, which would otherwise be a third of the
    scores' time.
    """
    if not source.holds_weights or source.is_cross:
        return bool(source.is_causal(case))
    values = source.case_values(case)
    q, k = values.shape[-2:]
    if q != k:
        return False
    rows = values.reshape(-1, q, k)
    return not any(rows[:, r, r + 1 :].any() for r in range(q - 1))


def case_layout(
    source: Any,
    case: int,
    *,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    pattern: Pattern | None = None,
    what: str | None = None,
) -> CaseLayout:
    q, k = source.shape(case)
    return CaseLayout.build(
        q,
        k,
        causal=is_causal(source, case),
        cross=bool(source.is_cross),
        ids=key_ids(source, case),
        special_tokens=special_tokens,
        pattern=pattern,
        what=what or f"case {case}",
    )


INDUCTION_HINT = (
    " (score induction on a built repeated random-token sequence with "
    "head_scores(model, tokenizer, texts), or give texts that repeat)"
)


def score_source(
    source: Any,
    *,
    scores: Sequence[str] | None = None,
    pattern: Pattern | None = None,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    top_k: int = 5,
    cases: Sequence[int] | None = None,
) -> HeadScores:
    """Score every head on every case of an attention source (see :class:`HeadScores`).

    ``scores`` names the scores (all by default; ``pattern_mul`` and
    ``pattern_abs`` only with a ``pattern``, a ``(q, k)`` matrix or a function
    ``(q, k) -> matrix``). ``special_tokens`` are the keys ``cls_sep`` counts.
    ``cases`` picks cases (all by default).
    """
    names = check_names(scores)
    if scores is None and pattern is None:
        names = tuple(n for n in names if not n.startswith("pattern_"))
    picked = list(range(source.n_cases)) if cases is None else [int(c) for c in cases]
    if not picked:
        raise ValueError("cases: expected at least one case index, got none")
    for c in picked:
        source.check_index(case=c)
    accumulator = ScoreAccumulator(names, source.n_layers, source.n_heads, top_k)
    per_case = {n: np.full((len(picked), source.n_layers, source.n_heads), np.nan) for n in names}
    for row, c in enumerate(picked):
        layout = case_layout(source, c, special_tokens=special_tokens, pattern=pattern)
        values = case_scores(
            case_blocks(source, c), (source.n_layers, source.n_heads), layout, names
        )
        accumulator.add(c, values, layout)
        for name, value in values.items():
            if value is not None:
                per_case[name][row] = value
    notes: dict[str, str] = {
        name: (
            f"on the data's own repeated tokens ({accumulator.rows[name]:,} rows in "
            f"{accumulator.count[name]} of {accumulator.cases} cases)"
        )
        for name in ("duplicate_token", "induction")
        if name in names and accumulator.count[name]
    }
    return accumulator.result(
        per_case=per_case,
        source=source,
        source_cases=picked,
        notes=notes,
        hints={"induction": INDUCTION_HINT, "duplicate_token": INDUCTION_HINT},
    )
