"""The fallback for models that do not call transformers' attention interface.

Such models (DeBERTa, Bloom, GPT-Neo, Falcon and other older code) compute
attention themselves and return the weights for ``output_attentions=True``.
Some of them default to sdpa and still take their manual path when asked for
weights, with an sdpa mask that the manual path misreads (Falcon adds the
boolean mask as 0/1, so nothing is masked), and ignore
``set_attn_implementation``. So every config of the model is switched to
eager directly (``config._attn_implementation_internal``) for the run, and
switched back after, whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .interface import configs_of, restored

__all__ = ["OUTPUT_FIELDS", "eager_attentions", "forced_eager"]

# Output field -> component name (None: the model's single component).
OUTPUT_FIELDS: dict[str, str | None] = {
    "attentions": None,
    "encoder_attentions": "encoder",
    "decoder_attentions": "decoder",
    "cross_attentions": "cross",
}


def _collect(outputs: Any) -> dict[str | None, tuple[Any, ...]]:
    found: dict[str | None, tuple[Any, ...]] = {}
    for field, component in OUTPUT_FIELDS.items():
        layers = getattr(outputs, field, None)
        if layers:  # None, or () when sdpa could not give weights
            found[component] = tuple(layers)
    return found


def forced_eager(model: Any) -> None:
    """Switch every config of ``model`` to eager attention (inside :func:`restored`)."""
    for config in configs_of(model):
        config._attn_implementation_internal = "eager"


def eager_attentions(
    model: Any, run: Callable[..., Any]
) -> tuple[dict[str | None, tuple[Any, ...]], Any]:
    """Per component, the ``(cases, heads, q, k)`` weights of every layer, and the outputs.

    The dict is empty if the model gave none.
    """
    with restored(model):
        forced_eager(model)
        outputs = run(output_attentions=True)
    return _collect(outputs), outputs
