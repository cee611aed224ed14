"""Vision transformers whose tokens are a prefix then a row-major patch grid (ViT, DeiT, DINOv2).

Token order, checked in MULTIMODAL-NOTES by moving one pixel:

* ViT, DINOv2, CLIP vision: ``[CLS]`` then the patches;
* DeiT: ``[CLS]``, ``[DIST]`` (the distillation token), then the patches;
* DINOv2 with registers: ``[CLS]``, ``[REG0]`` .. ``[REG{R-1}]``, then the patches.

Patches are labelled ``p(row,col)``. The tower runs once, switched to the
capture function, and its weights are checked before they are returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..media import Media
from .images import PatchGrid, Prepared, image_media_meta, prepare_images
from .media_capture import capture_once, full_axis, model_name, storage_dtype, with_media

__all__ = ["VISION_TYPES", "extract_vision", "prefix_tokens", "tower_component"]

SINGLE = "attention"


def _cls(config: Any) -> list[str]:
    return ["[CLS]"]


def _deit(config: Any) -> list[str]:
    return ["[CLS]", "[DIST]"]


def _registers(config: Any) -> list[str]:
    return ["[CLS]", *(f"[REG{i}]" for i in range(int(config.num_register_tokens)))]


# model_type -> (prefix tokens, whether the position embeddings fix the image size)
VISION_TYPES: dict[str, tuple[Callable[[Any], list[str]], bool]] = {
    "vit": (_cls, True),
    "deit": (_deit, True),
    "dinov2": (_cls, False),
    "dinov2_with_registers": (_registers, False),
    "clip_vision_model": (_cls, True),
}


def prefix_tokens(config: Any) -> tuple[list[str], bool]:
    """The tokens before the patches, and whether the image size is fixed."""
    kind = getattr(config, "model_type", None)
    if kind not in VISION_TYPES:
        raise ValueError(
            f"vision tower: attn_widget knows the token layout of {sorted(VISION_TYPES)}; got "
            f"model_type {kind!r}"
        )
    prefix, fixed = VISION_TYPES[kind]
    return prefix(config), fixed


def tower_tokens(prefix: list[str], grid: PatchGrid) -> list[str]:
    return [*prefix, *grid.labels()]


def tower_component(prepared: Prepared, prefix: list[str]) -> tuple[Any, dict[str, Any], Media]:
    """The Component of a vision tower over ``prepared`` images, its media meta and arrays."""
    from .record import Component

    cases = len(prepared.pictures)
    tokens = tower_tokens(prefix, prepared.grid)
    axis = full_axis([tokens] * cases)
    first = len(prefix)
    patches = [list(range(first, first + prepared.grid.count))] * cases
    special = {name: i for i, name in enumerate(prefix)}
    query = [0 if prefix and prefix[0] == "[CLS]" else None] * cases
    meta = image_media_meta(prepared.grid, patches, special, query=query)
    return Component(axis, axis), meta, Media(images=list(prepared.pictures))


def extract_vision(
    model: Any, processor: Any, images: Any, *, dtype: Any = "float32", lazy: bool = False
) -> Any:
    """Attention of a ViT-family model over ``images`` (one case each), patches as tokens."""
    from .record import Recorder

    storage = storage_dtype(dtype)
    name = type(model).__name__
    prefix, fixed = prefix_tokens(model.config)
    prepared = prepare_images(images, processor, model.config, name, fixed_size=fixed)
    component, media_meta, media = tower_component(prepared, prefix)
    runner = getattr(model, "base_model", model)  # no classifier head: its logits are not needed
    component.expected_layers = int(getattr(model.config, "num_hidden_layers", 1))
    recorder = Recorder({SINGLE: component}, lambda module: SINGLE, dtype=storage, lazy=lazy)
    parameter = next(model.parameters())
    pixels = prepared.pixel_values.to(device=parameter.device, dtype=parameter.dtype)
    capture_once(model, recorder, lambda: runner(pixel_values=pixels))
    meta = {"model": model_name(model), "source": "transformers", "input": "image"}
    sources = recorder.result(meta)
    done = with_media(sources, causal={SINGLE: False}, media={SINGLE: (media_meta, media)})
    return done[SINGLE]
