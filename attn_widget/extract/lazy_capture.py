"""What ``lazy=True`` keeps of a layer: cropped queries and keys, and the layer's score modifier.

The modifier (:class:`~attn_widget.lazy_scores.ScoreModifier`) is read from
what the layer was given: its mask becomes a band around the diagonal
(causal, sliding window, local attention; anything else is refused), a
position bias that depends on ``j - i`` only becomes an offset table (N
values per head; any other bias is kept whole), and soft-capping and sinks
come from the attention function's arguments. Then a few rows of the layer
are computed both ways, from the kept queries and keys and from the layer's
own inputs, and must agree: a modifier read wrongly is an error, not a picture.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

from ..lazy import LazyAttention
from ..lazy_scores import ScoreModifier, toeplitz_table
from .checks import Expected, check_weights

__all__ = ["LazyLayer", "band_of", "modifier_of", "verify_rows"]

# Rows checked per layer and case: the first block and the last rows (the
# causal edge and a sliding window's far end both show there).
_FIRST_ROWS, _LAST_ROWS = 12, 6
_AGREEMENT = 1e-4


class LazyRefusal(ValueError):
    """A layer that queries and keys alone cannot reproduce (the message says why)."""


@dataclass
class LazyLayer:
    """One case's kept tensors of one layer."""

    query: torch.Tensor  # (heads, q_c, d)
    key: torch.Tensor  # (kv_heads, k_c, d)
    modifier: ScoreModifier


def band_of(allowed: torch.Tensor) -> tuple[int | None, int | None] | None:
    """``(left, right)`` of a boolean ``(q, k)`` mask (True = attend), or None if it is no band.

    Offsets are ``j - i - (k - q)``; a side that reaches the matrix's edge
    for every row is unbounded (``None``).
    """
    q, k = allowed.shape
    if bool(allowed.all()):
        return (None, None)
    counts = allowed.sum(-1)
    if not bool((counts > 0).all()):
        return None  # a query that sees nothing: not a band
    # Each row must be one run of keys [first, last]; then the run's ends must follow a band.
    first = allowed.to(torch.uint8).argmax(-1)
    last = (k - 1) - allowed.flip(-1).to(torch.uint8).argmax(-1)
    if not bool(torch.equal(last - first + 1, counts)):
        return None
    diagonal = torch.arange(q, device=allowed.device) + (k - q)
    left = int((diagonal - first).amax())
    right = int((last - diagonal).amax())
    if not (
        bool(torch.equal(first, (diagonal - left).clamp(min=0)))
        and bool(torch.equal(last, (diagonal + right).clamp(max=k - 1)))
    ):
        return None
    return (
        None if left >= (q - 1) + (k - q) else left,
        None if right >= k - 1 - (k - q) else right,
    )


def _allowed(mask: torch.Tensor) -> torch.Tensor:
    """A bool (True = attend) or additive float mask as booleans."""
    if mask.dtype == torch.bool:
        return mask
    return mask > torch.finfo(mask.dtype).min / 2


def modifier_of(
    *,
    owner: str,
    layer: int,
    mask: torch.Tensor | None,
    causal: bool,
    scaling: float,
    bias: torch.Tensor | None,
    softcap: float | None,
    sinks: torch.Tensor | None,
    bias_tables: dict[str, list[Any]],
    source: torch.Tensor | None = None,
    relative: Any = None,
) -> ScoreModifier:
    """The modifier of one case's layer from its cropped ``(q, k)`` mask and ``(h|1, q, k)`` bias.

    ``bias_tables`` (one per case) shares one offset table among layers
    given the same bias (T5 computes its bias once and hands it to every
    layer; UMT5 has one per layer). ``source``, the uncropped bias the layer
    was given, lets a later layer given the very same tensor skip the reading.
    """
    band: tuple[int | None, int | None] = (None, 0) if causal else (None, None)
    if mask is not None:
        found = band_of(_allowed(mask))
        if found is None:
            raise LazyRefusal(
                f"lazy=True: {owner} layer {layer} has an attention mask that is not a band "
                "around the diagonal (causal, a sliding window or local attention), which "
                "queries and keys alone cannot reproduce; use lazy=False"
            )
        band = found
    offset_bias = full_bias = None
    if bias is not None:
        memo = bias_tables.setdefault("memo", [])
        known = [
            (kind, kept)
            for ref, version, kind, kept in memo
            if source is not None and ref() is source and source._version == version
        ]
        if known:
            kind, kept = known[0]
        else:
            kind, kept = _read_bias(bias, bias_tables)
            if source is not None:
                memo.append((weakref.ref(source), source._version, kind, kept))
        if kind == "table":
            offset_bias = kept
        elif kind == "full":
            full_bias = kept
    return ScoreModifier(
        scaling=float(scaling),
        band=band,
        softcap=None if softcap is None else float(softcap),
        offset_bias=offset_bias,
        full_bias=full_bias,
        sinks=None if sinks is None else sinks.detach().float().clone(),
        relative=relative,
    )


def _read_bias(bias: torch.Tensor, bias_tables: dict[str, list[Any]]) -> tuple[str, Any]:
    """``("table", offsets)``, ``("full", bias)`` or ``("none", None)`` for an all-zero bias."""
    if not bool(torch.any(bias != 0)):
        return "none", None
    if bias.shape[-2] == 1:
        # One row for every query (ALiBi as BLOOM and Falcon add it): N values already.
        return "full", _shared(bias.detach().float(), bias_tables.setdefault("rows", []))
    table = toeplitz_table(bias.float())
    if table is not None:
        return "table", _shared(table, bias_tables.setdefault("table", []))
    return "full", _shared(bias.detach().float(), bias_tables.setdefault("full", []))


def _shared(value: torch.Tensor, seen: list[torch.Tensor]) -> torch.Tensor:
    """``value``, or an equal tensor kept for an earlier layer (compared by content)."""
    for earlier in seen:
        if earlier.shape == value.shape and bool(torch.equal(earlier, value)):
            return earlier
    kept = value.clone()
    seen.append(kept)
    return kept


def sample_rows(q: int) -> list[tuple[int, int]]:
    """Row ranges checked per layer: the first block and the last rows."""
    first = (0, min(q, _FIRST_ROWS))
    last = (max(first[1], q - _LAST_ROWS), q)
    return [first] if last[0] >= last[1] else [first, last]


def verify_rows(
    kept: LazyLayer,
    reference: Any,
    *,
    owner: str,
    layer: int,
    case: int,
    expected: Expected,
) -> None:
    """Rows computed from ``kept`` equal ``reference(r0, r1)`` (the layer's own ``(heads, r, k)``).

    Both are checked by :func:`~attn_widget.extract.checks.check_weights` too.
    """
    heads, q, _ = kept.query.shape
    k = kept.key.shape[1]
    one = LazyAttention(
        [[kept.query]],
        [[kept.key]],
        [[""] * k],
        target_tokens=[[""] * q],
        modifiers=[[kept.modifier]],
    )
    for r0, r1 in sample_rows(q):
        want = reference(r0, r1).float()
        got = torch.stack([torch.from_numpy(one.rows(0, h, 0, r0, r1)) for h in range(heads)])
        check_weights(want, expected, layer=layer, case=case, q=q, rows=(r0, r1))
        gap = (got - want.cpu()).abs()
        worst = float(gap.max())
        if worst > _AGREEMENT:
            h, r, j = (int(i) for i in torch.unravel_index(torch.argmax(gap), gap.shape))
            raise ValueError(
                f"lazy=True: {owner} {expected.component} layer {layer}, case {case}: weights "
                f"computed from the kept queries and keys ({kept.modifier.describe()}) differ "
                f"from the layer's own by {worst:.3g} at head {h}, query {r0 + r}, key {j}, "
                "so attn_widget cannot vouch for them; use lazy=False"
            )


def _rows_of(tensor: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    if tensor is None or tensor.shape[-2] == 1:
        return tensor
    return tensor.index_select(-2, rows.to(tensor.device))


def _case_relative(terms: Any, rows: torch.Tensor | None, n: int, length: int) -> Any:
    """A case's own offsets of relative terms made for the padded length (a prefix of it)."""
    if terms is None or n == length:
        return terms
    if rows is not None and not bool(torch.equal(rows.cpu(), torch.arange(n))):
        raise LazyRefusal(
            "lazy=True: relative position terms need each case's tokens first in the batch"
        )
    from ..lazy_scores import RelativeTerms

    def crop(vector: Any) -> Any:
        return None if vector is None else vector[length - n : length + n - 1]

    return RelativeTerms(
        terms.position_keys, crop(terms.c2p_index), terms.position_queries, crop(terms.p2c_index)
    )


def keep_layer(
    *,
    owner: str,
    expected: Expected,
    layer: int,
    query: torch.Tensor,
    key: torch.Tensor,
    mask: torch.Tensor | None,
    causal: bool,
    scaling: float,
    kwargs: dict[str, Any],
    keep_rows: list[torch.Tensor | None],
    keep_cols: list[torch.Tensor | None],
    bias_tables: list[dict[str, list[Any]]],
    to_cpu: bool,
    own_weights: torch.Tensor | None = None,
) -> list[LazyLayer]:
    """Every case's :class:`LazyLayer` of one layer, each checked on sampled rows.

    ``query`` ``(cases, heads, q, d)``, ``key`` ``(cases, kv_heads, k, d)``,
    ``mask`` and ``kwargs["position_bias"]`` as the attention function got
    them; ``keep_rows``/``keep_cols`` the case's own positions (None: all).
    ``own_weights`` ``(cases, heads, q, k)``, where the layer computed its
    weights itself, are what the sampled rows are compared with; otherwise
    they are recomputed from the same inputs as eager attention would.
    """
    from .weights import attention_weights, blocked_of, slice_heads

    cases, heads = query.shape[:2]
    group = heads // key.shape[1]
    bias = kwargs.get("position_bias")
    softcap, sinks = kwargs.get("softcap"), kwargs.get("s_aux")
    out: list[LazyLayer] = []
    for c in range(cases):
        rows, cols = keep_rows[c], keep_cols[c]
        q_c = query[c] if rows is None else query[c].index_select(1, rows.to(query.device))
        k_c = key[c] if cols is None else key[c].index_select(1, cols.to(key.device))
        case_mask = slice_heads(mask, c, 0, 1)
        if case_mask is not None and mask is not None and mask.ndim == 4 and mask.shape[1] > 1:
            per_head = mask[c : c + 1] if mask.shape[0] > 1 else mask
            if not bool(torch.equal(per_head, per_head[:, :1].expand_as(per_head))):
                raise LazyRefusal(
                    f"lazy=True: {owner} layer {layer} has a different mask for each head, "
                    "which one band per layer cannot describe; use lazy=False"
                )
        cropped_mask = None
        if case_mask is not None:
            cropped_mask = case_mask[0, 0]
            if rows is not None and cropped_mask.shape[0] > 1:
                cropped_mask = cropped_mask.index_select(0, rows.to(cropped_mask.device))
            if cols is not None:
                cropped_mask = cropped_mask.index_select(1, cols.to(cropped_mask.device))
            if cropped_mask.shape[0] == 1 and q_c.shape[1] > 1:
                cropped_mask = cropped_mask.expand(q_c.shape[1], -1)
        case_bias = slice_heads(bias, c, 0, heads)
        cropped_bias = None
        if case_bias is not None:
            cropped_bias = case_bias[0]
            if rows is not None and cropped_bias.shape[-2] > 1:
                cropped_bias = cropped_bias.index_select(-2, rows.to(cropped_bias.device))
            if cols is not None:
                cropped_bias = cropped_bias.index_select(-1, cols.to(cropped_bias.device))
        modifier = modifier_of(
            owner=owner,
            layer=layer,
            mask=cropped_mask,
            causal=causal and q_c.shape[1] > 1,
            scaling=scaling,
            bias=cropped_bias,
            softcap=softcap,
            sinks=sinks,
            bias_tables=bias_tables[c],
            source=bias,
            relative=_case_relative(kwargs.get("relative"), rows, q_c.shape[1], query.shape[2]),
        )
        # Contiguous copies: the capture's views are strided, and every later tile reads them.
        kept = LazyLayer(
            q_c.detach().clone(memory_format=torch.contiguous_format),
            k_c.detach().clone(memory_format=torch.contiguous_format),
            modifier,
        )
        keys_all = key[c : c + 1].repeat_interleave(group, dim=1) if group > 1 else key[c : c + 1]

        def reference(
            r0: int,
            r1: int,
            c: int = c,
            rows: Any = rows,
            cols: Any = cols,
            keys_all: Any = keys_all,
        ) -> torch.Tensor:
            index = torch.arange(r0, r1) if rows is None else rows[r0:r1]
            index = index.to(query.device)
            head_mask = slice_heads(mask, c, 0, heads)
            blocked, additive = blocked_of(_rows_of(head_mask, index))
            if blocked is None and causal and mask is None and query.shape[2] > 1:
                k_all = key.shape[2]
                blocked = torch.ones(
                    query.shape[2], k_all, dtype=torch.bool, device=query.device
                ).triu_(1 + k_all - query.shape[2])
                blocked = blocked.index_select(0, index)
            if own_weights is not None:
                weights = own_weights[c].index_select(1, index.to(own_weights.device))
                return (
                    weights if cols is None else weights.index_select(-1, cols.to(weights.device))
                )
            weights = attention_weights(
                query[c : c + 1].index_select(2, index),
                keys_all,
                scaling=scaling,
                blocked=blocked,
                additive=additive,
                position_bias=_rows_of(slice_heads(bias, c, 0, heads), index),
                softcap=softcap,
                sinks=sinks,
            )[0]
            return weights if cols is None else weights.index_select(-1, cols.to(weights.device))

        verify_rows(kept, reference, owner=owner, layer=layer, case=c, expected=expected)
        if to_cpu:
            kept = LazyLayer(kept.query.cpu(), kept.key.cpu(), modifier.to("cpu"))
        out.append(kept)
    return out
