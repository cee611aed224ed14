"""The check every weight passes before it leaves extraction: never a picture of wrong numbers.

Whatever path produced them (the capture function, the eager fallback, a
banded reconstruction, TransformerLens, nnsight, or sampled rows of lazy
attention), a case's weights, cropped to its own tokens, must be what the
model's mask implies:

* finite and not negative;
* zero above the diagonal where the model is causal (query ``i`` sees keys
  ``<= i + (k - q)``), and zero outside the band where one is known;
* every row summing to 1: a row's weight on padded keys is then 0, because
  the cropped row holds all of it (at most 1 with attention sinks, which
  take the rest).

Rows are not required to sum to 1 where the weights were taken after
attention dropout (a model in train mode whose weights come from the
model's own ``output_attentions``); the other checks still hold there.

A violation is a ``ValueError`` naming the component, the layer, the case
and the largest offending value with its head, query and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Expected", "check_weights", "expected_causal"]

# Row sums of float32 weights over a few thousand keys stay within ~1e-5 of 1;
# weights a half-precision model computed (then upcast) within ~1e-2.
_SUM_TOLERANCE = 1e-4
_HALF_SUM_TOLERANCE = 2e-2
# A masked weight is exp(lowest - max) = 0 exactly; allow float dust only.
_ZERO_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Expected:
    """What the weights of one component must satisfy (see the module docstring)."""

    component: str
    causal: bool
    # (left, right) as in lazy_scores.ScoreModifier.band: zeros outside; None: no band known.
    band: tuple[int | None, int | None] | None = None
    rows_sum_to_one: bool = True
    # Attention sinks (GPT-OSS) take part of every row's weight: rows sum to at most 1.
    sinks: bool = False
    # Where the weights came from, for the message ("the model's output_attentions", ...).
    origin: str = ""


def expected_causal(model: Any, component: str) -> bool:
    """Whether ``component`` of ``model`` is causal: from the model's structure, never the weights.

    A decoder (of an encoder-decoder) is; encoders and cross-attention are
    not. A single-stack model is causal when its config says it is a decoder,
    or its type has a causal-LM head and no masked-LM head in transformers'
    auto mappings (GPT-2, Llama, Falcon, BLOOM, ...; not BERT, whose causal
    LM is the same model with ``is_decoder=True``).
    """
    if component == "decoder":
        return True
    if component in ("encoder", "cross"):
        return False
    config = getattr(model, "config", None)
    if bool(getattr(config, "is_decoder", False)):
        return True
    try:
        from transformers.models.auto import modeling_auto
    except ImportError:  # pragma: no cover - transformers is there whenever a model is
        return False
    kind = getattr(config, "model_type", None)
    return (
        kind in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and kind not in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


def _fail(
    expected: Expected, layer: int, case: int, what: str, value: float, where: tuple[int, ...]
) -> None:
    head, query = where[0], where[1]
    at = f"head {head}, query {query}" + (f", key {where[2]}" if len(where) > 2 else "")
    origin = f" ({expected.origin})" if expected.origin else ""
    raise ValueError(
        f"{expected.component} layer {layer}, case {case}: the weights{origin} are not what "
        f"the model's mask implies: {what} {value:.4g} at worst, at {at}; attn_widget "
        "does not show weights it cannot vouch for"
    )


def _argmax(values: Any) -> tuple[float, tuple[int, ...]]:
    import torch

    flat = int(torch.argmax(values))
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), values.shape))
    return float(values.reshape(-1)[flat]), where


def _outside_band(
    q: int, k: int, rows: tuple[int, int], band: tuple[int | None, int | None], device: Any
) -> Any:
    """True where key ``j`` is outside query ``i``'s band, for queries ``rows[0]:rows[1]``."""
    import torch

    left, right = band
    if left is None and right is None:
        return None
    rel = torch.arange(k, device=device)[None, :] - (
        torch.arange(*rows, device=device)[:, None] + (k - q)
    )
    hidden = torch.zeros(rel.shape, dtype=torch.bool, device=device)
    if right is not None:
        hidden |= rel > right
    if left is not None:
        hidden |= rel < -left
    return hidden


def check_weights(
    weights: Any,
    expected: Expected,
    *,
    layer: int,
    case: int,
    q: int | None = None,
    rows: tuple[int, int] | None = None,
    heads: tuple[int, int] | None = None,
    source_dtype: Any = None,
) -> None:
    """Raise a ValueError unless ``weights`` are what the model's mask implies.

    ``weights`` is ``(heads, rows, k)``: rows ``rows[0]:rows[1]`` (default: all)
    of a case's ``q x k`` matrices, cropped to the case's tokens, on any
    device, any float dtype. ``heads`` (``h0, h1``) numbers the heads in the
    message; ``source_dtype`` is the dtype the model computed in (a
    half-precision model's weights get a looser row-sum tolerance).
    """
    import torch

    block = torch.as_tensor(weights)
    if block.ndim == 2:
        block = block[None]
    _, n_rows, k = block.shape
    if n_rows == 0 or k == 0:
        return
    r0, r1 = rows if rows is not None else (0, n_rows)
    total_q = q if q is not None else r1
    h0 = heads[0] if heads is not None else 0
    offset = (h0, r0, 0)

    def fail(what: str, values: Any) -> None:
        value, where = _argmax(values)
        _fail(
            expected,
            layer,
            case,
            what,
            value,
            tuple(a + b for a, b in zip(where, offset, strict=True)),
        )

    block = block.float()
    # Few passes over the block (it can be a whole layer): one sum, one minimum, one mask.
    sums = block.sum(-1)
    if not bool(torch.isfinite(sums).all()):
        finite = torch.isfinite(block)
        fail("a weight is NaN or infinite, flagged", (~finite).float())
    if float(block.amin()) < -_ZERO_TOLERANCE:
        fail("a weight is negative, by", (-block).clamp(min=0))
    band = expected.band
    if band is None and expected.causal:
        band = (None, 0)
    elif band is not None and expected.causal and (band[1] is None or band[1] > 0):
        band = (band[0], 0)
    if band is not None:
        for side, what in (
            ((None, band[1]), "a query attends to a later key in a causal model"),
            ((band[0], None), "a query attends to a key outside the model's attention window"),
        ):
            hidden = _outside_band(total_q, k, (r0, r1), side, block.device)
            if hidden is None:
                continue
            leaked = block.masked_fill(~hidden, 0.0)
            if bool((leaked > _ZERO_TOLERANCE).any()):
                if side[1] is not None and not (expected.causal and side[1] == 0):
                    what = "a query attends to a key outside the model's attention window"
                fail(f"{what}, with weight", leaked)
    if expected.rows_sum_to_one:
        half = source_dtype is not None and source_dtype in (torch.float16, torch.bfloat16)
        tolerance = _HALF_SUM_TOLERANCE if half else _SUM_TOLERANCE
        error = sums - 1.0
        error = error.clamp(min=0.0) if expected.sinks else error.abs()
        if bool((error > tolerance).any()):
            value, (h, r) = _argmax(error)
            _fail(
                expected,
                layer,
                case,
                "a row does not sum to 1 over the case's own keys (padding got weight, or these "
                "are not softmax weights); its distance from 1 is",
                value,
                (h + h0, r + r0),
            )
