"""TransformerLens: attention from a 3.x HookedTransformer, a 4.x TransformerBridge, or a cache.

Both versions name each layer's attention weights ``blocks.{L}.attn.hook_pattern``,
``(batch, heads, query, key)`` after the softmax, in an ``ActivationCache``.
A model is run once with ``run_with_cache`` keeping only those hooks, on
tokens from its own ``to_tokens`` (padded on the right, as TransformerLens
pads), and each case keeps its own tokens from ``to_str_tokens``.

A cache without ``hook_pattern`` falls back to ``hook_attn_scores``; in 3.x
those are the scores before the softmax (masked with -inf) and are turned into
weights here, but in 4.3 they equal ``hook_pattern`` already and are used as
they are. The weights pass :func:`~attn_widget.extract.checks.check_weights`
like any others. TransformerLens is imported by no module here: a model or
cache is recognised by its class's module name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data import AttentionData
from .checks import Expected, check_weights
from .inputs import as_texts
from .tokens import display_tokens

__all__ = ["attention_from_cache", "is_transformer_lens", "lens_attention"]

_PATTERN = re.compile(r"^blocks\.(\d+)\.attn\.hook_pattern$")
_SCORES = re.compile(r"^blocks\.(\d+)\.attn\.hook_attn_scores$")


def is_transformer_lens(obj: Any) -> bool:
    """A TransformerLens model or cache (3.x or 4.x), by its class's module."""
    return type(obj).__module__.split(".")[0] == "transformer_lens"


def _layers(cache: Any) -> tuple[list[Any], str]:
    """Per layer, the ``(batch|, heads, q, k)`` weights, and the name of their hook."""
    keys = list(cache.keys())
    for pattern, kind in ((_PATTERN, "hook_pattern"), (_SCORES, "hook_attn_scores")):
        found = {int(m.group(1)): key for key in keys if (m := pattern.match(key))}
        if found:
            if sorted(found) != list(range(len(found))):
                raise ValueError(
                    f"cache: expected {kind} for layers 0..{len(found) - 1}, got layers "
                    f"{sorted(found)}"
                )
            return [cache[found[i]] for i in range(len(found))], kind
    raise ValueError(
        "cache: expected TransformerLens attention keys 'blocks.{L}.attn.hook_pattern' (run "
        "run_with_cache without a names_filter, or with one keeping hook_pattern); got "
        f"{keys[:5]}{' ...' if len(keys) > 5 else ''}"
    )


def _as_weights(layer: Any, kind: str) -> Any:
    import torch

    tensor = torch.as_tensor(layer).detach().float().cpu()
    if kind == "hook_attn_scores":
        # 3.x: scores before the softmax, -inf where masked; 4.3: already the pattern.
        finite = tensor[torch.isfinite(tensor)]
        is_pattern = (
            bool(torch.isfinite(tensor).all())
            and bool(((finite >= 0) & (finite <= 1)).all())
            and bool(torch.allclose(tensor.sum(-1), torch.ones(()), atol=1e-4))
        )
        if not is_pattern:
            tensor = torch.softmax(tensor, dim=-1)
    return tensor if tensor.ndim == 4 else tensor[None]


def _causal(cache: Any, model: Any) -> bool:
    owner = model if model is not None else getattr(cache, "model", None)
    cfg = getattr(owner, "cfg", None)
    return getattr(cfg, "attention_dir", "causal") == "causal" if cfg is not None else False


def attention_from_cache(
    cache: Any,
    tokens: Sequence[str] | Sequence[Sequence[str]] | None,
    *,
    padding_side: str = "right",
    dtype: Any = "float32",
    model: Any = None,
    meta: Mapping[str, Any] | None = None,
) -> AttentionData:
    """The attention of every ``hook_pattern`` layer of a TransformerLens cache.

    ``cache`` is an ``ActivationCache`` (3.x or 4.x) or a plain mapping of hook
    names to tensors (such as a cache's ``cache_dict`` saved and loaded back).
    The batch dimension gives the cases; ``tokens`` is one list (every case) or
    one list per case, shorter lists cropping their case on ``padding_side``.
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side: expected 'right' or 'left', got {padding_side!r}")
    layers, kind = _layers(cache)
    weights = [_as_weights(layer, kind) for layer in layers]
    cases, _, q, k = weights[0].shape
    if tokens is None:
        lists = [[str(i) for i in range(k)]] * cases
    elif all(isinstance(t, str) for t in tokens):
        lists = [list(tokens)] * cases  # type: ignore[arg-type]
    else:
        lists = [list(t) for t in tokens]
    if len(lists) != cases:
        raise ValueError(f"tokens: got {len(lists)} token lists for a cache of {cases} cases")
    expected = Expected("attention", _causal(cache, model), origin=f"TransformerLens {kind}")
    per_case = []
    for c, case_tokens in enumerate(lists):
        n = len(case_tokens)
        if n == 0 or n > min(q, k):
            raise ValueError(f"tokens: case {c} has {n} tokens; the cache's patterns are {q} x {k}")
        cut = slice(q - n, q) if padding_side == "left" else slice(0, n)
        stack = np.stack([w[c, :, cut, cut].numpy() for w in weights])
        for layer, block in enumerate(stack):
            check_weights(block, expected, layer=layer, case=c)
        per_case.append(stack)
    info = {"source": "transformer_lens", "hook": kind, **dict(meta or {})}
    return AttentionData.from_cases(
        per_case,
        [display_tokens(t, scheme="plain") for t in lists],
        dtype=np.dtype(str(dtype).replace("torch.", "")),
        raw_tokens=lists,
        meta=info,
    )


def lens_attention(
    model: Any, text: str | Sequence[str], *, dtype: Any = "float32", lazy: bool = False
) -> AttentionData:
    """Run a TransformerLens model on ``text`` with ``run_with_cache`` and read its patterns."""
    import torch

    if lazy:
        raise ValueError(
            f"lazy=True: {type(model).__name__} is read through TransformerLens's hook_pattern "
            "cache, which holds every weight already; use lazy=False"
        )
    texts = as_texts(text)
    str_tokens = [list(model.to_str_tokens(t)) for t in texts]
    ids = model.to_tokens(texts, padding_side="right")
    with torch.no_grad():
        _, cache = model.run_with_cache(
            ids, names_filter=lambda name: name.endswith("hook_pattern")
        )
    name = getattr(getattr(model, "cfg", None), "model_name", None) or type(model).__name__
    return attention_from_cache(
        cache,
        str_tokens,
        dtype=dtype,
        model=model,
        meta={"model": str(name), "text": texts[0] if isinstance(text, str) else texts},
    )
