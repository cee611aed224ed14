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

import contextlib
import dataclasses
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import AttentionData
from ..lazy import LazyAttention

if TYPE_CHECKING:
    from .record import Axis, Recorder
from .banded import banded_modules, full_from_banded
from .checks import Expected, expected_causal
from .eager import eager_attentions
from .inputs import Encoded, as_texts, encode
from .interface import capturing, hooks_left_as_found
from .structure import (
    SINGLE,
    position_limit,
)
from .structure import component_of as _component_of
from .structure import decoder_start as _decoder_start
from .structure import expected_layers as _expected_layers
from .structure import model_name as _model_name
from .structure import pad_id as _pad_id

__all__ = ["extract_attention"]

Extracted = AttentionData | LazyAttention


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
    model_inputs: Mapping[str, Sequence[Sequence[int]]] | None = None,
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
    model_inputs:
        Other per-token inputs of the model, one list per text as long as its
        tokens (padding is added here), e.g. Longformer's
        ``global_attention_mask``.

    The weights are ``softmax(Q Kᵀ · scaling + mask)`` as the layer computed
    them, before attention dropout: a model in train mode runs with its
    dropout (so runs differ), but each row still sums to 1. Models outside
    transformers' attention interface give the weights their own
    ``output_attentions`` returns, which in train mode are after dropout
    (rows then do not sum to 1, and are not checked for it). Every weight is
    checked against the model's mask (:mod:`attn_widget.extract.checks`):
    a violation is a ValueError, never a picture.

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
    if device is not None and device.type == "meta":
        device = torch.device("cpu")  # offloaded by accelerate: its hooks move the inputs
    runner = getattr(model, "base_model", model)  # no LM head: its logits are not needed
    accepted = set(inspect.signature(type(runner).forward).parameters)
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
        accepted = set(inspect.signature(type(runner).forward).parameters)
        components = {"encoder": Component(src_axis, src_axis)}
    else:
        components = {SINGLE: Component(src_axis, src_axis)}
    if model_inputs:
        inputs.update(_padded_inputs(model_inputs, source, device))
    inputs = {k: v for k, v in inputs.items() if k in accepted}
    options = {"use_cache": False} if "use_cache" in accepted else {}

    def run(**extra: Any) -> Any:
        return runner(**inputs, **options, **extra)

    component_of = _component_of(model, encoder_decoder)
    for name, count in _expected_layers(model, component_of).items():
        if name in components:
            components[name].expected_layers = count
    owner = type(model).__name__
    recorder = Recorder(
        components,
        component_of,
        dtype=storage,
        lazy=lazy,
        expected={name: Expected(name, expected_causal(model, name)) for name in components},
        owner=owner,
        lazy_to_cpu=bool(getattr(model, "hf_device_map", None)),
    )
    longest = max(
        inputs["input_ids"].shape[-1],
        inputs.get("decoder_input_ids", inputs["input_ids"]).shape[-1],
    )
    with torch.no_grad(), _position_errors(model, longest), hooks_left_as_found(model):
        with capturing(model, recorder) as switched:
            if switched:
                run()
        if recorder.empty:
            if lazy:
                from .module_hooks import lazy_outside_interface

                lazy_outside_interface(model, recorder, run)
            else:
                _eager_fallback(model, run, recorder, inputs)
    if recorder.empty:
        raise ValueError(
            f"model: {owner} exposes no attention (no layer called transformers' "
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


def _padded_inputs(
    model_inputs: Mapping[str, Sequence[Sequence[int]]], source: Encoded, device: Any
) -> dict[str, Any]:
    """``model_inputs`` as ``(cases, longest)`` tensors, padded with 0 after each case."""
    import torch

    out: dict[str, Any] = {}
    longest = max(source.lengths)
    for name, rows in model_inputs.items():
        rows = [list(r) for r in rows]
        if len(rows) != len(source.ids):
            raise ValueError(
                f"model_inputs[{name!r}]: expected one list per text ({len(source.ids)}), "
                f"got {len(rows)}"
            )
        tensor = torch.zeros((len(rows), longest), dtype=torch.long)
        for c, row in enumerate(rows):
            if len(row) != source.lengths[c]:
                raise ValueError(
                    f"model_inputs[{name!r}][{c}]: expected {source.lengths[c]} values (one "
                    f"per token of text {c}), got {len(row)}"
                )
            tensor[c, : len(row)] = torch.tensor([int(v) for v in row], dtype=torch.long)
        out[name] = tensor.to(device)
    return out


@contextlib.contextmanager
def _position_errors(model: Any, longest: int) -> Iterator[None]:
    """A text longer than the model's learned positions: a ValueError naming both numbers."""
    limit = position_limit(model)
    owner = type(model).__name__

    def message(extra: str = "") -> str:
        assert limit is not None
        return (
            f"text: {longest} tokens is more than {owner} can take: its learned position "
            f"embeddings hold {limit[0]} positions (config.{limit[1]}){extra}; shorten the text"
        )

    if limit is not None and longest > limit[0]:
        raise ValueError(message())
    try:
        yield
    except (IndexError, RuntimeError) as error:
        out_of_range = isinstance(error, IndexError) or "out of bounds" in str(error)
        if limit is None or longest < limit[0] - 4 or not out_of_range:
            raise
        # RoBERTa-style models start positions after the padding index.
        raise ValueError(message(", some of them reserved (padding offset)")) from error


def _eager_fallback(model: Any, run: Any, recorder: Recorder, inputs: Mapping[str, Any]) -> None:
    """Weights from the model's own ``output_attentions`` (eager), banded ones made full."""
    import torch

    found, outputs = eager_attentions(model, run)
    if model.training:
        # Those weights are after attention dropout: rows need not sum to 1.
        for name, expected in list(recorder.expected.items()):
            recorder.expected[name] = dataclasses.replace(
                expected, rows_sum_to_one=False, origin="after attention dropout, train mode"
            )
    names = list(recorder.components)
    only = names[0] if len(names) == 1 else SINGLE
    banded = banded_modules(model)
    mask = inputs.get("global_attention_mask")
    for field, layers in found.items():
        name = field or only
        if banded and name in (SINGLE, "encoder"):
            glob = getattr(outputs, "global_attentions", None) or getattr(
                outputs, "encoder_global_attentions", None
            )
            cases = layers[0].shape[0]
            positions = (
                [torch.nonzero(row).flatten().tolist() for row in mask.cpu()]
                if mask is not None
                else [[] for _ in range(cases)]
            )
            layers = tuple(
                full_from_banded(
                    local,
                    glob[i] if glob else None,
                    banded[i].one_sided_attn_window_size,
                    positions,
                )
                for i, local in enumerate(layers)
            )
        for layer in layers:
            recorder.add_weights(name, layer)
