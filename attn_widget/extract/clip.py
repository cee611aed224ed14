"""CLIP: the vision tower over image patches and the text tower over tokens, as two components.

``"vision"`` has one case per image (``[CLS]`` and ``p(row,col)`` patches);
``"text"`` one case per text, causal, padded texts cropped to their own
tokens. Given both, the model runs once and ``meta["logits_per_image"]``
(images x texts) says how well each pair matches; given only one, only that
tower runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .images import describe, prepare_images
from .media_capture import capture_once, model_name, module_names, storage_dtype, with_media
from .vision import prefix_tokens, tower_component

__all__ = ["extract_clip"]


def _texts(text: Any, name: str) -> list[str]:
    if isinstance(text, str):
        return [text]
    if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
        return list(text)
    raise ValueError(f"{name}: takes text as a string or a list of strings; got {describe(text)}")


def extract_clip(
    model: Any,
    processor: Any,
    images: Any = None,
    *,
    text: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
) -> dict[str, Any]:
    """``{"vision", "text"}`` (those given) of a ``CLIPModel``."""
    from .inputs import encode
    from .record import Axis, Recorder

    name = type(model).__name__
    storage = storage_dtype(dtype)
    if images is None and text is None:
        raise ValueError(f"{name}: takes images, text, or both; got neither")
    components: dict[str, Any] = {}
    media: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    parameter = next(model.parameters())
    meta: dict[str, Any] = {"model": model_name(model), "source": "transformers"}
    if images is not None:
        vision_config = model.config.vision_config
        prefix, fixed = prefix_tokens(vision_config)
        prepared = prepare_images(images, processor, vision_config, name, fixed_size=fixed)
        component, media_meta, arrays = tower_component(prepared, prefix)
        component.expected_layers = int(vision_config.num_hidden_layers)
        components["vision"] = component
        media["vision"] = (media_meta, arrays)
        inputs["pixel_values"] = prepared.pixel_values.to(
            device=parameter.device, dtype=parameter.dtype
        )
    if text is not None:
        texts = _texts(text, name)
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None:
            raise ValueError(
                f"{name}: text needs a tokenizer; {type(processor).__name__} has none (pass a "
                "CLIPProcessor with image_processor= and tokenizer=)"
            )
        vocab = model.text_model.get_input_embeddings().num_embeddings
        encoded = encode(
            tokenizer, texts, vocab_size=vocab, accepted={"input_ids", "attention_mask"}
        )
        longest = max(encoded.lengths)
        limit = int(model.config.text_config.max_position_embeddings)
        if longest > limit:
            raise ValueError(
                f"{name}: its text tower reads at most {limit} tokens "
                f"(text_config.max_position_embeddings); a text has {longest}"
            )
        pad = getattr(tokenizer, "pad_token_id", None)
        tensors = encoded.tensors(pad if isinstance(pad, int) else 0, parameter.device)
        axis = Axis.from_mask(tensors["attention_mask"], encoded.tokens, encoded.raw)
        from .record import Component

        components["text"] = Component(axis, axis)
        components["text"].expected_layers = int(model.config.text_config.num_hidden_layers)
        inputs.update(tensors)
        meta["text"] = texts[0] if isinstance(text, str) else texts
    component_of = module_names(
        {"vision": model.vision_model, "text": model.text_model}, default="text"
    )
    recorder = Recorder(components, component_of, dtype=storage, lazy=lazy)

    def run() -> Any:
        if "pixel_values" in inputs and "input_ids" in inputs:
            return model(**inputs)
        if "pixel_values" in inputs:
            return model.vision_model(pixel_values=inputs["pixel_values"])
        return model.text_model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )

    output = capture_once(model, recorder, run)
    logits = getattr(output, "logits_per_image", None)
    if logits is not None:
        meta["logits_per_image"] = logits.detach().float().cpu().tolist()
    sources = recorder.result(meta)
    for key, source in sources.items():
        source.meta["input"] = "image" if key == "vision" else "text"
    return with_media(sources, causal={"vision": False, "text": True}, media=media)
