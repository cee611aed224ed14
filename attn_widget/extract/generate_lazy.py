"""``aw.generate(..., lazy=True)``: each step's queries and keys, kept and checked by the model.

At every attention call of a generation the recorder hands over the
layer's queries and keys. Under ``lazy=True`` they are written into a
:class:`~attn_widget.growing_lazy.GrowingLazyAttention` instead of being
turned into weights (an 8,192-token prompt's weights would be 3 GB a
layer); the layer's modifier (scaling, causal band or sliding window,
soft-cap, sinks) is read from its first call.

Never silently wrong: at the prompt the first and last rows, and at the
steps sampled after it (see :data:`CHECK_EVERY`) and every layer's last
step the new row, are computed twice, from the kept queries and keys and
from what the model handed over (its own mask), and must agree within
1e-4; every call's rows pass the weight checks. A cache that drops keys
outside a sliding window shows its window here: the layer's band is then
narrowed to it, and checked again. Position biases (ALiBi, T5) are refused:
their tables grow with the sequence.
"""

from __future__ import annotations

from typing import Any

import torch

from ..growing_lazy import GrowingLazyAttention
from ..lazy_scores import ScoreModifier
from .checks import Expected, check_weights
from .lazy_capture import LazyRefusal, modifier_of, sample_rows
from .weights import attention_weights, blocked_of, scaling_of

__all__ = ["record_lazy_step"]

_AGREEMENT = 1e-4


def _first_modifier(
    owner: str, layer: int, mask: Any, kwargs: dict[str, Any], query: Any
) -> ScoreModifier:
    if kwargs.get("position_bias") is not None or (
        mask is not None and mask.dtype != torch.bool and _has_bias(mask)
    ):
        raise LazyRefusal(
            f"lazy=True: {owner} layer {layer} adds a position bias to its scores (ALiBi, "
            "relative buckets), whose tables grow with the sequence while it writes; use "
            "lazy=False"
        )
    return modifier_of(
        owner=owner,
        layer=layer,
        mask=None if mask is None else mask[0, 0],
        causal=True,
        scaling=scaling_of(query, kwargs),
        bias=None,
        softcap=kwargs.get("softcap"),
        sinks=kwargs.get("s_aux"),
        bias_tables={},
    )


def _has_bias(mask: Any) -> bool:
    """Whether a float mask holds values other than 0 and its dtype's lowest (a bias)."""
    lowest = torch.finfo(mask.dtype).min / 2
    finite = mask[mask > lowest]
    return bool(finite.numel()) and bool((finite != 0).any())


def _reference(
    query: Any, key: Any, mask: Any, kwargs: dict[str, Any], rows: tuple[int, int]
) -> Any:
    """The model's own weights of query rows ``rows`` of this call: ``(heads, r, k_len)``."""
    r0, r1 = rows
    q_len, k_len = query.shape[2], key.shape[2]
    group = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(group, dim=1) if group > 1 else key
    blocked, additive = blocked_of(None if mask is None else mask[:, :, r0:r1])
    if mask is None and q_len > 1:
        blocked = torch.ones(r1 - r0, k_len, dtype=torch.bool, device=query.device).triu_(
            1 + r0 + k_len - q_len
        )
    return attention_weights(
        query[:, :, r0:r1], keys, scaling=scaling_of(query, kwargs), blocked=blocked,
        additive=additive, softcap=kwargs.get("softcap"), sinks=kwargs.get("s_aux"),
    )[0]  # fmt: skip


def _disagreement(
    part: GrowingLazyAttention, layer: int, rows: tuple[int, int], start: int, key_start: int,
    want: Any,
) -> tuple[float, tuple[int, int, int]]:  # fmt: skip
    """Largest gap between kept and model rows (positions ``start + rows``), and where."""
    r0, r1 = rows
    view = part.view_until(start + r1, [layer])
    got = torch.stack(
        [
            torch.from_numpy(view.rows(0, h, 0, start + r0, start + r1))
            for h in range(part.n_heads)
        ]
    )
    # The view ends at the last row checked; the model's rows of a prompt call
    # span the call's every key, those past that row masked (they must be 0).
    visible = min(want.shape[-1], got.shape[-1] - key_start)
    want = want.cpu()
    gap = torch.zeros_like(got)
    gap[..., key_start : key_start + visible] = (
        got[..., key_start : key_start + visible] - want[..., :visible]
    ).abs()
    gap[..., :key_start] = got[..., :key_start].abs()  # keys the model no longer sees
    worst = float(gap.max())
    h, r, j = (int(i) for i in torch.unravel_index(torch.argmax(gap), gap.shape))
    if visible < want.shape[-1]:
        beyond = want[..., visible:].abs()
        if float(beyond.max()) > worst:
            worst = float(beyond.max())
            h, r, j = (int(i) for i in torch.unravel_index(torch.argmax(beyond), beyond.shape))
            j += key_start + visible
    return worst, (h, start + r0 + r, j)


def _first_key(mask: Any, row: int, key_start: int) -> int:
    """The position of the first key the model lets query row ``row`` of this call see."""
    if mask is None:
        return key_start
    allowed = mask[0, 0, row] if mask.dtype == torch.bool else mask[0, 0, row] > (
        torch.finfo(mask.dtype).min / 2
    )
    return key_start + int(allowed.to(torch.uint8).argmax())


# Of the one-row calls after the prompt, the first EVERY_STEP_UNTIL are
# compared with the model's own rows, then every CHECK_EVERY-th, and the last
# call of each layer when the generation ends (:func:`check_pending`): every
# row is computed by one function of the kept queries and keys and the
# layer's modifier, and what could differ between steps (a window starting
# to bind) shows at every later step too. Every call's own weights still pass
# the weight checks (row sums, masks).
EVERY_STEP_UNTIL = 8
CHECK_EVERY = 8


def record_lazy_step(
    part: GrowingLazyAttention,
    *,
    owner: str,
    name: str,
    layer: int,
    start: int,
    query: Any,
    key: Any,
    mask: Any,
    kwargs: dict[str, Any],
) -> None:
    """Keep one call's new query and key rows (positions ``start..``) and check them."""
    q_len, k_len = query.shape[2], key.shape[2]
    if part.modifiers[layer] is None:
        part.set_modifier(layer, _first_modifier(owner, layer, mask, kwargs, query))
    part.write(layer, start, query[0], key[0, :, k_len - q_len :])
    # The cache hands over its latest k_len keys: the last is this step's own position.
    key_start = start + q_len - k_len
    expected = Expected(
        name, causal=True, sinks=kwargs.get("s_aux") is not None, origin="the model's call"
    )
    if q_len > 1:
        part.prompt_rows = start + q_len
    for rows in sample_rows(q_len) if q_len > 1 else [(0, 1)]:
        want = _reference(query, key, mask, kwargs, rows)
        check_weights(want, expected, layer=layer, case=0, q=q_len, rows=rows)
        first = _first_key(mask, rows[0], key_start)
        call = (owner, name, layer, rows, start, key_start, want, first)
        step = start - part.prompt_rows
        if q_len > 1 or step < EVERY_STEP_UNTIL or step % CHECK_EVERY == 0:
            _compare(part, *call)
            part.unchecked.pop(layer, None)
        else:
            part.unchecked[layer] = call  # compared at the next sampled step's place, or at the end


def check_pending(part: GrowingLazyAttention) -> None:
    """Compare each layer's last call not compared yet (the generation has ended)."""
    while part.unchecked:
        _compare(part, *part.unchecked.popitem()[1])


def _compare(
    part: GrowingLazyAttention, owner: str, name: str, layer: int, rows: tuple[int, int],
    start: int, key_start: int, want: Any, first: int,
) -> None:  # fmt: skip
    """The kept rows against the model's own; a window seen in the cache narrows the band."""
    worst, where = _disagreement(part, layer, rows, start, key_start, want)
    if worst > _AGREEMENT and first > 0:
        # Keys before `first` are gone from the cache or masked: the layer has a window.
        narrowed = _windowed(part.modifiers[layer], start + rows[0], first)
        if narrowed is not None:
            part.set_modifier(layer, narrowed)
            worst, where = _disagreement(part, layer, rows, start, key_start, want)
    if worst > _AGREEMENT:
        h, r, j = where
        modifier = part.modifiers[layer]
        described = modifier.describe() if modifier is not None else "none"
        raise ValueError(
            f"lazy=True: {owner} {name} layer {layer}: weights computed from the kept "
            f"queries and keys ({described}) differ from the model's by {worst:.3g} at "
            f"head {h}, query {r}, key {j}, so attn_widget cannot vouch for them; use "
            "lazy=False"
        )


def _windowed(modifier: ScoreModifier | None, row: int, first_key: int) -> ScoreModifier | None:
    """The modifier with a causal window ending at the diagonal, seen from one row's first key."""
    if modifier is None or modifier.band[0] is not None:
        return None
    left = row - first_key
    return ScoreModifier(**{**modifier.__dict__, "band": (left, modifier.band[1])})
