"""The public face that builds widgets: from a model, from a file, from analyses.

Everything below this module takes and returns data (attention sources, view
states, bytes); only the functions here (and the widget classes themselves)
make widgets, so extraction, files and figures never import the widget.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from . import io, overlays
from .data import AttentionSource
from .extract import attention_from_cache, attention_of
from .views import AnalysisWidget
from .widget import AttentionWidget

__all__ = ["compare", "evolution", "from_cache", "from_model", "load", "save", "stability"]


def from_model(
    model: Any,
    tokenizer: Any = None,
    text: str | Sequence[str] | None = None,
    *,
    target: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
    model_inputs: Mapping[str, Any] | None = None,
    **widget_options: Any,
) -> AttentionWidget:
    """The attention of any model a user has, shown in an :class:`AttentionWidget`.

    A transformers model with its tokenizer (see
    :func:`~attn_widget.extract.extract_attention`), an nnsight
    ``LanguageModel``, or a TransformerLens model; the last two bring their
    own tokenizer: ``from_model(model, text)``. Encoder-decoder models give a
    widget with a component choice (encoder, decoder, cross).
    ``widget_options`` (``layer``, ``head``, ``gamma``, ``large``,
    ``byte_budget``, ...) go to the widget.
    """
    options = {"model_inputs": model_inputs} if model_inputs is not None else {}
    result = attention_of(model, tokenizer, text, target=target, dtype=dtype, lazy=lazy, **options)
    return AttentionWidget(result, **widget_options)


def from_cache(
    cache: Any,
    tokens: Any = None,
    *,
    padding_side: str = "right",
    dtype: Any = "float32",
    **widget_options: Any,
) -> AttentionWidget:
    """A TransformerLens ``ActivationCache`` (3.x or 4.x) in an :class:`AttentionWidget`.

    Every ``blocks.{L}.attn.hook_pattern`` is a layer and the batch gives the
    cases; ``tokens`` is one list for every case or one per case (e.g.
    ``model.to_str_tokens(texts)``). See
    :func:`~attn_widget.extract.attention_from_cache`.
    """
    data = attention_from_cache(cache, tokens, padding_side=padding_side, dtype=dtype)
    return AttentionWidget(data, **widget_options)


def load(path: str | os.PathLike[str], **widget_options: Any) -> AttentionWidget:
    """An :class:`AttentionWidget` over the attention saved in ``path`` (see :func:`io.read`)."""
    return AttentionWidget.from_components(io.read(path), **widget_options)


def save(
    obj: AttentionWidget | AttentionSource | Mapping[str, AttentionSource],
    path: str | os.PathLike[str],
    *,
    meta: Mapping[str, Any] | None = None,
    compressed: bool = False,
) -> pathlib.Path:
    """Write a widget's components (or a source, or a dict of them) to an ``.npz``.

    See :func:`attn_widget.io.save`; reading it back never unpickles.
    """
    data = obj.components if isinstance(obj, AttentionWidget) else obj
    return io.save(data, path, meta=meta, compressed=compressed)


def compare(
    attn_a: Any, attn_b: Any, tokens: Any = None, *, target_tokens: Any = None, **kwargs: Any
) -> AnalysisWidget:
    """A widget comparing two attentions of the same shape.

    Cells are coloured by A; a circle in each cell is filled with B's colour
    (same scale) and sized by ``|A − B| / max |A − B|``; no circle where A = B.
    The tooltip gives A, B and Δ = A − B.
    """
    data, overlay = overlays.compare_overlay(attn_a, attn_b, tokens, target_tokens=target_tokens)
    return AnalysisWidget(data, overlay, **kwargs)


def stability(
    runs: Any,
    tokens: Any = None,
    *,
    target_tokens: Any = None,
    spread: str = "sem",
    k: float = 2.0,
    **kwargs: Any,
) -> AnalysisWidget:
    """A widget of attention across runs (seeds, data orders): mean and spread.

    ``runs`` is a sequence (or leading array axis) of attentions of one shape,
    at least 2. Cells show the mean; circles are sized by the spread
    (``spread="sem"`` standard error, or ``"std"``) and filled from
    mean − k·spread at the centre to mean + k·spread at the edge.
    """
    data, overlay = overlays.stability_overlay(
        runs, tokens, target_tokens=target_tokens, spread=spread, k=k
    )
    return AnalysisWidget(data, overlay, **kwargs)


def evolution(
    checkpoints: Any,
    tokens: Any = None,
    *,
    target_tokens: Any = None,
    normalize: str = "global",
    **kwargs: Any,
) -> AnalysisWidget:
    """A widget of attention across training checkpoints: the mean, and a sparkline in each cell.

    ``checkpoints`` is a sequence (or leading array axis) of attentions of one
    shape, at least 2, in training order. ``normalize="global"`` scales every
    sparkline by one range; ``"cell"`` scales each cell by its own.
    """
    data, overlay = overlays.evolution_overlay(
        checkpoints, tokens, target_tokens=target_tokens, normalize=normalize
    )
    return AnalysisWidget(data, overlay, **kwargs)
