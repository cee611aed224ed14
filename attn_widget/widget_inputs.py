"""What a user passes when making a widget, turned into named components, and its checks.

Weights in any layout, one source, or a mapping of sources become ``name ->
AttentionSource``; ``derived=["rollout", "flow"]`` adds derived attentions as
components beside them. Nothing the user passes is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .analysis.derived import DerivedAttention
from .analysis.scores import SCORE_NAMES
from .data import AttentionData, AttentionSource

__all__ = ["DERIVED", "check_atlas", "check_budget", "components_of", "derived_of"]


def check_budget(budget: Any) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"byte_budget: expected a positive number of bytes, got {budget!r}")


def check_atlas(name: Any) -> str:
    """A head score's name for the atlas, or "" for none."""
    if name == "" or name in SCORE_NAMES:
        return str(name)
    raise ValueError(
        f"atlas: expected one of {', '.join(SCORE_NAMES)} (or '' for none), got {name!r}"
    )


DERIVED = ("rollout", "flow")


def derived_of(components: Mapping[str, AttentionSource], kinds: Any) -> dict[str, AttentionSource]:
    """Derived attentions (rollout, flow) of every self-attention component, as components.

    Each is a choice in the view beside the heads and their mean, so every
    picture, tooltip and figure works on it; named ``"rollout"`` (or
    ``"encoder · rollout"`` beside other components).
    """
    if isinstance(kinds, str) or not all(k in DERIVED for k in kinds):
        raise ValueError(f"derived: expected a list of {', '.join(DERIVED)}, got {kinds!r}")
    out: dict[str, AttentionSource] = {}
    for name, source in components.items():
        if source.is_cross:
            continue
        for kind in kinds:
            label = kind if len(components) == 1 else f"{name} · {kind}"
            out[label] = DerivedAttention(source, kind)
    return out


def components_of(attentions: Any, tokens: Any, **layout: Any) -> dict[str, AttentionSource]:
    """Name -> source from what a user passes: weights, a source, or a mapping of sources."""
    if attentions is None:
        raise ValueError("attentions: expected attention weights or AttentionData; got None")
    given = [
        name
        for name, value in (("tokens", tokens), *layout.items())
        if value not in (None, "right")
    ]
    if given and isinstance(attentions, (Mapping, AttentionSource)):
        # Nothing the user passes is dropped: the source has its own tokens.
        raise ValueError(
            f"{given[0]}: the attention given is an {type(attentions).__name__}, which holds its "
            f"own tokens; pass {given[0]}= when making it, e.g. AttentionData(weights, tokens)"
        )
    if isinstance(attentions, Mapping):
        components = dict(attentions)
        if not components or not all(isinstance(d, AttentionSource) for d in components.values()):
            raise ValueError(
                "components: expected a non-empty mapping of name -> AttentionData; got "
                + repr({k: type(v).__name__ for k, v in components.items()})
            )
        return components
    if isinstance(attentions, AttentionSource):
        return {"attention": attentions}
    return {"attention": AttentionData(attentions, tokens, **layout)}
