"""``lazy=True`` for models outside transformers' attention interface: hook the attention modules.

Such models (GPT-Neo, BLOOM, MPT, Falcon, DeBERTa, MPNet, BigBird, ...)
compute their attention in their own code, so no attention function hands
over queries and keys. Instead a forward hook on each attention module reads
what the module was given (hidden states, ALiBi tensor, position bias, mask)
and a recipe for that module class recomputes its queries and keys with the
module's own projections. The model runs eagerly with ``output_attentions``
once, so each layer's own weights are at hand for the sampled-row check of
:mod:`.lazy_capture`, and are dropped right after it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["lazy_outside_interface"]


def lazy_outside_interface(model: Any, recorder: Any, run: Any) -> None:
    """Keep queries and keys of every layer through module hooks, or refuse in one sentence."""
    raise ValueError(
        f"lazy=True: {type(model).__name__} computes attention in its own code rather than "
        "through transformers' attention interface, and attn_widget has no recipe for its "
        "queries and keys; use lazy=False"
    )
