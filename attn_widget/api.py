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
from .api_analysis import flow, head_scores, rollout
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
