"""Numbers from a widget, a source or a model: head scores, attention rollout and flow.

The public functions ``aw.head_scores``, ``aw.rollout`` and ``aw.flow``
(re-exported by :mod:`attn_widget.api`); they return arrays and
:class:`~attn_widget.analysis.results.HeadScores`, never widgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .analysis.results import HeadScores
from .data import AttentionSource
from .widget import AttentionWidget

__all__ = ["flow", "head_scores", "rollout"]


def _source_of(obj: Any, what: str) -> AttentionSource | None:
    """The attention source behind a widget or a source; None for anything else."""
    if isinstance(obj, AttentionWidget):
        return obj.data
    if isinstance(obj, AttentionSource):
        return obj
    return None


def _is_model(obj: Any) -> bool:
    return hasattr(obj, "config") and callable(getattr(obj, "forward", None))


def head_scores(
    obj: Any,
    tokenizer: Any = None,
    texts: str | Sequence[str] | None = None,
    *,
    scores: Sequence[str] | None = None,
    pattern: Any = None,
    special_tokens: Sequence[str] | None = None,
    top_k: int = 5,
    cases: Sequence[int] | None = None,
    batch_size: int | None = None,
    **corpus_options: Any,
) -> HeadScores:
    """Score every (layer, head): previous-token, induction, sinks, entropy, ... (see README).

    ``obj`` is a widget (its current component), an attention source, or a
    transformers model with its ``tokenizer`` and ``texts`` (a corpus
    streamed in batches of ``batch_size``, 8 by default; see
    :func:`attn_widget.corpus.corpus_scores` for ``repeats``, ``progress``,
    ``parallel``, ...). ``scores`` picks score names (all by default);
    ``pattern`` (a ``(q, k)`` matrix or a function ``(q, k) -> matrix``) adds
    ``pattern_mul`` and ``pattern_abs``. ``result["previous_token"]`` is a
    ``(layers, heads)`` array; ``result.table()`` a sorted list.
    """
    from .analysis.atlas import score_source
    from .analysis.scores import SPECIAL_TOKENS

    source = _source_of(obj, "head_scores")
    if source is not None:
        if tokenizer is not None or texts is not None:
            raise ValueError(
                "head_scores: a widget or attention source is scored on its own data; "
                "tokenizer and texts go with a model: head_scores(model, tokenizer, texts)"
            )
        given = sorted([*corpus_options, *(["batch_size"] if batch_size is not None else [])])
        if given:
            raise ValueError(
                f"head_scores: {', '.join(given)} only apply to "
                "head_scores(model, tokenizer, texts)"
            )
        return score_source(
            source,
            scores=scores,
            pattern=pattern,
            special_tokens=tuple(special_tokens) if special_tokens is not None else SPECIAL_TOKENS,
            top_k=top_k,
            cases=cases,
        )
    if _is_model(obj):
        from .corpus import corpus_scores

        if tokenizer is None or texts is None:
            raise ValueError(
                "head_scores: with a model, pass its tokenizer and the texts: "
                "head_scores(model, tokenizer, texts)"
            )
        if cases is not None:
            raise ValueError("cases: pick cases of a widget or source; for a model pass texts")
        return corpus_scores(
            obj,
            tokenizer,
            texts,
            batch_size=8 if batch_size is None else batch_size,
            scores=scores,
            pattern=pattern,
            special_tokens=special_tokens,
            top_k=top_k,
            **corpus_options,
        )
    raise ValueError(
        "head_scores: expected an AttentionWidget, an attention source (AttentionData, "
        f"LazyAttention, ...) or (model, tokenizer, texts); got {type(obj).__name__}"
    )


def _layers_of(obj: Any, case: int, what: str) -> tuple[Any, Any]:
    """(source, None) for a widget or source; (None, array) for a (layers, heads, n, n) array."""
    source = _source_of(obj, what)
    if source is not None:
        source.check_index(case=case)
        return source, None
    if case != 0:
        raise ValueError(f"case: an array holds one case; got case={case!r}")
    return None, obj


def rollout(
    obj: Any,
    case: int = 0,
    *,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
) -> Any:
    """Attention rollout up to each layer (Abnar & Zuidema 2020): ``(layers, q, k)`` float64.

    ``obj``: a widget, an attention source (``w.data``) or a ``(layers, heads,
    n, n)`` array. See :func:`attn_widget.analysis.attention_rollout`; as a
    source for the view: ``analysis.DerivedAttention(source, "rollout")``.
    """
    from .analysis.derived import mixed_layers
    from .analysis.rollout import attention_rollout, rollout_of_mixed

    source, array = _layers_of(obj, case, "rollout")
    options: dict[str, Any] = {
        "head_fusion": head_fusion,
        "residual": residual,
        "discard_ratio": discard_ratio,
    }
    if source is None:
        return attention_rollout(array, **options)
    if source.is_cross:
        raise ValueError("rollout: needs self-attention; this source is cross-attention")
    return rollout_of_mixed(mixed_layers(source, case, **options))


def flow(
    obj: Any,
    case: int = 0,
    *,
    layer: int | None = None,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
    max_seconds: float | None = None,
) -> Any:
    """Attention flow (Abnar & Zuidema 2020): ``(layers, q, k)``, or ``(q, k)`` for one ``layer``.

    Maximum flows with scipy; refused above an estimated ``max_seconds``
    (5 s by default) with the sizes in the message. See
    :func:`attn_widget.analysis.attention_flow`.
    """
    from .analysis.derived import mixed_layers
    from .analysis.flow import MAX_SECONDS, attention_flow, check_flow_size, flow_of_mixed

    limit = MAX_SECONDS if max_seconds is None else max_seconds
    source, array = _layers_of(obj, case, "flow")
    options: dict[str, Any] = {
        "head_fusion": head_fusion,
        "residual": residual,
        "discard_ratio": discard_ratio,
    }
    if source is None:
        return attention_flow(array, layer=layer, max_seconds=limit, **options)
    if source.is_cross:
        raise ValueError("flow: needs self-attention; this source is cross-attention")
    if layer is not None:
        source.check_index(layer=layer)
    layers = list(range(source.n_layers)) if layer is None else [int(layer)]
    check_flow_size(source.shape(case)[0], layers, limit)
    mixed = mixed_layers(source, case, upto=max(layers), **options)
    flows = np.stack([flow_of_mixed(mixed, m) for m in layers])
    return flows[0] if layer is not None else flows
