"""Images, audio and image+text in, attention sources out: which model kind takes what.

``extract_media(model, processor, inputs, text=..., target=...)`` sends each
model to its extraction and refuses, before anything runs, an input the
model cannot take (text to a vision model, an image to a text model, audio
to an image model), naming the model class, what it takes and what came.

========== ========================================= ======================================
kind       models (config.model_type)                 components
========== ========================================= ======================================
vision     vit, deit, dinov2, dinov2_with_registers,  one source (``"attention"``)
           clip_vision_model
clip       clip                                       ``"vision"``, ``"text"`` (those given)
swin       swin                                       ``"stage 0"``, ``"stage 1"``, ...
audio      whisper                                    ``"encoder"`` (+ ``"decoder"``, ``"cross"``)
llava      llava                                      ``"language"``, ``"vision"``
========== ========================================= ======================================

What the view reads (``source.meta["media"]``, JSON, plus ``source.media``,
a :class:`~attn_widget.media.Media` of arrays). Every per-case
list has one entry per case.

Images (``kind: "image"``)
    ``axes``: the matrix axes whose positions are image tokens
    (``["query", "key"]``). ``size``: ``[H, W]`` of the processed image.
    ``grid``: ``{"rows", "cols", "patch": [ph, pw]}``, cell ``(r, c)`` covering
    processed pixels ``[r·ph, (r+1)·ph) x [c·pw, (c+1)·pw)`` (clip at ``size``).
    ``patches[case]``: the token index of every cell, row-major
    (``patches[case][r·cols + c]``); ``first[case]``: the first of them.
    ``special``: ``{"[CLS]": 0, "[DIST]": 1, "[REG0]": ...}`` named non-patch
    tokens. ``query[case]``: the token whose row the overlay shows when
    nothing is hovered (``[CLS]``; LLaVA: the last prompt token), or None for
    the mean over queries. Swin adds ``stage`` and ``windows: {"size",
    "shifts": [per layer]}``; LLaVA's ``"full"`` strategy adds ``image_cls``.
    Arrays: ``media.images[case]``, uint8 ``(H, W, 3)``, the image as the
    processor made it (resized, cropped, normalisation undone).
Audio (``kind: "audio"``)
    ``axes``: ``["query", "key"]`` for the encoder, ``["key"]`` for cross.
    ``seconds_per_position`` (0.02 for Whisper), ``positions`` (the encoder's
    length), ``sampling_rate``, ``duration[case]`` (seconds of audio),
    ``audio_positions[case]`` (positions that hold audio; the rest is the
    padding the model also attends to), ``envelope: {"bins",
    "seconds_per_bin"}``. Arrays: ``media.envelopes[case]``, float32
    ``(bins, 2)``: min and max of the waveform in each bin, over the whole
    window (zero after the audio).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .images import describe, is_image_like

__all__ = ["KINDS", "OPTIONS", "extract_media", "handles", "is_media_input", "media_kind"]

KINDS: dict[str, str] = {
    "vit": "vision",
    "deit": "vision",
    "dinov2": "vision",
    "dinov2_with_registers": "vision",
    "clip_vision_model": "vision",
    "clip": "clip",
    "swin": "swin",
    "whisper": "audio",
    "llava": "llava",
}
OPTIONS = ("max_new_tokens", "sampling_rate")  # from_model keywords that belong to extraction
_KNOWN = "ViT, DeiT, DINOv2 (with or without registers), CLIP, Swin, Whisper and LLaVA"


def media_kind(model: Any) -> str | None:
    """``"vision"``, ``"clip"``, ``"swin"``, ``"audio"``, ``"llava"``, or None (a text model)."""
    config = getattr(model, "config", None)
    return KINDS.get(str(getattr(config, "model_type", "")))


def is_media_input(value: Any) -> bool:
    """An image, a waveform, or a list of them (strings and lists of strings are text)."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_image_like(v) for v in value)
    return is_image_like(value)


def handles(model: Any, inputs: Any) -> bool:
    """Whether :func:`extract_media` (rather than text extraction) answers this call."""
    return media_kind(model) is not None or is_media_input(inputs)


def _takes(kind: str) -> str:
    return {
        "vision": "images only",
        "swin": "images only",
        "clip": "images, text (text=...), or both",
        "audio": "audio only (a waveform), with target=None, 'transcript' or a text",
        "llava": "an image with a text prompt (text=...)",
    }[kind]


def _check_model(model: Any) -> None:
    import torch

    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(
            "model: expected a transformers model (a torch.nn.Module with a .config); got "
            f"{type(model).__name__}"
        )


def extract_media(
    model: Any,
    processor: Any,
    inputs: Any = None,
    *,
    text: str | Sequence[str] | None = None,
    target: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
    max_new_tokens: int | None = None,
    sampling_rate: int | None = None,
) -> Any:
    """Attention of an image, audio or image+text model; see the module docstring."""
    _check_model(model)
    name = type(model).__name__
    kind = media_kind(model)
    config = model.config
    if kind is None and (
        getattr(model, "main_input_name", "input_ids") != "input_ids"
        or any(hasattr(config, f) for f in ("vision_config", "audio_config"))
    ):
        raise ValueError(
            f"{name}: model_type {getattr(config, 'model_type', None)!r} is not one attn_widget "
            f"reads images or audio of yet (its token layout is unchecked); it reads {_KNOWN} "
            f"models. Got {describe(inputs)}"
        )
    if kind is None:
        raise ValueError(
            f"{name}: takes text (a string or a list of strings, with its tokenizer); got "
            f"{describe(inputs)}. attn_widget reads images and audio with {_KNOWN} models"
        )
    if target is not None and kind != "audio":
        raise ValueError(
            f"target: {name} has no decoder to read a target ({_takes(kind)}); leave target=None"
        )
    if kind != "audio" and (max_new_tokens is not None or sampling_rate is not None):
        raise ValueError(
            f"max_new_tokens, sampling_rate: only for audio models; {name} takes {_takes(kind)}"
        )
    if kind in ("vision", "swin", "audio") and text is not None:
        raise ValueError(f"{name}: takes {_takes(kind)}; got text={text!r:.80}")
    if kind == "clip":
        from .clip import extract_clip

        if isinstance(inputs, str) or (
            isinstance(inputs, (list, tuple)) and inputs and all(isinstance(t, str) for t in inputs)
        ):
            if text is not None:
                raise ValueError(f"{name}: got text twice (as the input and as text=)")
            inputs, text = None, inputs
        return extract_clip(model, processor, inputs, text=text, dtype=dtype, lazy=lazy)
    if inputs is None:
        raise ValueError(f"{name}: takes {_takes(kind)}; got no input")
    if kind == "vision":
        from .vision import extract_vision

        return extract_vision(model, processor, inputs, dtype=dtype, lazy=lazy)
    if kind == "swin":
        from .windows import extract_swin

        return extract_swin(model, processor, inputs, dtype=dtype, lazy=lazy)
    if kind == "audio":
        from .audio import extract_whisper

        return extract_whisper(
            model,
            processor,
            inputs,
            target=target,
            dtype=dtype,
            lazy=lazy,
            max_new_tokens=40 if max_new_tokens is None else max_new_tokens,
            sampling_rate=sampling_rate,
        )
    from .multimodal import extract_llava

    return extract_llava(model, processor, inputs, text=text, dtype=dtype, lazy=lazy)
