"""LLaVA-style models: image patches spliced into the text, one sequence for the language model.

The processor replaces the prompt's ``<image>`` by one token per image
feature; the model scatters the projected patch features into exactly those
positions (``input_ids == config.image_token_id``), in the vision tower's
row-major patch order (``[CLS]`` dropped under the ``"default"`` feature
strategy, kept first under ``"full"``). So the language model's sequence is
text tokens and ``p(row,col)`` image tokens, and ``meta["media"]["patches"]``
says which positions are which patch.

Components: ``"language"`` (the one sequence, causal) and ``"vision"`` (the
vision tower over ``[CLS]`` and the patches). One image per case; cases are
padded on the right, so each equals its prompt alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .images import describe, image_media_meta, prepare_images
from .media_capture import capture_once, model_name, module_names, storage_dtype, with_media
from .vision import prefix_tokens, tower_component

__all__ = ["extract_llava", "prompt_with_image"]


def prompt_with_image(text: str, image_token: str, name: str) -> str:
    """The prompt with one image token: as given, or with it put in front (``<image>\\n...``)."""
    count = text.count(image_token)
    if count > 1:
        raise ValueError(
            f"{name}: one image per prompt; {text[:60]!r} has {count} {image_token!r} tokens"
        )
    return text if count == 1 else f"{image_token}\n{text}"


def _prompts(text: Any, cases: int, name: str) -> list[str]:
    if text is None:
        raise ValueError(f"{name}: takes an image and a text prompt (text=...); got no text")
    texts = [text] if isinstance(text, str) else text
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise ValueError(
            f"{name}: text: expected a string or a list of strings, got {describe(text)}"
        )
    texts = list(texts)
    if len(texts) == 1 and cases > 1:
        return texts * cases
    if len(texts) != cases:
        raise ValueError(f"{name}: got {len(texts)} prompts for {cases} images; expected {cases}")
    return texts


def extract_llava(
    model: Any,
    processor: Any,
    images: Any,
    *,
    text: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
) -> dict[str, Any]:
    """``{"language", "vision"}``: the spliced sequence and the vision tower."""
    import torch

    from .record import Axis, Component, Recorder
    from .tokens import display_tokens

    name = type(model).__name__
    storage = storage_dtype(dtype)
    config = model.config
    tokenizer = getattr(processor, "tokenizer", None)
    image_token = getattr(processor, "image_token", None)
    if tokenizer is None or image_token is None:
        raise ValueError(
            f"{name}: takes an image and text through its processor (e.g. LlavaProcessor with "
            f"image_processor= and tokenizer=); got {type(processor).__name__}"
        )
    vision_config = config.vision_config
    prefix, fixed = prefix_tokens(vision_config)
    prepared = prepare_images(images, processor, vision_config, name, fixed_size=fixed)
    cases = len(prepared.pictures)
    prompts = [prompt_with_image(t, image_token, name) for t in _prompts(text, cases, name)]
    strategy = getattr(config, "vision_feature_select_strategy", "default")
    expected = prepared.grid.count + (0 if strategy == "default" else 1)
    image_id = int(config.image_token_id)
    rows: list[list[int]] = []
    spots: list[list[int]] = []
    for c, prompt in enumerate(prompts):
        # The picture is already at the processed size: the processor only counts its tokens.
        encoded = processor(images=prepared.pictures[c], text=prompt, return_tensors="pt")
        ids = [int(t) for t in encoded["input_ids"][0]]
        where = [i for i, t in enumerate(ids) if t == image_id]
        if len(where) != expected:
            raise ValueError(
                f"{name}: the processor put {len(where)} image tokens in prompt {c}; the model "
                f"gives {expected} image features ({prepared.grid.rows}x{prepared.grid.cols} "
                f"patches, vision_feature_select_strategy={strategy!r}). Build the processor with "
                "the model's patch_size, vision_feature_select_strategy and "
                "num_additional_image_tokens (1 for a CLIP tower with 'default')"
            )
        rows.append(ids)
        spots.append(where)
    longest = max(len(r) for r in rows)
    limit = getattr(config.text_config, "max_position_embeddings", None)
    if isinstance(limit, int) and longest > limit:
        raise ValueError(
            f"{name}: its language model reads at most {limit} positions; a prompt has {longest} "
            "with its image tokens"
        )
    parameter = next(model.parameters())
    pad = getattr(tokenizer, "pad_token_id", None)
    pad = pad if isinstance(pad, int) else int(getattr(config.text_config, "pad_token_id", 0) or 0)
    ids_tensor = torch.full((cases, longest), pad, dtype=torch.long)
    mask = torch.zeros((cases, longest), dtype=torch.long)
    for c, row in enumerate(rows):
        ids_tensor[c, : len(row)] = torch.tensor(row)
        mask[c, : len(row)] = 1
    labels = prepared.grid.labels()
    raw = [[str(t) for t in tokenizer.convert_ids_to_tokens(row)] for row in rows]
    tokens = []
    patches = []
    for c, case_raw in enumerate(raw):
        shown = display_tokens(case_raw, tokenizer)
        spot = spots[c]
        cells = spot if strategy == "default" else spot[1:]
        if strategy != "default":
            shown[spot[0]] = "[IMG CLS]"
        for position, label in zip(cells, labels, strict=True):
            shown[position] = label
        tokens.append(shown)
        patches.append(cells)
    axis = Axis.from_mask(mask, tokens, raw)
    language = Component(axis, axis)
    language.expected_layers = int(config.text_config.num_hidden_layers)
    vision, vision_meta, pictures = tower_component(prepared, prefix)
    vision.expected_layers = int(vision_config.num_hidden_layers)
    base = getattr(model, "base_model", model)
    component_of = module_names({"vision": base.vision_tower}, default="language")
    recorder = Recorder(
        {"language": language, "vision": vision}, component_of, dtype=storage, lazy=lazy
    )
    inputs = {
        "input_ids": ids_tensor.to(parameter.device),
        "attention_mask": mask.to(parameter.device),
        "pixel_values": prepared.pixel_values.to(device=parameter.device, dtype=parameter.dtype),
        "use_cache": False,
    }
    capture_once(model, recorder, lambda: base(**inputs))
    meta = {
        "model": model_name(model),
        "source": "transformers",
        "input": "image+text",
        "text": prompts[0] if isinstance(text, str) else prompts,
    }
    sources = recorder.result(meta)
    extra: dict[str, Any] = {}
    if strategy != "default":
        extra["image_cls"] = [s[0] for s in spots]
    language_meta = image_media_meta(
        prepared.grid,
        patches,
        {},
        query=[len(r) - 1 for r in rows],  # the last prompt token: it predicts the next word
        extra=extra,
    )
    media = {"language": (language_meta, pictures), "vision": (vision_meta, pictures)}
    return with_media(sources, causal={"language": True, "vision": False}, media=media)
