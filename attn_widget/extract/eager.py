"""The fallback for models that do not call transformers' attention interface.

Such models (DeBERTa, Bloom, GPT-Neo and other older code) compute attention
themselves; asked for ``output_attentions=True`` most return the weights
whatever their implementation is set to. Those that return nothing are run
once more with ``attn_implementation="eager"``, which is switched back after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .interface import restored

__all__ = ["OUTPUT_FIELDS", "eager_attentions"]

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


def eager_attentions(model: Any, run: Callable[..., Any]) -> dict[str | None, tuple[Any, ...]]:
    """Per component, the ``(cases, heads, q, k)`` weights of every layer; {} if none came."""
    found = _collect(run(output_attentions=True))
    if found:
        return found
    with restored(model):
        try:
            model.set_attn_implementation("eager")
        except (ValueError, ImportError, AttributeError, KeyError):
            return {}
        return _collect(run(output_attentions=True))
