"""One call for every model a user has: pick the extraction path from the model itself.

* a TransformerLens model (3.x ``HookedTransformer``, 4.x ``TransformerBridge``):
  its own tokenizer and ``to_str_tokens``, read through ``run_with_cache``;
* an nnsight ``LanguageModel``: the transformers model it wraps and its
  tokenizer, extracted like any transformers model (the capture function
  recomputes the weights from the attention call's inputs);
* anything else: :func:`~attn_widget.extract.hf.extract_attention`.

For the first two the tokenizer may be left out: ``attention_of(model, text)``.
Libraries are recognised by their classes' module names, never imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .hf import Extracted, extract_attention
from .lens import is_transformer_lens, lens_attention

__all__ = ["attention_of", "model_kind"]


def model_kind(model: Any) -> str:
    """``"transformer_lens"``, ``"nnsight"`` or ``"transformers"``."""
    if is_transformer_lens(model):
        return "transformer_lens"
    if type(model).__module__.split(".")[0] == "nnsight":
        return "nnsight"
    return "transformers"


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, Sequence) and bool(value) and all(isinstance(v, str) for v in value)


def _text_and_tokenizer(model: Any, tokenizer: Any, text: Any) -> tuple[Any, Any]:
    """``(tokenizer, text)`` where the text may have come in the tokenizer's place."""
    if text is None and _is_text(tokenizer):
        return getattr(model, "tokenizer", None), tokenizer
    return tokenizer if tokenizer is not None else getattr(model, "tokenizer", None), text


def _unwrapped_nnsight(model: Any) -> Any:
    """The transformers model inside an nnsight wrapper, with its weights loaded."""
    if not getattr(model, "dispatched", True) and hasattr(model, "dispatch"):
        model.dispatch()  # a wrapper built from a path holds a meta model until then
    inner = getattr(model, "_module", None)
    if inner is None:
        raise TypeError(
            f"model: {type(model).__name__} is an nnsight model without the transformers "
            "model it wraps (._module)"
        )
    return inner


def attention_of(
    model: Any,
    tokenizer: Any = None,
    text: str | Sequence[str] | None = None,
    *,
    target: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
    **options: Any,
) -> Extracted | dict[str, Extracted]:
    """The attention of ``model`` on ``text``, whichever library the model comes from.

    ``options`` go to :func:`~attn_widget.extract.hf.extract_attention`
    (``model_inputs``).
    """
    kind = model_kind(model)
    if kind == "transformer_lens":
        tokenizer, text = _text_and_tokenizer(model, tokenizer, text)
        if text is None:
            raise TypeError("text: expected the text to run, as from_model(model, text)")
        if target is not None or options:
            raise ValueError(
                f"target, {', '.join(options) or 'options'}: a TransformerLens model takes only "
                "text, dtype and lazy"
            )
        return lens_attention(model, text, dtype=dtype, lazy=lazy)
    if kind == "nnsight":
        tokenizer, text = _text_and_tokenizer(model, tokenizer, text)
        model = _unwrapped_nnsight(model)
    if text is None:
        raise TypeError("text: expected the text to run, as from_model(model, tokenizer, text)")
    return extract_attention(
        model, tokenizer, text, target=target, dtype=dtype, lazy=lazy, **options
    )
