"""The public face that builds widgets: from a model, from a file, from analyses.

Everything below this module takes and returns data (attention sources, view
states, bytes); only the functions here (and the widget classes themselves)
make widgets, so extraction, files and figures never import the widget.
"""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import io, overlays
from .analysis.results import HeadScores
from .data import AttentionSource
from .extract import (
    attention_from_cache,
    attention_of,
    media,  # images, audio, image+text (issue 14)
)
from .extract.generate import Generation, generate_attention
from .extract.generate import check_inputs as generate_checks
from .generation import GenerationWidget
from .views import AnalysisWidget
from .widget import AttentionWidget

__all__ = [
    "compare",
    "evolution",
    "flow",
    "from_cache",
    "from_model",
    "generate",
    "head_scores",
    "load",
    "rollout",
    "save",
    "stability",
]

# Keywords of aw.generate that belong to the widget, not to model.generate.
_WIDGET_OPTIONS = (
    "layer",
    "head",
    "head_mean",
    "gamma",
    "large",
    "byte_budget",
    "export_dir",
    "step",
)


def _in_kernel() -> bool:
    """Whether a notebook kernel runs us (a view can show the widget while it grows)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 40,
    *,
    top_k: int = 5,
    dtype: Any = "float32",
    lazy: bool | None = None,
    background: bool | None = None,
    **kwargs: Any,
) -> GenerationWidget:
    """Generate from ``prompt`` and show what each new token attended to, step by step.

    Returns a :class:`~attn_widget.generation.GenerationWidget` at once: in a
    notebook kernel (``background=None`` or True) the model writes in a
    background thread and the widget grows as each token comes, with a stop
    button; elsewhere (or ``background=False``) this returns when generation
    has ended. ``w.step = t`` shows generated token ``t``'s step; ``w.ids``,
    ``w.text``, ``w.choices(t)`` (the ``top_k`` most probable tokens there);
    ``w.wait()`` blocks until the end. Widget options (``layer``, ``head``,
    ``gamma``, ``large``, ...) go to the widget; any other keyword goes to
    ``model.generate`` (greedy unless it says otherwise). ``lazy=True`` keeps
    queries and keys instead of weights, for long prompts of decoder-only
    models (memory ∝ N·d; each row is computed when the view shows it);
    the default (None) does so when the weights would pass 256 MiB.
    """
    widget_options = {name: kwargs.pop(name) for name in _WIDGET_OPTIONS if name in kwargs}
    storage = _storage(dtype)
    stop = threading.Event()
    # Bad input is refused here, before any thread starts.
    generate_checks(model, tokenizer, prompt, max_new_tokens, top_k)
    made: dict[str, Any] = {}
    ready = threading.Event()

    def started(run: Generation) -> None:
        made["widget"] = GenerationWidget(run, stop=stop, **widget_options)
        ready.set()

    def on_step(_run: Generation) -> None:
        made["widget"]._grown()

    def run() -> None:
        try:
            generate_attention(
                model, tokenizer, prompt, max_new_tokens=max_new_tokens, top_k=top_k,
                dtype=storage, lazy=lazy, on_step=on_step, stop=stop, started=started,
                **kwargs,
            )  # fmt: skip
        except BaseException as error:
            made.setdefault("error", error)
        finally:
            ready.set()
            if "widget" in made:
                made["widget"]._grown(final=True)

    if background is None:
        background = _in_kernel()
    if not background:
        run()
        if "widget" not in made:
            raise made["error"]
        widget: GenerationWidget = made["widget"]
        if widget.generation.error is not None:
            raise widget.generation.error
        return widget
    thread = threading.Thread(target=run, name="attn_widget-generate", daemon=True)
    thread.start()
    ready.wait()
    if "widget" not in made:
        thread.join()
        raise made["error"]
    made["widget"]._thread = thread
    return made["widget"]


def _storage(dtype: Any) -> Any:
    import numpy as np

    value = np.dtype(str(dtype).replace("torch.", ""))
    if value not in (np.float32, np.float16):
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}")
    return value


def from_model(
    model: Any,
    tokenizer: Any = None,
    inputs: Any = None,
    /,
    *,
    text: str | Sequence[str] | None = None,
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
    own tokenizer: ``from_model(model, text)``. ``inputs`` is the text (or
    ``text=``). Encoder-decoder models give a widget with a component choice
    (encoder, decoder, cross). ``model_inputs`` are more inputs of the
    forward pass (Longformer's ``global_attention_mask``).
    ``widget_options`` (``layer``, ``head``, ``gamma``, ``large``,
    ``byte_budget``, ...) go to the widget.

    Image, audio and image+text models (ViT, DeiT, DINOv2, CLIP, Swin,
    Whisper, LLaVA) take their processor and images or audio as ``inputs``:
    ``from_model(vit, image_processor, image)``, ``from_model(clip, processor,
    image, text="a dog")``, ``from_model(whisper, processor, audio,
    target="transcript")``, ``from_model(llava, processor, image, text="...")``;
    see :mod:`attn_widget.extract.media`.
    """
    if media.handles(model, inputs):
        options = {k: widget_options.pop(k) for k in media.OPTIONS if k in widget_options}
        found = media.extract_media(
            model, tokenizer, inputs, text=text, target=target, dtype=dtype, lazy=lazy, **options
        )
        return AttentionWidget(found, **widget_options)
    if inputs is not None and text is not None:
        raise ValueError("text: given twice (as the third argument and as text=); give it once")
    text = inputs if inputs is not None else text
    extra = {"model_inputs": model_inputs} if model_inputs is not None else {}
    result = attention_of(model, tokenizer, text, target=target, dtype=dtype, lazy=lazy, **extra)
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


def load(
    path: str | os.PathLike[str], *, max_bytes: float | None = None, **widget_options: Any
) -> AttentionWidget:
    """An :class:`AttentionWidget` over the attention saved in ``path`` (see :func:`io.read`).

    ``max_bytes`` (default :data:`attn_widget.io.MAX_BYTES`, 1 GiB) bounds the
    attention a file may hold; a file that declares more is refused unread. A
    saved generation comes back as a GenerationWidget (steps, choices, text).
    """
    components = io.read(path, max_bytes=max_bytes)
    record = next(iter(components.values())).meta.get("generation")
    if isinstance(record, Mapping):
        run = Generation.from_record(record, components)
        return GenerationWidget(run, stop=threading.Event(), **widget_options)
    return AttentionWidget.from_components(components, **widget_options)


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
    if isinstance(obj, GenerationWidget):
        obj.wait()  # a file holds a finished generation
        meta = {**(meta or {}), "generation": obj.generation.record()}
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
