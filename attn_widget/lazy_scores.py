"""Score modifiers: what a layer does to ``Q Kᵀ`` beyond scaling, described once per layer.

:class:`~attn_widget.lazy.LazyAttention` computes weights from kept queries and
keys; models differ in what happens between the product and the softmax. A
:class:`ScoreModifier` describes it for one layer of one case, in the order
eager attention applies it::

    scores = Q Kᵀ · scaling
    scores = tanh(scores / softcap) · softcap          (Gemma 2 soft-capping)
    scores += bias                                     (ALiBi, T5/MPNet relative position bias)
    scores[key outside the band] = -inf                (causal, sliding window, local attention)
    softmax over keys, with one extra logit per head   (GPT-OSS attention sinks)

The kernels in ``lazy.py`` read a modifier through the functions here
(:func:`apply_to_block`, :func:`visible_keys`, :func:`sink_logit`); nothing
model-specific lives in the kernels. Blocks are key-major: ``scores[j, r]``
is key ``j`` against query ``start + r``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "RelativeTerms",
    "ScoreModifier",
    "apply_to_block",
    "expand_table",
    "offset_table",
    "toeplitz_table",
]


def _torch() -> Any:
    import torch

    return torch


@dataclass(frozen=True)
class RelativeTerms:
    """DeBERTa's content-to-position and position-to-content scores, by offset ``j - i``.

    ``c2p[i, j] = q_i · position_keys[c2p_index[(j - i) + (q - 1)]]`` and
    ``p2c[i, j] = k_j · position_queries[p2c_index[(j - i) + (q - 1)]]``:
    ``(heads, R, d)`` projections of the R relative-position embeddings, and
    ``(q + k - 1,)`` bucket indices. Either part may be None.
    """

    position_keys: Any = None
    c2p_index: Any = None
    position_queries: Any = None
    p2c_index: Any = None

    def to(self, device: Any) -> RelativeTerms:
        return RelativeTerms(
            *(
                None if t is None else t.to(device)
                for t in (self.position_keys, self.c2p_index, self.position_queries, self.p2c_index)
            )
        )


@dataclass(frozen=True)
class ScoreModifier:
    """One layer's scores, beyond ``Q Kᵀ``: see the module docstring.

    Parameters
    ----------
    scaling:
        The factor on ``Q Kᵀ`` (``1/sqrt(d)`` for most models; per layer for
        GPT-2's ``scale_attn_by_inverse_layer_idx``; 1 for T5 and GPT-Neo).
    band:
        ``(left, right)``: query ``i`` sees key ``j`` when
        ``-left <= j - i - (k - q) <= right``; ``None`` is unbounded on that
        side. ``(None, None)`` is full attention, ``(None, 0)`` causal,
        ``(w - 1, 0)`` a causal sliding window of ``w`` keys, ``(w, w)``
        bidirectional local attention.
    softcap:
        Gemma 2's logit soft-capping (``None``: none).
    offset_bias:
        ``(heads|1, q + k - 1)``: an additive bias that depends on ``j - i``
        only (ALiBi, T5 and MPNet relative position buckets), entry
        ``(j - i) + (q - 1)``. N values per head instead of N².
    full_bias:
        ``(heads|1, q|1, k)``: any other additive bias, kept as it is (one
        row: the same bias per key for every query, as BLOOM adds ALiBi).
    sinks:
        ``(heads,)``: GPT-OSS's per-head sink logit, which takes weight in the
        softmax but has no key.
    relative:
        DeBERTa's disentangled terms, added before scaling: a
        :class:`RelativeTerms` (queries against relative-position keys,
        keys against relative-position queries).
    """

    scaling: float
    band: tuple[int | None, int | None] = (None, None)
    softcap: float | None = None
    offset_bias: Any = None
    full_bias: Any = None
    sinks: Any = None
    relative: RelativeTerms | None = None

    @property
    def causal(self) -> bool:
        """No key after the query's own position (the band ends at the diagonal or before)."""
        return self.band[1] is not None and self.band[1] <= 0

    def describe(self) -> str:
        """The variant in a few words (for reprs and error messages)."""
        parts = []
        left, right = self.band
        if left is not None or right is not None:
            lo = "-∞" if left is None else f"-{left}"
            hi = "∞" if right is None else str(right)
            parts.append(f"band {lo}..{hi}")
        if self.softcap is not None:
            parts.append(f"softcap {self.softcap:g}")
        if self.offset_bias is not None:
            parts.append("relative bias")
        if self.full_bias is not None:
            parts.append("bias")
        if self.sinks is not None:
            parts.append("sinks")
        if self.relative is not None:
            parts.append("disentangled relative terms")
        return ", ".join(parts) or "plain"

    def to(self, device: Any) -> ScoreModifier:
        """The same modifier with its tensors on ``device``."""
        moved = {
            name: getattr(self, name).to(device)
            for name in ("offset_bias", "full_bias", "sinks")
            if getattr(self, name) is not None
        }
        if self.relative is not None:
            moved["relative"] = self.relative.to(device)
        if not moved:
            return self
        return ScoreModifier(**{**self.__dict__, **moved})


def visible_keys(modifier: ScoreModifier, q: int, k: int, stop: int) -> int:
    """How many leading keys rows ``< stop`` can see: the band's right edge bounds them."""
    right = modifier.band[1]
    if right is None:
        return k
    return max(0, min(k, stop + (k - q) + right))


def _head_rows(table: Any, head: int) -> Any:
    return table[head] if table.shape[0] > 1 else table[0]


def _offset_rows(
    vector: Any, q: int, start: int, stop: int, cols: int, positions: Any = None
) -> Any:
    """``vector[(j - i) + (q - 1)]`` for queries ``start:stop`` (or ``positions``), keys ``0:cols``.

    (rows, cols).
    """
    torch = _torch()
    windows = vector.unfold(-1, cols, 1)  # row i is vector[(q-1) - i : (q-1) - i + cols]
    if positions is not None:
        return windows.index_select(-2, (q - 1) - positions.to(vector.device))
    first = (q - 1) - start
    index = torch.arange(first, first - (stop - start), -1, device=vector.device)
    return windows.index_select(-2, index)


def _add_relative(
    terms: RelativeTerms,
    scores: Any,
    head: int,
    q: int,
    start: int,
    stop: int,
    query: Any,
    key: Any,
    positions: Any = None,
) -> None:
    """DeBERTa's c2p and p2c terms of a key-major block, gathered by offset."""
    cols = scores.shape[0]
    if terms.position_keys is not None:
        by_bucket = terms.position_keys[head].float() @ query.T  # (R, rows)
        index = _offset_rows(terms.c2p_index, q, start, stop, cols, positions).T  # (cols, rows)
        scores.add_(by_bucket.gather(0, index))
    if terms.position_queries is not None:
        by_bucket = key.float() @ terms.position_queries[head].float().T  # (cols, R)
        index = _offset_rows(terms.p2c_index, q, start, stop, cols, positions).T
        scores.add_(by_bucket.gather(1, index))


def apply_to_block(
    modifier: ScoreModifier,
    scores: Any,
    head: int,
    q: int,
    k: int,
    start: int,
    stop: int,
    query: Any = None,
    key: Any = None,
    positions: Any = None,
) -> Any:
    """Scale, cap, bias and mask a key-major block ``(cols, stop - start)`` in place.

    ``query`` (rows, d) and ``key`` (cols, d) are the block's own, for the
    terms that read them (DeBERTa's). ``positions`` (rows,): the block's
    query rows when they are not ``start:stop`` (an estimate reads a few rows
    of each pooled row).
    """
    cols = scores.shape[0]
    if modifier.relative is not None:
        _add_relative(modifier.relative, scores, head, q, start, stop, query, key, positions)
    scores.mul_(modifier.scaling)
    if modifier.softcap is not None:
        scores.div_(modifier.softcap).tanh_().mul_(modifier.softcap)
    if modifier.offset_bias is not None:
        table = _head_rows(modifier.offset_bias, head).to(scores.dtype)
        scores.add_(_offset_rows(table, q, start, stop, cols, positions).T)
    if modifier.full_bias is not None:
        bias = _head_rows(modifier.full_bias, head)
        if bias.shape[0] == 1:  # one row: a bias per key, the same for every query
            rows = bias
        elif positions is not None:
            rows = bias.index_select(0, positions.to(bias.device))
        else:
            rows = bias[start:stop]
        scores.add_(rows[:, :cols].T.to(scores.dtype))
    if positions is not None:
        _mask_band_at(scores, modifier.band, positions, k - q)
    else:
        _mask_band(scores, modifier.band, start, stop, k - q)
    return scores


def _mask_band_at(
    scores: Any, band: tuple[int | None, int | None], positions: Any, offset: int
) -> None:
    """``-inf`` where key ``j`` is outside the band of query ``positions[r]`` (any rows)."""
    torch = _torch()
    left, right = band
    if left is None and right is None:
        return
    cols = scores.shape[0]
    rel = torch.arange(cols, device=scores.device)[:, None] - (
        positions.to(scores.device)[None, :] + offset
    )
    hidden = torch.zeros(rel.shape, dtype=torch.bool, device=scores.device)
    if right is not None:
        hidden |= rel > right
    if left is not None:
        hidden |= rel < -left
    scores.masked_fill_(hidden, float("-inf"))


def _mask_band(
    scores: Any, band: tuple[int | None, int | None], start: int, stop: int, offset: int
) -> None:
    """``-inf`` where key ``j`` is outside query ``i``'s band (``j - i - offset``)."""
    torch = _torch()
    cols, rows = scores.shape
    left, right = band
    if right is not None:
        # Keys past start + offset + right can be hidden: a lower triangle of the rest.
        edge = max(0, start + offset + right + 1)
        if edge < cols:
            shift = edge - (start + offset + right + 1)  # > 0 when the edge was clipped at 0
            hidden = torch.ones((cols - edge, rows), dtype=torch.bool, device=scores.device)
            scores[edge:].masked_fill_(hidden.tril_(shift), float("-inf"))
    if left is not None:
        # Keys before start + offset - left are hidden from every row; then an upper triangle.
        base = start + offset - left
        if base > 0:
            scores[: min(cols, base)].fill_(float("-inf"))
        lo, hi = max(0, base), min(cols, base + rows)
        if lo < hi:
            hidden = torch.ones((hi - lo, rows), dtype=torch.bool, device=scores.device)
            scores[lo:hi].masked_fill_(hidden.triu_(lo - base + 1), float("-inf"))


def sink_logit(modifier: ScoreModifier, head: int) -> float | None:
    """The head's sink logit, or None."""
    if modifier.sinks is None:
        return None
    return float(modifier.sinks[head])


def toeplitz_table(bias: Any, atol: float = 0.0) -> Any:
    """``(heads, q + k - 1)`` offset table of a ``(heads, q, k)`` bias, or None if it is not one.

    A bias depends on ``j - i`` only when every diagonal is constant (each
    entry equals the one up and to the left of it); the table is then read
    from the first column (reversed) and the first row.
    """
    torch = _torch()
    # Constant diagonals: every entry equals the one up and to the left of it.
    inner, shifted = bias[:, 1:, 1:], bias[:, :-1, :-1]
    if atol == 0.0:
        same = bool(torch.equal(inner, shifted))
    else:
        same = bool(torch.allclose(inner, shifted, atol=atol, rtol=0.0))
    if not same:
        return None
    return torch.cat([bias[:, :, 0].flip(-1), bias[:, 0, 1:]], dim=-1)


def expand_table(table: Any, q: int, k: int) -> Any:
    """The ``(heads, q, k)`` bias of an offset table (for checks and tests)."""
    torch = _torch()
    device = table.device
    index = torch.arange(k, device=device)[None, :] - torch.arange(q, device=device)[:, None]
    return table[:, index + (q - 1)]


def offset_table(slopes: Any, q: int, k: int) -> Any:
    """ALiBi: ``slope_h · (j - i)`` as an offset table ``(heads, q + k - 1)``.

    BLOOM and Falcon add ``slope · j``, MPT ``slope · (j - (k - 1))``: each
    differs from ``slope · (j - i)`` by a constant per row, which the softmax
    removes.
    """
    torch = _torch()
    offsets = torch.arange(-(q - 1), k, device=slopes.device, dtype=torch.float32)
    return slopes.float()[:, None] * offsets[None, :]
