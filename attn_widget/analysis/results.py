"""What head scores give back: :class:`HeadScores`, a mapping of score name to ``(layers, heads)``.

``scores["previous_token"]`` is each case's mean over its rows, averaged over
the cases (every case weighted equally); ``scores.spread[...]`` the standard
deviation over cases; ``scores.table()`` a sorted list of :class:`ScoreRow`.
A known score the data could not give raises :class:`MissingScore` (a
ValueError) with the reason; an unknown name lists the known ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .scores import DEFINITIONS, SCORE_NAMES, unknown_score

__all__ = ["HeadScores", "MissingScore", "ScoreRow"]


class MissingScore(KeyError, ValueError):
    """A known score the data could not give (the message says why)."""

    def __str__(self) -> str:
        return str(self.args[0])


class ScoreRow(NamedTuple):
    """One head's value of one score; ``spread`` is the standard deviation over cases."""

    score: str
    layer: int
    head: int
    value: float
    spread: float


class HeadScores(Mapping[str, np.ndarray]):
    """Scores per (layer, head): ``scores[name]`` is a ``(layers, heads)`` float64 array.

    Attributes
    ----------
    spread:
        ``{name: (layers, heads)}`` standard deviation over the cases (0 for one case).
    counts:
        ``{name: cases}`` how many cases gave each score (a case without a
        repeated token gives no induction score, for example).
    missing:
        ``{name: reason}`` scores asked for that no case could give;
        ``scores[name]`` raises a ValueError with that reason.
    notes:
        ``{name: text}`` where a score came from, when not from the data itself
        (induction on the built repeated random-token sequence).
    definitions:
        ``{name: one line}`` what each score measures.
    per_case:
        ``{name: (cases, layers, heads)}`` each case's value (NaN where the
        case gave none), for scores of an attention source; None for a
        streamed corpus (kept bounded: means, spreads, top examples only).
    source, source_cases:
        An attention source with some of the scored cases (all of them for a
        source; the first batch of a corpus) and their indices in the corpus;
        figures draw their thumbnails from it.
    run:
        For a corpus: ``{"processes": P, "texts_per_process": [...]}``.
    score_sources:
        ``{name: (source, case indices)}`` for scores measured elsewhere than
        on ``source`` (duplicate-token and induction on built repeated
        sequences); their :meth:`examples` index those cases.
    """

    def __init__(
        self,
        means: Mapping[str, np.ndarray],
        spreads: Mapping[str, np.ndarray],
        *,
        counts: Mapping[str, int],
        n_cases: int,
        examples: Mapping[str, list[list[list[tuple[int, float]]]]],
        missing: Mapping[str, str] | None = None,
        notes: Mapping[str, str] | None = None,
        per_case: Mapping[str, np.ndarray] | None = None,
        source: Any = None,
        source_cases: Sequence[int] | None = None,
    ) -> None:
        self._means = {n: means[n] for n in SCORE_NAMES if n in means}
        self.spread = {n: spreads[n] for n in self._means}
        self.counts = dict(counts)
        self.n_cases = n_cases
        self.missing = dict(missing or {})
        self.notes = dict(notes or {})
        self.per_case = (
            {n: v for n, v in per_case.items() if n in self._means}
            if per_case is not None
            else None
        )
        self.source = source
        self.score_sources: dict[str, tuple[Any, list[int]]] = {}
        # how a corpus was run: processes and texts each scored (accelerate launch)
        self.run: dict[str, Any] = {}
        self.source_cases = list(source_cases) if source_cases is not None else None
        self._examples = dict(examples)
        first = next(iter(self._means.values()), None)
        if first is None:
            raise ValueError(
                "head_scores: no score could be computed: "
                + "; ".join(self.missing.values() or ["no score asked for"])
            )
        self.n_layers, self.n_heads = first.shape

    # -- Mapping
    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._means:
            return self._means[name]
        if name in self.missing:
            raise MissingScore(self.missing[name])
        if name in SCORE_NAMES:
            raise MissingScore(f"{name}: not computed; pass scores=[..., {name!r}]")
        raise unknown_score(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._means)

    def __len__(self) -> int:
        return len(self._means)

    @property
    def names(self) -> tuple[str, ...]:
        """The scores computed, in the order of :data:`SCORE_NAMES`."""
        return tuple(self._means)

    @property
    def definitions(self) -> dict[str, str]:
        return {n: DEFINITIONS[n] for n in self._means}

    def _check(self, name: str) -> np.ndarray:
        return self[name]

    def _check_head(self, layer: int, head: int) -> None:
        from ..state import check_index

        check_index("layer", layer, self.n_layers)
        check_index("head", head, self.n_heads)

    # -- sorted views
    def order(self, name: str) -> list[tuple[int, int]]:
        """Every (layer, head), most of ``name`` first (ties: lower layer, then head)."""
        values = self._check(name)
        flat = np.lexsort((np.arange(values.size), -values.ravel()))
        return [divmod(int(i), self.n_heads) for i in flat]

    def top(self, name: str, n: int = 5) -> list[ScoreRow]:
        """The ``n`` heads with most of ``name``."""
        values, spread = self._check(name), self.spread[name]
        return [
            ScoreRow(name, layer, h, float(values[layer, h]), float(spread[layer, h]))
            for layer, h in self.order(name)[: max(0, int(n))]
        ]

    def table(self, name: str | None = None) -> list[ScoreRow]:
        """Every head of ``name`` (of every score for None), most of each score first."""
        names = self.names if name is None else (name,)
        return [row for n in names for row in self.top(n, self.n_layers * self.n_heads)]

    def head(self, layer: int, head: int) -> dict[str, float]:
        """Every score of one head (the view's tooltip)."""
        self._check_head(layer, head)
        return {n: float(v[layer, head]) for n, v in self._means.items()}

    def source_for(self, name: str) -> tuple[Any, list[int]] | None:
        """The source ``name`` was measured on and its cases' indices (None: none kept)."""
        self._check(name)
        if name in self.score_sources:
            return self.score_sources[name]
        if self.source is None or self.source_cases is None:
            return None
        return self.source, list(self.source_cases)

    def examples(self, name: str, layer: int, head: int) -> list[tuple[int, float]]:
        """The cases (indices in the corpus) where this head scores highest, best first."""
        self._check(name)
        self._check_head(layer, head)
        return list(self._examples[name][layer][head])

    def similar(
        self, layer: int, head: int, *, case: int | None = None
    ) -> list[tuple[int, int, float]]:
        """Heads like this one: every head ranked by pattern similarity (see ``similar_heads``)."""
        from .similar import similar_heads

        if self.source is None:
            raise ValueError("similar: these scores keep no attention source to compare heads in")
        return similar_heads(self.source, layer, head, case=case)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: names, definitions, values and spreads as nested lists, the orders, notes."""
        return {
            "names": list(self.names),
            "definitions": self.definitions,
            "values": {n: v.tolist() for n, v in self._means.items()},
            "spread": {n: v.tolist() for n, v in self.spread.items()},
            "order": {n: [list(p) for p in self.order(n)] for n in self.names},
            "counts": dict(self.counts),
            "n_cases": self.n_cases,
            "missing": dict(self.missing),
            "notes": dict(self.notes),
            "run": dict(self.run),
        }

    def __repr__(self) -> str:
        lines = [
            f"HeadScores({self.n_layers} layers x {self.n_heads} heads, {self.n_cases} case(s))"
        ]
        for name in self.names:
            best = self.top(name, 3)
            heads = ", ".join(f"L{r.layer} H{r.head} {r.value:.3g}" for r in best)
            lines.append(f"  {name:<16} {heads}")
        for name, reason in self.missing.items():
            lines.append(f"  {name:<16} missing: {reason}")
        return "\n".join(lines)
