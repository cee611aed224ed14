"""AttentionData, one validated attention cube, and the protocol every source implements.

Every input layout that users have at hand (``outputs.attentions`` from
transformers, stacked arrays, a single matrix; numpy or torch) is turned into
one shape: for each case (batch item) an array ``(layers, heads, q, k)`` cropped
to that case's own tokens. Nothing here knows about widgets or models.

:class:`AttentionSource` is what the widget, the kernel's replies, the
exports and the files read: weights held in memory (:class:`AttentionData`),
computed on demand (:class:`~attn_widget.lazy.LazyAttention`), or anything
later, all through the same methods; nobody asks which one it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._layouts import (
    PADDING_TOLERANCE,
    as_numpy,
    check_padding,
    check_values,
    stored_values,
    to_cube,
    token_lists,
)
from .state import check_index
from .token_text import display_lists

__all__ = [
    "PADDING_TOLERANCE",
    "AttentionData",
    "AttentionSource",
    "as_numpy",
    "check_indices",
    "max_pool",
]

_FLOAT_DTYPES = (np.float16, np.float32)


def check_indices(
    source: Any, layer: int | None = None, head: int | None = None, case: int | None = None
) -> None:
    """Check ``layer``, ``head`` and ``case`` indices against ``source.n_layers`` etc.

    Raises a ValueError that names the allowed range; ``None`` is not checked.
    """
    for name, value, count in (
        ("layer", layer, source.n_layers),
        ("head", head, source.n_heads),
        ("case", case, source.n_cases),
    ):
        if value is not None:
            check_index(name, value, count)


def max_pool(block: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """Max over ``fq x fk`` blocks; a partial block at the edge pools what it has.

    Attention weights are non-negative, so padding a partial block with zeros
    does not change its maximum: a single strong cell stays visible.
    """
    if fq < 1 or fk < 1:
        raise ValueError(f"pool factors: expected >= 1, got {fq} x {fk}")
    if fq == fk == 1:
        return np.ascontiguousarray(block, dtype=np.float32)
    q, k = block.shape
    padded_q, padded_k = -(-q // fq) * fq, -(-k // fk) * fk
    if (padded_q, padded_k) != (q, k):
        full = np.zeros((padded_q, padded_k), dtype=np.float32)
        full[:q, :k] = block
        block = full
    return block.reshape(padded_q // fq, fq, padded_k // fk, fk).max(axis=(1, 3))


def _meta(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta: expected a dict of metadata, got {type(meta).__name__}")
    return dict(meta)


@runtime_checkable
class AttentionSource(Protocol):
    """Attention weights of one component, however they are held.

    ``tokens[c]`` label the key axis of case ``c``, ``query_tokens[c]`` its
    query axis (the same lists for self-attention). ``head=None`` is the mean
    over heads everywhere. ``holds_weights`` says whether every weight is in
    memory already (then the whole cube can be packed for the browser at no
    computing cost).
    """

    n_layers: int
    n_heads: int
    tokens: list[list[str]]
    query_tokens: list[list[str]]
    is_cross: bool
    raw_tokens: Any
    meta: dict[str, Any]
    holds_weights: bool
    media: Any  # attn_widget.media.Media or None

    @property
    def n_cases(self) -> int: ...

    def shape(self, case: int = 0) -> tuple[int, int]: ...

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None: ...

    def rows(
        self, layer: int, head: int | None, case: int, start: int, stop: int
    ) -> np.ndarray: ...

    def pooled_rows(
        self,
        layer: int,
        head: int | None,
        case: int,
        start: int,
        stop: int,
        window: tuple[int, int],
        factors: tuple[int, int],
    ) -> np.ndarray: ...

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray: ...

    def case_values(self, case: int) -> np.ndarray: ...

    def is_causal(self, case: int = 0) -> bool: ...


class AttentionData:
    """Attention weights of one component (e.g. encoder self-attention).

    ``values[c]`` is an array ``(layers, heads, q_c, k_c)`` for case ``c``,
    cropped to that case's tokens. ``tokens[c]`` label the key (attended)
    axis and ``query_tokens[c]`` the query (attending) axis; they are the same
    lists for self-attention.

    Parameters
    ----------
    attentions:
        Any layout of the README's "Input layouts" table (and of DESIGN.md
        at the repository's root): per-layer ``(cases, heads, q, k)`` or
        ``(heads, q, k)`` arrays, a stacked ``(layers, cases, heads, q, k)`` or
        ``(layers, heads, q, k)`` array, or one ``(q, k)`` matrix; numpy or
        torch, any float dtype. Values must be finite, non-negative, and fit
        in the storage ``dtype``.
    tokens:
        Key-axis tokens: one list shared by every case, or one list per case
        (strings; ``bytes`` are decoded as UTF-8). A list shorter than the
        matrix side, shared or per case alike, is a case with padding
        (``padding_side`` says where) and is cropped to its tokens, but only
        when the positions left out receive no attention from the kept
        queries (at most :data:`PADDING_TOLERANCE`, as a masked softmax
        gives); positions with weight are refused, never cut. More tokens
        than positions are refused. ``None`` numbers the positions.
        What a font or an encoder cannot take (U+FEFF, lone surrogates, NUL,
        direction overrides, ...) is shown as a visible stand-in such as
        ``⟨U+FEFF⟩`` (see :mod:`attn_widget.token_text`); the tokens as given
        are then kept in ``raw_tokens`` (and ``meta["raw_query_tokens"]``).
    target_tokens:
        Query-axis tokens for cross-attention (``q != k``); defaults to
        ``tokens``.
    padding_side:
        ``"right"`` (padding after the tokens) or ``"left"``.
    dtype:
        Storage dtype: ``float32`` (default) or ``float16``.
    raw_tokens:
        Optional tokenizer output before display clean-up (same structure as
        ``tokens``); kept for users, never shown.
    meta:
        Free-form JSON-able metadata (model name, text, ...).
    """

    def __init__(
        self,
        attentions: Any,
        tokens: Any = None,
        *,
        target_tokens: Any = None,
        padding_side: str = "right",
        dtype: Any = np.float32,
        raw_tokens: Any = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side: expected 'right' or 'left'; got {padding_side!r}")
        try:
            dtype = np.dtype(dtype)
        except (TypeError, ValueError) as error:
            raise ValueError(f"dtype: expected float32 or float16; got {dtype!r:.60}") from error
        if dtype.type not in _FLOAT_DTYPES:
            raise ValueError(f"dtype: expected float32 or float16; got {dtype}")
        cube = to_cube(attentions)
        check_values(cube)
        layers, cases, heads, q, k = cube.shape
        cross = target_tokens is not None or q != k
        if q != k and target_tokens is None and tokens is not None:
            raise ValueError(
                f"target_tokens: the matrices are {q} x {k} (cross-attention) so the "
                f"{q} query-side tokens must be given as target_tokens="
            )
        given_keys = token_lists(tokens, cases, k, "tokens")
        keys, keys_changed = display_lists(given_keys)
        if cross:
            given_queries = token_lists(target_tokens, cases, q, "target_tokens")
            queries, queries_changed = display_lists(given_queries)
        else:
            given_queries, queries, queries_changed = given_keys, keys, False
        per_case: list[np.ndarray] = []
        for c in range(cases):
            nq, nk = len(queries[c]), len(keys[c])
            if nk == 0 or nq == 0:
                raise ValueError(f"tokens: case {c} has no tokens; expected a non-empty sequence")
            if nk > k or nq > q:
                raise ValueError(
                    f"tokens: case {c} has {nq} x {nk} tokens (query x key) but the "
                    f"attention matrices are {q} x {k}: more tokens than positions"
                )
            rows = slice(q - nq, q) if padding_side == "left" else slice(0, nq)
            cols = slice(k - nk, k) if padding_side == "left" else slice(0, nk)
            if nk < k:
                check_padding(cube, c, rows, nk, padding_side)
            per_case.append(stored_values(cube[:, c, :, rows, cols], dtype, c))
        self.values: list[np.ndarray] = per_case
        self.tokens: list[list[str]] = keys
        self.query_tokens: list[list[str]] = queries
        self.is_cross: bool = cross
        # The display tokens replace what no font or encoder takes (token_text);
        # the tokens as given are kept when the caller gave no raw tokens.
        self.raw_tokens = raw_tokens if raw_tokens is not None or not keys_changed else given_keys
        self.meta: dict[str, Any] = _meta(meta)
        if queries_changed and "raw_query_tokens" not in self.meta:
            self.meta["raw_query_tokens"] = given_queries
        self.n_layers, self.n_heads = layers, heads

    holds_weights = True
    # Images or audio under the attention (attn_widget.media.Media), None for text.
    media: Any = None

    @classmethod
    def from_cases(
        cls,
        cases: Sequence[Any],
        tokens: Sequence[Sequence[str]],
        *,
        target_tokens: Sequence[Sequence[str]] | None = None,
        dtype: Any = np.float32,
        raw_tokens: Any = None,
        meta: Mapping[str, Any] | None = None,
    ) -> AttentionData:
        """Build from one ``(layers, heads, q_c, k_c)`` array per case (lengths may differ)."""
        if len(cases) == 0:
            raise ValueError("cases: expected at least one case, got none")
        arrays = [as_numpy(a, f"cases[{i}]") for i, a in enumerate(cases)]
        for i, a in enumerate(arrays):
            if a.ndim != 4:
                raise ValueError(
                    f"cases[{i}]: expected (layers, heads, q, k), got shape {tuple(a.shape)}"
                )
        if len({a.shape[:2] for a in arrays}) != 1:
            raise ValueError(
                "cases: every case must have the same layers and heads; got "
                + ", ".join(str(tuple(a.shape[:2])) for a in arrays)
            )
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise ValueError(
                f"tokens: expected one token list per case, got {type(tokens).__name__}"
            )
        if len(tokens) != len(arrays):
            raise ValueError(f"tokens: got {len(tokens)} token lists for {len(arrays)} cases")
        if target_tokens is not None and len(target_tokens) != len(arrays):
            raise ValueError(
                f"target_tokens: got {len(target_tokens)} token lists for {len(arrays)} cases"
            )
        parts = [
            cls(
                a,
                [tokens[i]],
                target_tokens=[target_tokens[i]] if target_tokens is not None else None,
                dtype=dtype,
            )
            for i, a in enumerate(arrays)
        ]
        first = parts[0]
        for other in parts[1:]:
            first.values.append(other.values[0])
            first.tokens.append(other.tokens[0])
            # Self-attention shares one list for both axes: append to it once.
            if first.query_tokens is not first.tokens:
                first.query_tokens.append(other.query_tokens[0])
        first.is_cross = first.is_cross or target_tokens is not None
        if raw_tokens is None and any(p.raw_tokens is not None for p in parts):
            # Some token needed a visible stand-in: keep every case's tokens as given.
            raw_tokens = [p.raw_tokens[0] if p.raw_tokens else p.tokens[0] for p in parts]
        first.raw_tokens = raw_tokens
        first.meta = _meta(meta)
        raw_queries = [p.meta.get("raw_query_tokens") for p in parts]
        if any(r is not None for r in raw_queries) and "raw_query_tokens" not in first.meta:
            first.meta["raw_query_tokens"] = [
                r[0] if r is not None else p.query_tokens[0]
                for r, p in zip(raw_queries, parts, strict=True)
            ]
        return first

    @property
    def n_cases(self) -> int:
        return len(self.values)

    def shape(self, case: int = 0) -> tuple[int, int]:
        """``(q, k)`` of one case."""
        self.check_index(case=case)
        return self.values[case].shape[2], self.values[case].shape[3]

    def check_index(
        self, layer: int | None = None, head: int | None = None, case: int | None = None
    ) -> None:
        """Raise a ValueError naming the allowed range for any index out of range."""
        check_indices(self, layer=layer, head=head, case=case)

    def matrix(self, layer: int, head: int | None, case: int = 0) -> np.ndarray:
        """The ``(q, k)`` float32 matrix of one layer and head; ``head=None`` is the head mean."""
        self.check_index(layer=layer, case=case)
        block = self.values[case][layer]
        if head is None:
            return block.mean(axis=0, dtype=np.float32)
        self.check_index(head=head)
        return block[head].astype(np.float32, copy=False)

    def rows(self, layer: int, head: int | None, case: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of one matrix as float32 (``head=None``: head mean).

        Tiles, pooled overviews and top links are computed from row blocks, so
        a source that computes attention on demand only implements this.
        """
        self.check_index(layer=layer, case=case)
        block = self.values[case][layer]
        if head is None:
            return block[:, start:stop].mean(axis=0, dtype=np.float32)
        self.check_index(head=head)
        return block[head, start:stop].astype(np.float32, copy=False)

    def pooled_rows(
        self,
        layer: int,
        head: int | None,
        case: int,
        start: int,
        stop: int,
        window: tuple[int, int],
        factors: tuple[int, int],
    ) -> np.ndarray:
        """Rows ``start:stop``, columns ``window``, max-pooled by ``factors`` (fq, fk)."""
        k0, k1 = window
        return max_pool(self.rows(layer, head, case, start, stop)[:, k0:k1], *factors)

    def case_values(self, case: int) -> np.ndarray:
        """Every weight of one case: ``(layers, heads, q, k)`` in the storage dtype."""
        self.check_index(case=case)
        return self.values[case]

    def is_causal(self, case: int = 0) -> bool:
        """True when every layer and head of the case has nothing above the diagonal."""
        q, k = self.shape(case)
        if q != k or self.is_cross:
            return False
        upper = np.triu(np.ones((q, k), dtype=bool), 1)
        return not bool(np.any(self.values[case][..., upper]))

    def __repr__(self) -> str:
        lengths = sorted({v.shape[2:] for v in self.values})
        return (
            f"AttentionData(layers={self.n_layers}, heads={self.n_heads}, "
            f"cases={self.n_cases}, q x k={lengths}{', cross' if self.is_cross else ''})"
        )
