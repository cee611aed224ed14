"""Where a transformers model keeps its attention: components, layer counts, special ids, limits.

Read from the model's structure and config, never from its weights.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SINGLE",
    "component_of",
    "decoder_start",
    "expected_layers",
    "model_name",
    "pad_id",
    "position_limit",
]

SINGLE = "attention"
# Module names of cross-attention in the decoders transformers ships
# (BART/Marian/Whisper, T5, BERT-as-decoder and GPT-2, and newer models).
_CROSS_NAMES = (
    "encoder_attn",
    "encdecattention",
    "crossattention",
    "cross_attn",
    "cross_attention",
)


def expected_layers(model: Any, component_of: Any) -> dict[str, int]:
    """How many layers each component should record: its innermost attention modules.

    Only sizes the storage up front (a wrong count costs a copy, not a wrong
    result). BERT's ``BertAttention`` wraps ``BertSelfAttention``, T5's
    ``T5LayerSelfAttention`` wraps ``T5Attention``: the innermost one is the
    module that calls the attention function, once per forward pass.
    """
    counts: dict[str, int] = {}
    for module in model.modules():
        if "attention" not in type(module).__name__.lower():
            continue
        inner = (m for m in module.modules() if m is not module)
        if any("attention" in type(m).__name__.lower() for m in inner):
            continue
        name = component_of(module)
        counts[name] = counts.get(name, 0) + 1
    return counts


def component_of(model: Any, encoder_decoder: bool) -> Any:
    """A function module -> component name, from where the module sits in the model."""
    names: dict[int, str] = {}
    encoder = model.get_encoder() if encoder_decoder and hasattr(model, "get_encoder") else None
    in_encoder = {id(m) for m in encoder.modules()} if encoder is not None else set()
    for path, module in model.named_modules():
        last = path.rsplit(".", 1)[-1].lower()
        if id(module) in in_encoder:
            names[id(module)] = "encoder"
        elif getattr(module, "is_cross_attention", False) or last in _CROSS_NAMES:
            names[id(module)] = "cross"
        else:
            names[id(module)] = "decoder" if encoder_decoder else SINGLE
    default = "decoder" if encoder_decoder else SINGLE
    return lambda module: names.get(id(module), default)


def decoder_start(model: Any) -> int:
    for source in (model.config, getattr(model, "generation_config", None)):
        start = getattr(source, "decoder_start_token_id", None)
        if isinstance(start, int):
            return start
    for name in ("bos_token_id", "pad_token_id"):
        start = getattr(model.config, name, None)
        if isinstance(start, int):
            return start
    raise ValueError(
        f"model: {type(model).__name__} has no decoder_start_token_id (config or generation "
        "config); set model.config.decoder_start_token_id"
    )


def pad_id(tokenizer: Any, model: Any) -> int:
    # Any id the model can embed works: padded positions are masked and cropped.
    for value in (
        getattr(tokenizer, "pad_token_id", None),
        getattr(model.config, "pad_token_id", None),
    ):
        if isinstance(value, int) and value >= 0:
            return value
    return 0


def model_name(model: Any) -> str:
    return str(getattr(model, "name_or_path", "") or type(model).__name__)


def position_limit(model: Any) -> tuple[int, str] | None:
    """How many positions a model with learned absolute positions can embed, and the config key.

    None for models whose positions are relative or rotary (T5, Llama): those
    run past their config's length (out of training range, but not an error).
    """
    import torch

    words = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    sizes = {
        module.num_embeddings
        for module in model.modules()
        if isinstance(module, torch.nn.Embedding) and module is not words
    }
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "n_ctx"):
        value = getattr(model.config, key, None)
        # A learned table of that size (BART's and OPT's hold 2 more rows: an offset).
        if isinstance(value, int) and value > 0 and sizes & {value, value + 2}:
            return value, key
    return None
