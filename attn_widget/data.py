"""AttentionData: one validated, normalised attention cube.

Every input layout that users have at hand (``outputs.attentions`` from
transformers, stacked arrays, a single matrix; numpy or torch) is turned into
one shape: for each case (batch item) an array ``(layers, heads, q, k)`` cropped
to that case's own tokens. Nothing here knows about widgets or models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["AttentionData", "as_numpy", "check_indices"]

_FLOAT_DTYPES = (np.float16, np.float32)


def as_numpy(values: Any, what: str = "attention") -> np.ndarray:
    """Return ``values`` as a float numpy array on the CPU.

    Accepts numpy arrays and torch tensors of any float dtype (bfloat16
    included), on any device, with or without grad, without importing torch.
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        tensor = values.detach().cpu()
        if not tensor.is_floating_point():
            raise ValueError(f"{what}: expected a float tensor, got dtype {tensor.dtype}")
        # numpy has no bfloat16: widen before converting.
        return tensor.float().numpy()
    array = np.asarray(values)
    if array.dtype == object:
        raise ValueError(f"{what}: expected a numeric array, got ragged or mixed values")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what}: expected float values, got dtype {array.dtype}")
    return array


def check_indices(source: Any, **indices: int | None) -> None:
    """Check ``layer``, ``head`` and ``case`` indices against ``source.n_layers`` etc.

    Raises a ValueError that names the allowed range; ``None`` is not checked.
    """
    for name, value in indices.items():
        if value is None:
            continue
        count = getattr(source, f"n_{name}s")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
        if not 0 <= value < count:
            raise ValueError(f"{name}: expected 0..{count - 1}, got {value}")


def _is_array_like(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) or (hasattr(obj, "detach") and hasattr(obj, "shape"))


def _to_cube(attentions: Any) -> np.ndarray:
    """Bring every accepted layout to one array ``(layers, cases, heads, q, k)``."""
    if _is_array_like(attentions):
        array = as_numpy(attentions)
        if array.ndim == 5:
            return array
        if array.ndim == 4:
            return array[:, None]
        if array.ndim == 2:
            return array[None, None, None]
        hint = (
            " A (heads, q, k) array is one layer: pass it in a list, [array]."
            if array.ndim == 3
            else ""
        )
        raise ValueError(
            "attentions: expected an array of shape (layers, cases, heads, q, k), "
            "(layers, heads, q, k) or (q, k), or a sequence of per-layer arrays; "
            f"got an array of shape {tuple(array.shape)}.{hint}"
        )
    if isinstance(attentions, Sequence) and not isinstance(attentions, (str, bytes)):
        if len(attentions) == 0:
            raise ValueError(
                "attentions: expected at least one layer, got an empty sequence "
                "(transformers returns () when the sdpa attention cannot give weights: "
                "use attn_widget.from_model, or load the model with attn_implementation='eager')"
            )
        layers = [as_numpy(a, f"attentions[{i}]") for i, a in enumerate(attentions)]
        ranks = {a.ndim for a in layers}
        shapes = {a.shape for a in layers}
        if len(shapes) != 1:
            raise ValueError(
                "attentions: every layer must have the same shape; got "
                + ", ".join(str(tuple(a.shape)) for a in layers)
            )
        (rank,) = ranks
        if rank == 4:
            return np.stack(layers)
        if rank == 3:
            return np.stack(layers)[:, None]
        raise ValueError(
            "attentions: expected per-layer arrays of shape (cases, heads, q, k) or "
            f"(heads, q, k); got per-layer arrays of shape {tuple(layers[0].shape)}"
        )
    raise ValueError(
        "attentions: expected a numpy array, a torch tensor or a sequence of them; "
        f"got {type(attentions).__name__}"
    )


# Float dtype -> (unsigned integer of its size, bit pattern of +inf).
_INF_BITS = {
    np.dtype(np.float16): (np.uint16, 0x7C00),
    np.dtype(np.float32): (np.uint32, 0x7F800000),
    np.dtype(np.float64): (np.uint64, 0x7FF0000000000000),
}


def _finite_and_non_negative(cube: np.ndarray) -> bool:
    """True when every value is finite and >= 0 (-0.0 answers False; the caller rechecks).

    A float with its sign bit clear, read as an unsigned integer, is below the
    bits of +inf exactly when it is finite; a set sign bit reads above. An
    integer max is fast for every float width (numpy's float16 min/max is not).
    """
    entry = _INF_BITS.get(cube.dtype)
    if entry is not None:
        unsigned, inf = entry
        return bool(cube.view(unsigned).max() < inf)
    low, high = cube.min(), cube.max()
    return bool(np.isfinite(low) and np.isfinite(high) and low >= 0)


def _check_values(cube: np.ndarray) -> None:
    layers, cases, heads, q, k = cube.shape
    if min(layers, cases, heads) == 0:
        raise ValueError(
            "attentions: expected at least one layer, case and head; got "
            f"layers={layers}, cases={cases}, heads={heads}"
        )
    if q == 0 or k == 0:
        raise ValueError(f"attentions: expected a non-empty sequence; got q={q}, k={k}")
    # Fast path: one reduction, no temporary array, so valid gigabyte cubes are
    # checked in one pass; only a bad cube goes on to locate its first bad value.
    if _finite_and_non_negative(cube):
        return
    finite = np.isfinite(cube)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"attentions: expected finite values; got {len(bad)} NaN or infinite "
            f"value(s), the first at (layer, case, head, q, k) = {first}"
        )
    negative = cube < 0
    if negative.any():
        bad = np.argwhere(negative)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"attentions: expected non-negative weights; got {len(bad)} negative "
            f"value(s), the first {float(cube[first]):.3g} at (layer, case, head, q, k) = {first}"
        )


def _token_lists(tokens: Any, cases: int, side: int, what: str) -> list[list[str]]:
    """Per-case token lists; a flat list is shared by all cases."""
    if tokens is None:
        return [[str(i) for i in range(side)] for _ in range(cases)]
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise ValueError(
            f"{what}: expected a list of strings or a list of lists (one per case); "
            f"got {type(tokens).__name__}"
        )
    if len(tokens) > 0 and all(isinstance(t, Sequence) and not isinstance(t, str) for t in tokens):
        if len(tokens) != cases:
            raise ValueError(
                f"{what}: got {len(tokens)} token lists but the attention has {cases} case(s)"
            )
        return [[str(t) for t in case] for case in tokens]
    if not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{what}: expected strings; got {[type(t).__name__ for t in tokens][:5]}")
    shared = list(tokens)
    if len(shared) != side:
        raise ValueError(
            f"{what}: got {len(shared)} tokens but the attention matrices have {side} "
            "positions on that axis"
        )
    return [list(shared) for _ in range(cases)]


class AttentionData:
    """Attention weights of one component (e.g. encoder self-attention).

    ``values[c]`` is an array ``(layers, heads, q_c, k_c)`` for case ``c``,
    cropped to that case's tokens. ``tokens[c]`` label the key (attended)
    axis and ``query_tokens[c]`` the query (attending) axis; they are the same
    lists for self-attention.

    Parameters
    ----------
    attentions:
        Any layout of DESIGN.md: per-layer ``(cases, heads, q, k)`` or
        ``(heads, q, k)`` arrays, a stacked ``(layers, cases, heads, q, k)`` or
        ``(layers, heads, q, k)`` array, or one ``(q, k)`` matrix.
    tokens:
        Key-axis tokens: one list shared by every case, or one list per case.
        A case whose list is shorter than the padded matrix side is cropped to
        it (``padding_side`` says where the padding is). ``None`` numbers the
        positions.
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
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise ValueError(f"dtype: expected float32 or float16; got {dtype}")
        cube = _to_cube(attentions)
        _check_values(cube)
        layers, cases, heads, q, k = cube.shape
        cross = target_tokens is not None or q != k
        if q != k and target_tokens is None and tokens is not None:
            raise ValueError(
                f"target_tokens: the matrices are {q} x {k} (cross-attention) so the "
                f"{q} query-side tokens must be given as target_tokens="
            )
        keys = _token_lists(tokens, cases, k, "tokens")
        queries = _token_lists(target_tokens, cases, q, "target_tokens") if cross else keys
        per_case: list[np.ndarray] = []
        for c in range(cases):
            nq, nk = len(queries[c]), len(keys[c])
            if nk == 0 or nq == 0:
                raise ValueError(f"tokens: case {c} has no tokens; expected a non-empty sequence")
            if nk > k or nq > q:
                raise ValueError(
                    f"tokens: case {c} has {nq} x {nk} tokens (query x key) but the "
                    f"attention matrices are {q} x {k}"
                )
            rows = slice(q - nq, q) if padding_side == "left" else slice(0, nq)
            cols = slice(k - nk, k) if padding_side == "left" else slice(0, nk)
            per_case.append(np.ascontiguousarray(cube[:, c, :, rows, cols], dtype=dtype))
        self.values: list[np.ndarray] = per_case
        self.tokens: list[list[str]] = keys
        self.query_tokens: list[list[str]] = queries
        self.is_cross: bool = cross
        self.raw_tokens = raw_tokens
        self.meta: dict[str, Any] = dict(meta or {})
        self.n_layers, self.n_heads = layers, heads

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
        if len(tokens) != len(arrays):
            raise ValueError(f"tokens: got {len(tokens)} token lists for {len(arrays)} cases")
        queries = target_tokens if target_tokens is not None else tokens
        first = cls(
            arrays[0],
            list(tokens[0]),
            target_tokens=list(queries[0]) if target_tokens is not None else None,
            dtype=dtype,
        )
        for i, a in enumerate(arrays[1:], start=1):
            other = cls(
                a,
                list(tokens[i]),
                target_tokens=list(queries[i]) if target_tokens is not None else None,
                dtype=dtype,
            )
            first.values.append(other.values[0])
            first.tokens.append(other.tokens[0])
            # Self-attention shares one list for both axes: append to it once.
            if first.query_tokens is not first.tokens:
                first.query_tokens.append(other.query_tokens[0])
        first.is_cross = first.is_cross or target_tokens is not None
        first.raw_tokens = raw_tokens
        first.meta = dict(meta or {})
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
