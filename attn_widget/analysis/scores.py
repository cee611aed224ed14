"""Head scores of one case: what each head of a layer does, one number per head and score.

A case is laid out once (:class:`CaseLayout`: which rows count, which key
positions hold earlier copies of a token, which keys are [CLS]/[SEP], ...);
then every layer's ``(heads, q, k)`` block is scored by the functions of
:data:`SCORE_FUNCTIONS`, each documented by its one-line definition (the
first line of its docstring is the definition shown to users). A score that
a case cannot give (no repeated token, cross-attention for a positional
score) comes back as ``None`` with the reason in :meth:`CaseLayout.reason`.

Rows are the visible (unpadded) query tokens of the case. A row that can see
a single key (the first row of a causal model) has nowhere else to look: it
is left out of the scores marked "informative rows", so it neither makes
every causal model look like a first-token sink nor divides by log(1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFINITIONS",
    "SCORE_FUNCTIONS",
    "SCORE_NAMES",
    "SPECIAL_TOKENS",
    "CaseLayout",
    "Pattern",
    "UnknownScore",
    "case_scores",
    "check_names",
    "unknown_score",
]

# Keys counted by the "cls_sep" score when no tokenizer says otherwise.
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "<s>", "</s>", "<cls>", "<sep>")
# float32's smallest normal number: log(0 + TINY) is finite and 0 · log stays 0.
_TINY = np.float32(np.finfo(np.float32).tiny)

# A pattern to match: one matrix, or a function (q, k) -> matrix for cases of any length.
Pattern = np.ndarray | Callable[[int, int], Any]


def _pairs_of_repeats(ids: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with j < i and ``ids[j] == ids[i]``, sorted by i then j."""
    earlier: dict[Any, list[int]] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, token in enumerate(ids):
        seen = earlier.setdefault(token, [])
        rows.extend([i] * len(seen))
        cols.extend(seen)
        seen.append(i)
    return np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)


@dataclass
class CaseLayout:
    """What scoring one case needs, computed once for all its layers and heads.

    ``ids`` identify the key tokens (equal ids are the same token); for
    self-attention query ``i`` sits at key position ``i + offset`` (``offset =
    k - q``, 0 unless queries continue a longer context).
    """

    q: int
    k: int
    causal: bool
    cross: bool
    ids: Sequence[Any]
    special: np.ndarray  # bool (k,): keys counted by "cls_sep"
    pattern: np.ndarray | None = None  # (q, k) float32
    offset: int = 0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        q: int,
        k: int,
        *,
        causal: bool,
        cross: bool,
        ids: Sequence[Any],
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        pattern: Pattern | None = None,
        what: str = "case 0",
    ) -> CaseLayout:
        if len(ids) != k:
            raise ValueError(f"{what}: {len(ids)} key tokens for {k} keys")
        names = set(special_tokens)
        special = np.fromiter((str(t) in names for t in ids), dtype=bool, count=k)
        matrix = _pattern_matrix(pattern, q, k, what) if pattern is not None else None
        return cls(
            q=q,
            k=k,
            causal=causal and not cross,
            cross=cross,
            ids=ids,
            special=special,
            pattern=matrix,
            offset=0 if cross else k - q,
        )

    # -- row sets, each computed at most once per case
    def visible(self) -> np.ndarray:
        """How many keys each row can see."""
        if "visible" not in self._cache:
            if self.causal:
                seen = np.arange(1, self.q + 1) + self.offset
                self._cache["visible"] = np.clip(seen, 1, self.k)
            else:
                self._cache["visible"] = np.full(self.q, self.k)
        return self._cache["visible"]

    def informative(self) -> np.ndarray:
        """Rows that can see more than one key."""
        if "informative" not in self._cache:
            self._cache["informative"] = np.flatnonzero(self.visible() > 1)
        return self._cache["informative"]

    def previous_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, key) of each row's previous token."""
        if "previous" not in self._cache:
            rows = np.arange(self.q)
            keys = rows + self.offset - 1
            keep = keys >= 0
            self._cache["previous"] = (rows[keep], keys[keep])
        return self._cache["previous"]

    def repeat_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, key) where the key is an earlier copy of the row's token."""
        if "repeats" not in self._cache:
            rows, cols = _pairs_of_repeats(self.ids)
            # key positions -> query rows (self-attention: row = position - offset)
            rows = rows - self.offset
            keep = rows >= 0
            self._cache["repeats"] = (rows[keep], cols[keep])
        return self._cache["repeats"]

    def induction_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, key) where the key follows an earlier copy of the row's token.

        The key is ``j + 1`` for every earlier copy ``j`` of the row's token,
        up to the row itself (TransformerLens's induction pattern: the
        duplicate pattern shifted one key to the right, lower triangle).
        """
        if "induction" not in self._cache:
            rows, cols = self.repeat_pairs()
            targets = cols + 1
            keep = targets <= rows + self.offset
            self._cache["induction"] = (rows[keep], targets[keep])
        return self._cache["induction"]

    def distances(self) -> np.ndarray:
        """|position of the row − key|, float32 (q, k)."""
        if "distances" not in self._cache:
            rows = np.arange(self.q, dtype=np.float32)[:, None] + self.offset
            self._cache["distances"] = np.abs(rows - np.arange(self.k, dtype=np.float32))
        return self._cache["distances"]

    def rows_of(self, name: str) -> int:
        """How many rows of this case score ``name`` is a mean over."""
        if name == "previous_token":
            return len(self.previous_pairs()[0])
        if name == "duplicate_token":
            return len(np.unique(self.repeat_pairs()[0]))
        if name == "induction":
            return len(np.unique(self.induction_pairs()[0]))
        if name == "first_token":
            return self.q if self.cross else self.q - 1
        if name in ("pattern_mul", "pattern_abs"):
            return self.q
        return len(self.informative())

    def reason(self, name: str) -> str | None:
        """Why this case has no value for score ``name`` (None when it has one)."""
        positional = ("previous_token", "duplicate_token", "induction", "self", "distance")
        if self.cross and name in positional:
            return "needs self-attention (this is cross-attention: queries and keys differ)"
        if name == "previous_token" and len(self.previous_pairs()[0]) == 0:
            return "needs at least two tokens"
        if name == "duplicate_token" and len(self.repeat_pairs()[0]) == 0:
            return "needs a token that occurs twice"
        if name == "induction" and len(self.induction_pairs()[0]) == 0:
            return "needs a repeated token with a token after its first copy"
        if name == "cls_sep" and not self.special.any():
            return "needs [CLS]/[SEP] (or <s>, </s>) tokens"
        if name in ("pattern_mul", "pattern_abs") and self.pattern is None:
            return "needs a pattern (pattern=...)"
        if name in ("self", "distance", "entropy", "cls_sep") and len(self.informative()) == 0:
            return "needs a row that sees more than one key"
        if name == "first_token" and self.q < 2 and not self.cross:
            return "needs at least two tokens"
        return None


def _pattern_matrix(pattern: Pattern, q: int, k: int, what: str) -> np.ndarray:
    from ._validate import as_finite

    made = pattern(q, k) if callable(pattern) else pattern
    matrix = as_finite(made, "pattern", ndim=2, layout="(q, k)")
    if matrix.shape != (q, k):
        raise ValueError(
            f"pattern: expected a {q} x {k} matrix (the query x key shape of {what}), got "
            f"{matrix.shape[0]} x {matrix.shape[1]}; for cases of different lengths pass a "
            "function (q, k) -> matrix"
        )
    return np.ascontiguousarray(matrix, dtype=np.float32)


def _row_sums(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per head, the sum of ``block[:, r, c]`` over each distinct row of the (sorted) pairs."""
    values = block[:, rows, cols]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return np.add.reduceat(values, starts, axis=1)


# -- the scores: each takes the case layout and one layer's (heads, q, k) block


def previous_token(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight a token puts on the token just before it (every row but the first)."""
    rows, keys = case.previous_pairs()
    return block[:, rows, keys].mean(axis=1)


def duplicate_token(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight a token puts on earlier copies of itself (rows whose token occurred before)."""
    rows, keys = case.repeat_pairs()
    return _row_sums(block, rows, keys).mean(axis=1)


def induction(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight a token puts on the tokens that followed its earlier copies (rows with one)."""
    rows, keys = case.induction_pairs()
    return _row_sums(block, rows, keys).mean(axis=1)


def first_token(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight on the first token (BOS, [CLS]): the sink mass, over every row but the first."""
    start = 0 if case.cross else 1
    return block[:, start:, 0].mean(axis=1)


def cls_sep(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight on the [CLS] and [SEP] (or <s>, </s>) keys, over the informative rows."""
    keys = np.flatnonzero(case.special)
    # the few key columns first: a copy of (heads, q, specials), not of the block
    return block[:, :, keys].sum(axis=2)[:, case.informative()].mean(axis=1)


def self_mass(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean weight a token puts on itself (the diagonal), over the informative rows."""
    rows = case.informative()
    return block[:, rows, rows + case.offset].mean(axis=1)


def _row_blocks(case: CaseLayout) -> list[tuple[np.ndarray, int]]:
    """Informative rows in blocks, each with how many keys its rows can see.

    A causal row block ``r0:r1`` sees only keys ``< r1 + offset``: reading
    just those skips the zero half of a causal matrix.
    """
    if "row_blocks" not in case._cache:
        rows = case.informative()
        step = 64  # (matrices, 64, k) temporaries whatever the length
        blocks = []
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            keys = int(case.visible()[part].max()) if case.causal else case.k
            blocks.append((part, keys))
        case._cache["row_blocks"] = blocks
    return case._cache["row_blocks"]


def _rows_of(block: np.ndarray, rows: np.ndarray, keys: int) -> np.ndarray:
    """``block[:, rows, :keys]``, a view when the rows are consecutive."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return block[:, rows[0] : rows[-1] + 1, :keys]
    return block[:, rows, :keys]


def distance(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Mean attention distance Σⱼ αᵢⱼ·|i − j| in tokens, over the informative rows."""
    total = np.zeros(block.shape[0], dtype=np.float64)
    for rows, keys in _row_blocks(case):
        far = case.distances()[rows, :keys]
        part = np.einsum("hqk,qk->h", _rows_of(block, rows, keys), far, optimize=False)
        total += part
    return total / len(case.informative())


def entropy(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Row entropy −Σⱼ αᵢⱼ·log αᵢⱼ over log(visible keys): 0 on one key, 1 uniform."""
    total = np.zeros(block.shape[0], dtype=np.float64)
    for rows, keys in _row_blocks(case):
        weights = _rows_of(block, rows, keys)
        logs = np.log(weights + _TINY)
        logs *= weights
        norm = np.log(case.visible()[rows]).astype(np.float32)
        total += (logs.sum(axis=2) / norm).sum(axis=1)
    return -total / len(case.informative())


def pattern_mul(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """Σ α·P / Σ α against the pattern P: the share of attention P covers (detect_head "mul")."""
    assert case.pattern is not None
    flat = block.reshape(block.shape[0], -1)
    matched = flat @ case.pattern.reshape(-1)
    total = flat.sum(axis=1)
    return matched / np.where(total > 0, total, 1.0)


def pattern_abs(case: CaseLayout, block: np.ndarray) -> np.ndarray:
    """1 − Σ |α − P| / rows against the pattern P: 1 when the head is P (detect_head "abs")."""
    assert case.pattern is not None
    out = np.empty(block.shape[0])
    step = 16  # matrices at a time: a bounded temporary however many come in a block
    for m0 in range(0, block.shape[0], step):
        difference = np.subtract(block[m0 : m0 + step], case.pattern)
        np.abs(difference, out=difference)
        out[m0 : m0 + step] = difference.sum(axis=(1, 2))
    return 1.0 - out / case.q


SCORE_FUNCTIONS: dict[str, Callable[[CaseLayout, np.ndarray], np.ndarray]] = {
    "previous_token": previous_token,
    "duplicate_token": duplicate_token,
    "induction": induction,
    "first_token": first_token,
    "cls_sep": cls_sep,
    "self": self_mass,
    "distance": distance,
    "entropy": entropy,
    "pattern_mul": pattern_mul,
    "pattern_abs": pattern_abs,
}
SCORE_NAMES: tuple[str, ...] = tuple(SCORE_FUNCTIONS)
# One line per score, from the docstrings: the README and the tooltips say the same.
DEFINITIONS: dict[str, str] = {
    name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in SCORE_FUNCTIONS.items()
}


class UnknownScore(KeyError, ValueError):
    """An unknown score name: a ValueError (and a KeyError, so ``in`` and ``.get`` work)."""

    def __str__(self) -> str:
        return str(self.args[0])


def unknown_score(name: Any, known: Sequence[str] = SCORE_NAMES) -> UnknownScore:
    return UnknownScore(f"score: unknown name {name!r}; known scores: {', '.join(known)}")


def check_names(names: Sequence[str] | None) -> tuple[str, ...]:
    """The score names asked for (all of them for None), each known."""
    if names is None:
        return SCORE_NAMES
    if isinstance(names, str):
        names = [names]
    for name in names:
        if name not in SCORE_FUNCTIONS:
            raise unknown_score(name)
    if not names:
        raise ValueError(f"scores: expected at least one score name of {', '.join(SCORE_NAMES)}")
    return tuple(dict.fromkeys(names))


def case_scores(
    blocks: Iterable[np.ndarray],
    shape: tuple[int, int],
    case: CaseLayout,
    names: Sequence[str],
) -> dict[str, np.ndarray | None]:
    """Every score of ``names`` for one case: ``(layers, heads)`` float64, or None (see reason).

    ``blocks`` yields the case's float32 matrices as ``(m, q, k)`` blocks of
    consecutive (layer, head) pairs in layer-major order (one block per layer,
    or the whole ``(layers · heads, q, k)`` case at once when it is held:
    fewer, larger numpy calls); each block is scored by every function.
    """
    wanted = [n for n in names if case.reason(n) is None]
    out: dict[str, np.ndarray | None] = {n: None for n in names}
    if not wanted:
        return out
    columns: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
    for block in blocks:
        for name in wanted:
            columns[name].append(np.asarray(SCORE_FUNCTIONS[name](case, block), dtype=np.float64))
    for name in wanted:
        out[name] = np.concatenate(columns[name]).reshape(shape)
    return out
