"""``capture_attention``: per-head weights of every ``nn.MultiheadAttention`` in a module.

``TransformerEncoderLayer`` and ``TransformerDecoderLayer`` call their
attention with ``need_weights=False``, and in ``eval()`` under ``no_grad()``
PyTorch's fast path skips the attention module altogether. Inside the context
the fast path is off and a forward pre-hook asks each attention module for its
per-head weights; a forward hook records them and hands the caller what it
asked for (no weights, or head-averaged ones). On exit the hooks are removed
and the fast-path setting is put back.

Weights are what ``nn.MultiheadAttention`` computes: in train mode with
dropout they are taken after dropout (rows then do not sum to 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import AttentionData

__all__ = ["CapturedAttention", "capture_attention"]

# nn.MultiheadAttention.forward(query, key, value, key_padding_mask, need_weights,
# attn_mask, average_attn_weights, is_causal): positions of the arguments we change.
_NEED_WEIGHTS, _AVERAGE = 4, 6


@dataclass
class CapturedAttention:
    """What :func:`capture_attention` recorded.

    ``runs[i]`` holds the i-th forward pass of the captured module: component
    name -> one ``(cases, heads, q, k)`` float32 array per attention call, in
    call order (layer order). Components: ``"encoder"`` (encoder layers'
    self-attention), ``"decoder"`` (decoder layers' self-attention),
    ``"cross"`` (decoder layers' attention to the encoder output) and
    ``"attention"`` (any other ``nn.MultiheadAttention``).
    """

    runs: list[dict[str, list[np.ndarray]]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # module path of every recorded call

    def __len__(self) -> int:
        return sum(len(layers) for run in self.runs for layers in run.values())

    def components(self, run: int = -1) -> dict[str, list[np.ndarray]]:
        """Component -> per-layer weights of one forward pass (the last by default)."""
        if not self.runs:
            raise ValueError(
                "capture_attention recorded nothing: expected the module to be called inside "
                "the with-block, with at least one nn.MultiheadAttention in it"
            )
        if not -len(self.runs) <= run < len(self.runs):
            raise ValueError(f"run: expected 0..{len(self.runs) - 1}, got {run}")
        return {name: list(layers) for name, layers in self.runs[run].items()}

    def to_data(
        self,
        tokens: Any = None,
        *,
        target_tokens: Any = None,
        component: str | None = None,
        run: int = -1,
        padding_side: str = "right",
        dtype: Any = np.float32,
    ) -> AttentionData:
        """One component as :class:`~attn_widget.data.AttentionData`.

        ``component`` may be left out when there is only one. ``tokens``
        label the key axis (the source for ``"cross"``) and ``target_tokens``
        the query axis of cross-attention.
        """
        parts = self.components(run)
        if component is None:
            if len(parts) != 1:
                raise ValueError(f"component: expected one of {list(parts)}, got None")
            component = next(iter(parts))
        if component not in parts:
            raise ValueError(f"component: expected one of {list(parts)}, got {component!r}")
        return AttentionData(
            parts[component],
            tokens,
            target_tokens=target_tokens,
            padding_side=padding_side,
            dtype=dtype,
            meta={"source": "torch.nn", "component": component},
        )

    def to_components(
        self, tokens: Any = None, target_tokens: Any = None, *, run: int = -1, **kwargs: Any
    ) -> dict[str, AttentionData]:
        """Every component: encoder on ``tokens``, decoder on ``target_tokens``, cross on both."""
        out: dict[str, AttentionData] = {}
        for name in self.components(run):
            if name == "decoder":
                out[name] = self.to_data(target_tokens, component=name, run=run, **kwargs)
            elif name == "cross":
                out[name] = self.to_data(
                    tokens, target_tokens=target_tokens, component=name, run=run, **kwargs
                )
            else:
                out[name] = self.to_data(tokens, component=name, run=run, **kwargs)
        return out


def _components(module: Any) -> dict[int, tuple[str, str]]:
    """id(attention module) -> (component, path) for every nn.MultiheadAttention inside."""
    import torch.nn as nn

    out: dict[int, tuple[str, str]] = {}
    parents = dict(module.named_modules())
    for path, child in module.named_modules():
        if not isinstance(child, nn.MultiheadAttention):
            continue
        parent_path, _, attr = path.rpartition(".")
        parent = parents.get(parent_path) if path else None
        if isinstance(parent, nn.TransformerDecoderLayer):
            name = "cross" if attr == "multihead_attn" else "decoder"
        elif isinstance(parent, nn.TransformerEncoderLayer):
            name = "encoder"
        else:
            name = "attention"
        out[id(child)] = (name, path or type(child).__name__)
    return out


def _ask_for_weights(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any], tuple[bool, bool]]:
    """The call with per-head weights requested, and what the caller had asked for."""
    changed = list(args)
    asked = []
    for position, name, default in (
        (_NEED_WEIGHTS, "need_weights", True),
        (_AVERAGE, "average_attn_weights", True),
    ):
        if len(changed) > position:
            asked.append(bool(changed[position]))
            changed[position] = name == "need_weights"
        else:
            asked.append(bool(kwargs.get(name, default)))
            kwargs[name] = name == "need_weights"
    return tuple(changed), kwargs, (asked[0], asked[1])


@contextlib.contextmanager
def capture_attention(module: Any) -> Iterator[CapturedAttention]:
    """Record the per-head attention weights of every ``nn.MultiheadAttention`` in ``module``.

    >>> with capture_attention(model) as captured:
    ...     model(src, tgt)
    >>> data = captured.to_components(src_tokens, tgt_tokens)
    >>> w = attn_widget.AttentionWidget(data)      # every component in one widget

    Works in ``eval()`` under ``torch.no_grad()`` (the fast path is turned off
    inside the block and restored after). Weights are float32 arrays
    ``(cases, heads, q, k)`` on the CPU; unbatched inputs give one case.
    """
    import torch
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    found = _components(module)
    if not found:
        raise ValueError(
            f"module: {type(module).__name__} contains no nn.MultiheadAttention; "
            "for transformers models use attn_widget.from_model or extract_attention"
        )
    captured = CapturedAttention()
    pending: dict[int, list[tuple[bool, bool]]] = {}

    def start_run(_module: Any, _args: Any) -> None:
        captured.runs.append({})

    def before(child: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args, kwargs, asked = _ask_for_weights(args, dict(kwargs))
        pending.setdefault(id(child), []).append(asked)
        return args, kwargs

    def after(child: Any, _args: Any, _kwargs: Any, output: Any) -> Any:
        need, average = pending[id(child)].pop()
        out, weights = output
        name, path = found[id(child)]
        if not captured.runs:
            captured.runs.append({})  # the attention module itself was called directly
        per_head = weights.detach().float()
        if per_head.ndim == 3:  # unbatched input: (heads, q, k)
            per_head = per_head[None]
        captured.runs[-1].setdefault(name, []).append(per_head.cpu().numpy())
        captured.names.append(path)
        if not need:
            return out, None
        return out, weights.mean(dim=-3) if average else weights

    handles = []
    fast_path = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        if not isinstance(module, nn.MultiheadAttention):
            handles.append(module.register_forward_pre_hook(start_run))
        for child in module.modules():
            if id(child) in found:
                handles.append(child.register_forward_pre_hook(before, with_kwargs=True))
                handles.append(child.register_forward_hook(after, with_kwargs=True))
        yield captured
    finally:
        for handle in handles:
            handle.remove()
        torch.backends.mha.set_fastpath_enabled(fast_path)
