"""The capture point: an attention function registered with transformers.

transformers' models call ``ALL_ATTENTION_FUNCTIONS[config._attn_implementation]``
once per layer with the layer's queries and keys (after rotary embeddings).
We register :func:`_capture_forward` under :data:`NAME`, switch the model to
it for one forward pass and switch every config back afterwards. The function
hands the layer to the active :class:`~attn_widget.extract.record.Recorder`,
which records the weights and returns the output of transformers' own sdpa
function, so the forward pass keeps its fast kernel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["NAME", "capturing", "configs_of", "hooks_left_as_found", "restored"]

# No "sdpa" in the name: transformers runs sdpa-specific checks on names containing it.
NAME = "attn_widget_capture"
_ACTIVE: ContextVar[Any] = ContextVar("attn_widget_recorder", default=None)
_registered = False


def _capture_forward(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any
) -> tuple[Any, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    recorder = _ACTIVE.get()
    if recorder is None:
        # A model left switched (e.g. copied mid-capture) still runs correctly.
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return recorder.attend(module, query, key, value, attention_mask, **kwargs)


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(NAME, _capture_forward)
    # Without a mask function of its own, an unknown implementation gets no
    # padding mask at all; the sdpa masks are what sdpa_attention_forward expects.
    AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    _registered = True


def configs_of(model: Any) -> list[Any]:
    """Every config object of the model: its own, its submodels', their sub-configs."""
    from transformers import PretrainedConfig

    found: dict[int, Any] = {}
    stack = [getattr(m, "config", None) for m in model.modules()]
    while stack:
        config = stack.pop()
        if not isinstance(config, PretrainedConfig) or id(config) in found:
            continue
        found[id(config)] = config
        stack.extend(getattr(config, key, None) for key in getattr(config, "sub_configs", {}))
    return list(found.values())


@contextlib.contextmanager
def restored(model: Any) -> Iterator[None]:
    """Put back every config's attention implementation on the way out, whatever happened."""
    saved = [(c, getattr(c, "_attn_implementation_internal", None)) for c in configs_of(model)]
    try:
        yield
    finally:
        for config, value in saved:
            config._attn_implementation_internal = value


@contextlib.contextmanager
def capturing(model: Any, recorder: Any) -> Iterator[bool]:
    """Run the body with ``model`` switched to the capture function and ``recorder`` active.

    Yields False when the model cannot be switched (it does not use the
    attention interface); the caller then falls back to eager attention.
    """
    _register()
    token = _ACTIVE.set(recorder)
    try:
        with restored(model):
            try:
                model.set_attn_implementation(NAME)
            except (ValueError, ImportError, AttributeError, KeyError):
                yield False
                return
            yield getattr(model.config, "_attn_implementation", None) == NAME
    finally:
        _ACTIVE.reset(token)


_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
)
# transformers installs its output-capturing hooks the first time a model is
# asked for output_attentions and marks the model with this attribute.
_CAPTURING_FLAG = "_output_capturing_hooks_installed"


@contextlib.contextmanager
def hooks_left_as_found(model: Any) -> Iterator[None]:
    """Remove every forward hook added to ``model``'s modules inside the block, whoever added it.

    The fallback's ``output_attentions=True`` makes transformers install its
    output-capturing hooks for good on some models (XGLM); they are taken off
    again, with the attribute that marks them installed, so the model leaves
    with exactly the hooks it came with.
    """
    modules = list(model.modules())
    before = [{name: set(getattr(m, name, {}) or {}) for name in _HOOK_DICTS} for m in modules]
    flags = [(m, m.__dict__.get(_CAPTURING_FLAG, _MISSING)) for m in modules]
    try:
        yield
    finally:
        for module, kept in zip(modules, before, strict=True):
            for name, ids in kept.items():
                hooks = getattr(module, name, None)
                if hooks:
                    for key in [k for k in hooks if k not in ids]:
                        del hooks[key]
        for module, flag in flags:
            if flag is _MISSING:
                module.__dict__.pop(_CAPTURING_FLAG, None)
            else:
                module.__dict__[_CAPTURING_FLAG] = flag


_MISSING = object()
