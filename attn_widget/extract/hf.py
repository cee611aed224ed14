"""``extract_attention``: attention of a transformers model in one call.

The texts run as one batch through the model switched to the capture function
of :mod:`attn_widget.extract.interface` (sdpa keeps computing the forward
pass; each layer's weights are recorded as it runs); models that do not use
transformers' attention interface fall back to eager attention. The model is
left as it was found: attention implementation, train/eval mode, device and
dtype (the two last are never touched; the mode is the user's, so a model in
train mode runs with its dropout).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import AttentionData
from ..lazy import LazyAttention

if TYPE_CHECKING:
    from .record import Axis
from .eager import eager_attentions
from .inputs import Encoded, as_texts, encode
from .interface import capturing

__all__ = ["extract_attention"]

Extracted = AttentionData | LazyAttention
# Module names of cross-attention in the decoders transformers ships
# (BART/Marian/Whisper, T5, BERT-as-decoder and GPT-2, and newer models).
_CROSS_NAMES = (
    "encoder_attn",
    "encdecattention",
    "crossattention",
    "cross_attn",
    "cross_attention",
)
SINGLE = "attention"


def _check_model(model: Any) -> None:
    import torch

    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(
            "model: expected a transformers model (a torch.nn.Module with a .config); got "
            f"{type(model).__name__}. For plain torch.nn modules use attn_widget.capture_attention"
        )


def _storage_dtype(dtype: Any) -> np.dtype:
    try:
        value = np.dtype(str(dtype).replace("torch.", ""))
    except TypeError as error:
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}") from error
    if value not in (np.float32, np.float16):
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}")
    return value


def _expected_layers(model: Any, component_of: Any) -> dict[str, int]:
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


def _component_of(model: Any, encoder_decoder: bool) -> Any:
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


def _decoder_start(model: Any) -> int:
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


def _pad_id(tokenizer: Any, model: Any) -> int:
    # Any id the model can embed works: padded positions are masked and cropped.
    for value in (
        getattr(tokenizer, "pad_token_id", None),
        getattr(model.config, "pad_token_id", None),
    ):
        if isinstance(value, int) and value >= 0:
            return value
    return 0


def _model_name(model: Any) -> str:
    return str(getattr(model, "name_or_path", "") or type(model).__name__)


def _axis(encoded: Encoded, mask: Any) -> Axis:
    from .record import Axis

    return Axis.from_mask(mask, encoded.tokens, encoded.raw)


def _targets(target: Any, count: int) -> list[str]:
    targets = as_texts(target, "target")
    if len(targets) == 1 and count > 1:
        return targets * count  # one target for every source text
    if len(targets) != count:
        raise ValueError(f"target: got {len(targets)} targets for {count} texts; expected {count}")
    return targets


def extract_attention(
    model: Any,
    tokenizer: Any,
    text: str | Sequence[str],
    *,
    target: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
) -> Extracted | dict[str, Extracted]:
    """Run ``model`` on ``text`` and return its attention, labelled with display tokens.

    Parameters
    ----------
    model, tokenizer:
        A transformers model (any attention implementation, device and dtype)
        and its tokenizer.
    text:
        One text, or a list of texts: one batch whose cases each keep only
        their own tokens.
    target:
        Encoder-decoder models only: the decoder's text (one, or one per
        text). The decoder reads its start token followed by the target.
    dtype:
        Storage of the weights on the CPU: ``"float32"`` (default) or ``"float16"``.
    lazy:
        Keep each layer's queries and keys instead of the weights (memory
        grows as N, not N²); see :class:`~attn_widget.lazy.LazyAttention`.

    The weights are ``softmax(Q Kᵀ · scaling + mask)`` as the layer computed
    them, before attention dropout: a model in train mode runs with its
    dropout (so runs differ), but each row still sums to 1.

    Returns
    -------
    An :class:`~attn_widget.data.AttentionData` (a
    :class:`~attn_widget.lazy.LazyAttention` when ``lazy``); for
    encoder-decoder models a dict ``{"encoder", "decoder", "cross"}`` of them
    (only ``"encoder"`` without ``target``). Cross-attention has target tokens
    on the query axis and source tokens on the key axis.
    """
    import torch

    # torch-backed modules are imported here: `import attn_widget` must not need torch.
    from .record import Component, Recorder

    _check_model(model)
    storage = _storage_dtype(dtype)
    texts = as_texts(text)
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    if target is not None and not encoder_decoder:
        raise ValueError(
            f"target: {type(model).__name__} is not an encoder-decoder model "
            "(config.is_encoder_decoder is False), so it has no decoder to read a target; "
            "leave target=None or use a model such as T5 or BART"
        )
    embeddings = model.get_input_embeddings()
    vocab = getattr(embeddings, "num_embeddings", None)
    device = embeddings.weight.device if hasattr(embeddings, "weight") else None
    runner = getattr(model, "base_model", model)  # no LM head: its logits are not needed
    accepted = set(inspect.signature(runner.forward).parameters)
    source = encode(tokenizer, texts, vocab_size=vocab, accepted=accepted)
    pad = _pad_id(tokenizer, model)
    inputs = source.tensors(pad, device)
    src_axis = _axis(source, inputs["attention_mask"])
    components: dict[str, Any]
    if encoder_decoder and target is not None:
        tgt = encode(
            tokenizer,
            _targets(target, len(texts)),
            vocab_size=vocab,
            accepted=accepted,
            target=True,
            prefix_id=_decoder_start(model),
            what="target",
        )
        t_inputs = tgt.tensors(pad, device)
        tgt_axis = _axis(tgt, t_inputs["attention_mask"])
        inputs["decoder_input_ids"] = t_inputs["input_ids"]
        inputs["decoder_attention_mask"] = t_inputs["attention_mask"]
        components = {
            "encoder": Component(src_axis, src_axis),
            "decoder": Component(tgt_axis, tgt_axis),
            "cross": Component(tgt_axis, src_axis, cross=True),
        }
    elif encoder_decoder:
        runner = model.get_encoder()
        accepted = set(inspect.signature(runner.forward).parameters)
        components = {"encoder": Component(src_axis, src_axis)}
    else:
        components = {SINGLE: Component(src_axis, src_axis)}
    inputs = {k: v for k, v in inputs.items() if k in accepted}
    options = {"use_cache": False} if "use_cache" in accepted else {}

    def run(**extra: Any) -> Any:
        return runner(**inputs, **options, **extra)

    component_of = _component_of(model, encoder_decoder)
    for name, count in _expected_layers(model, component_of).items():
        if name in components:
            components[name].expected_layers = count
    recorder = Recorder(components, component_of, dtype=storage, lazy=lazy)
    with torch.no_grad():
        with capturing(model, recorder) as switched:
            if switched:
                run()
        if recorder.empty:
            if lazy:
                raise ValueError(
                    f"lazy=True: {type(model).__name__} does not use transformers' attention "
                    "interface, so its queries and keys cannot be captured; use lazy=False"
                )
            only = next(iter(components)) if len(components) == 1 else SINGLE
            for returned, layers in eager_attentions(model, run).items():
                for layer in layers:
                    recorder.add_weights(returned or only, layer)
    if recorder.empty:
        raise ValueError(
            f"model: {type(model).__name__} exposes no attention (no layer called transformers' "
            "attention interface and output_attentions=True returned none)"
        )
    meta = {
        "model": _model_name(model),
        "text": texts[0] if isinstance(text, str) else texts,
        "source": "transformers",
    }
    if target is not None:
        meta["target"] = target if isinstance(target, str) else list(target)
    result = recorder.result(meta)
    if not encoder_decoder:
        return result[SINGLE]
    return result
