"""Recording each layer's attention as the model runs, cropped to every case's tokens.

A :class:`Recorder` is handed each layer's queries and keys (from the
registered attention function) or finished weights (from the eager
fallback). It computes the weights one case and a few heads at a time, keeps
only the case's own rows and columns (the attention mask says which), and
writes them to the case's CPU array in the storage dtype at once, so the
device never holds more than one block of one layer. On the CPU, a case
without padding stored as float32 is computed straight into its array. With
``lazy=True`` it keeps the cropped queries and keys instead, for
:class:`~attn_widget.lazy.LazyAttention` (see :mod:`.lazy_capture`). Every
block of weights passes :func:`~attn_widget.extract.checks.check_weights`
before it is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data import AttentionData
from ..lazy import LazyAttention
from .checks import Expected, check_weights
from .lazy_capture import LazyLayer, keep_layer
from .storage import Cubes
from .weights import (
    attention_weights,
    blocked_of,
    causal_blocked,
    eager_output,
    scaling_of,
    slice_heads,
)

__all__ = ["Axis", "Component", "Recorder"]

# Scores computed per block: 2**23 float32 values (32 MB) bounds the
# temporary memory of one layer whatever the sequence length.
BLOCK_SCORES = 1 << 23
_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16}


@dataclass
class Axis:
    """One side of a component's matrices: which padded positions are each case's tokens."""

    length: int  # padded length the model sees
    keep: list[torch.Tensor | None]  # per case: kept positions (None: all of them)
    tokens: list[list[str]]
    raw: list[list[str]]

    @classmethod
    def from_mask(cls, mask: torch.Tensor, tokens: list[list[str]], raw: list[list[str]]) -> Axis:
        keep: list[torch.Tensor | None] = []
        for row in mask.cpu():
            index = torch.nonzero(row, as_tuple=True)[0]
            keep.append(None if len(index) == len(row) else index)
        return cls(length=mask.shape[1], keep=keep, tokens=tokens, raw=raw)

    def count(self, case: int) -> int:
        index = self.keep[case]
        return self.length if index is None else len(index)


@dataclass
class Component:
    """Query and key axes of one component (encoder, decoder, cross, attention)."""

    queries: Axis
    keys: Axis
    cross: bool = False
    expected_layers: int = 1
    cubes: Cubes | None = None
    # lazy=True: per case, one LazyLayer per layer; bias tables shared among layers.
    lazy_layers: list[list[LazyLayer]] = field(default_factory=list)
    bias_tables: list[dict[str, list[Any]]] = field(default_factory=list)

    @property
    def layers_seen(self) -> int:
        if self.cubes is not None:
            return self.cubes.filled
        return len(self.lazy_layers[0]) if self.lazy_layers else 0

    def next_layer(self, heads: int, dtype: np.dtype) -> list[np.ndarray]:
        if self.cubes is None:
            sides = [
                (self.queries.count(c), self.keys.count(c)) for c in range(len(self.queries.keep))
            ]
            self.cubes = Cubes(sides, dtype, self.expected_layers)
        return self.cubes.next_layer(heads)


def _rows(tensor: torch.Tensor | None, r0: int, r1: int) -> torch.Tensor | None:
    """Query rows ``r0:r1`` of a ``(.., q|1, k)`` mask or bias (a broadcast row stays)."""
    if tensor is None or tensor.shape[-2] == 1:
        return tensor
    return tensor[..., r0:r1, :]


def _kept_rows(rows: torch.Tensor | None, r0: int, r1: int) -> tuple[torch.Tensor | None, int, int]:
    """The case's rows inside block ``r0:r1``: their index in the block and their stored range."""
    if rows is None:
        return None, r0, r1
    bounds = torch.searchsorted(rows, torch.tensor([r0, r1]))
    d0, d1 = int(bounds[0]), int(bounds[1])
    return rows[d0:d1] - r0, d0, d1


def _crop(
    block: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None
) -> torch.Tensor:
    """``block[..., rows, :][..., cols]`` with ``None`` meaning every position (no copy)."""
    if rows is not None:
        block = block.index_select(-2, rows.to(block.device))
    if cols is not None:
        block = block.index_select(-1, cols.to(block.device))
    return block


class Recorder:
    """Collects per-layer attention for each component; see the module docstring.

    Parameters
    ----------
    components:
        Name -> :class:`Component` (the axes of each kind of attention).
    component_of:
        Maps an attention module to the name of its component.
    dtype:
        Storage dtype of the weights (float32 or float16).
    lazy:
        Keep queries and keys instead of weights.
    expected:
        Per component, what its weights must satisfy (causality, row sums).
    owner:
        The model's class name, for messages.
    lazy_to_cpu:
        Move kept queries and keys to the CPU as they come (a model spread
        over devices by accelerate: no device keeps more than a layer).
    """

    def __init__(
        self,
        components: Mapping[str, Component],
        component_of: Any,
        *,
        dtype: np.dtype,
        lazy: bool = False,
        expected: Mapping[str, Expected] | None = None,
        owner: str = "the model",
        lazy_to_cpu: bool = False,
    ) -> None:
        self.components = dict(components)
        self.component_of = component_of
        self.dtype = np.dtype(dtype)
        self.lazy = lazy
        self.expected = dict(expected or {})
        self.owner = owner
        self.lazy_to_cpu = lazy_to_cpu
        self.calls = 0

    def expectation(self, name: str, module: Any = None) -> Expected:
        """What ``name``'s weights must satisfy.

        Causal when the model's structure says so (``checks.expected_causal``)
        or the module says it is (``is_causal``); a module cannot talk a causal
        model out of it, so a wrong flag is caught rather than followed.
        """
        base = self.expected.get(name) or Expected(component=name, causal=False)
        flag = getattr(module, "is_causal", None) if module is not None else None
        if flag is True and not base.causal and not self.components[name].cross:
            return dataclasses.replace(base, causal=True)
        return base

    # ------------------------------------------------------------- recording
    def _component(self, module: Any) -> tuple[str, Component]:
        name = self.component_of(module)
        if name not in self.components:
            raise ValueError(
                f"{type(module).__name__} was called as {name!r} attention, but this run only "
                f"has {list(self.components)} (the model's structure is not one attn_widget knows)"
            )
        return name, self.components[name]

    def _check_shape(self, name: str, part: Component, q: int, k: int, cases: int) -> None:
        expected = (part.queries.length, part.keys.length)
        if (q, k) != expected or cases != len(part.queries.keep):
            raise ValueError(
                f"{name} layer {part.layers_seen}: the model attends over {q} x {k} positions "
                f"in {cases} case(s); expected {expected[0]} x {expected[1]} in "
                f"{len(part.queries.keep)} (tokens from the tokenizer), so the weights cannot "
                "be labelled with tokens"
            )

    def attend(
        self,
        module: Any,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, None]:
        """The registered attention function's body: record, then attend as sdpa does."""
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        self.calls += 1
        name, part = self._component(module)
        cases, heads, q, _ = query.shape
        k = key.shape[2]
        self._check_shape(name, part, q, k, cases)
        is_causal = kwargs.get("is_causal")
        if is_causal is None:
            is_causal = getattr(module, "is_causal", True)
        # As sdpa: the causal pattern stands in for a mask only when there is none.
        causal = bool(is_causal) and attention_mask is None and q > 1
        scaling = scaling_of(query, kwargs)
        softcap, sinks = kwargs.get("softcap"), kwargs.get("s_aux")
        expected = self.expectation(name, module)
        if sinks is not None:
            expected = dataclasses.replace(expected, sinks=True)
        if self.lazy:
            self.keep_lazy(
                name, part, expected, query, key, attention_mask, causal, scaling, kwargs
            )
            if softcap is None and kwargs.get("s_aux") is None:
                return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
            return eager_output(query, key, value, attention_mask, causal, scaling, kwargs)
        # sdpa cannot soft-cap or take sinks: those models get their output from our weights.
        own_output = softcap is not None or sinks is not None
        output = (
            torch.empty(cases, q, heads, value.shape[-1], dtype=value.dtype, device=value.device)
            if own_output
            else None
        )
        slots = part.next_layer(heads, self.dtype)
        layer = part.layers_seen - 1
        group = heads // key.shape[1]
        # Blocks of a few heads, or of rows of one head when a head alone is too big.
        head_step = max(1, BLOCK_SCORES // max(1, q * k))
        row_step = q if q * k <= BLOCK_SCORES else max(1, BLOCK_SCORES // k)
        dropout = float(kwargs.get("dropout") or 0.0)
        triangle = causal_blocked(q, k, query.device) if causal else None
        bias = kwargs.get("position_bias")
        for c in range(cases):
            rows, cols = part.queries.keep[c], part.keys.keep[c]
            # Straight into the case's array: the CPU, float32, nothing to crop.
            direct = (
                query.device.type == "cpu"
                and self.dtype == np.float32
                and rows is None
                and cols is None
            )
            for h0 in range(0, heads, head_step):
                h1 = min(heads, h0 + head_step)
                # Grouped-query attention: query head h reads key head h // group.
                kv = torch.arange(h0, h1, device=key.device) // group
                keys = key[c : c + 1, h0:h1] if group == 1 else key[c : c + 1].index_select(1, kv)
                head_mask = slice_heads(attention_mask, c, h0, h1)
                head_bias = slice_heads(bias, c, h0, h1)
                for r0 in range(0, q, row_step):
                    r1 = min(q, r0 + row_step)
                    blocked, additive = blocked_of(_rows(head_mask, r0, r1))
                    if blocked is None and triangle is not None:
                        blocked = triangle[r0:r1]
                    kept, d0, d1 = _kept_rows(rows, r0, r1)
                    destination = torch.from_numpy(slots[c][h0:h1, d0:d1])
                    weights = attention_weights(
                        query[c : c + 1, h0:h1, r0:r1],
                        keys,
                        scaling=scaling,
                        blocked=blocked,
                        additive=additive,
                        position_bias=_rows(head_bias, r0, r1),
                        softcap=softcap,
                        sinks=None if sinks is None else sinks[h0:h1],
                        out=destination[None] if direct else None,
                    )
                    if output is not None:
                        used = torch.nn.functional.dropout(weights, p=dropout, training=dropout > 0)
                        values = value[c : c + 1].index_select(1, kv)
                        mixed = torch.matmul(used.to(value.dtype), values)
                        output[c : c + 1, r0:r1, h0:h1] = mixed.transpose(1, 2)
                    if d1 <= d0:
                        continue
                    block = weights[0] if direct else _crop(weights[0], kept, cols)
                    check_weights(
                        block,
                        expected,
                        layer=layer,
                        case=c,
                        q=part.queries.count(c),
                        rows=(d0, d1),
                        heads=(h0, h1),
                        source_dtype=query.dtype,
                    )
                    if not direct:
                        self._store(destination, block)
        if output is not None:
            return output, None
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    def _store(self, destination: torch.Tensor, block: torch.Tensor) -> None:
        """Copy a block, cropped to the case's tokens, into its CPU array."""
        if block.device.type != "cpu":
            # Convert on the device first: a float16 copy moves half the bytes.
            block = block.to(_TORCH_DTYPE[self.dtype])
        destination.copy_(block)

    def add_weights(self, name: str, weights: Any) -> None:
        """Record one layer's finished ``(cases, heads, q, k)`` weights (the eager fallback)."""
        part = self.components.get(name)
        if part is None:
            raise ValueError(
                f"the model returned {name!r} attention; expected {list(self.components)}"
            )
        self.calls += 1
        cases, heads, q, k = weights.shape
        self._check_shape(name, part, q, k, cases)
        slots = part.next_layer(heads, self.dtype)
        expected = self.expectation(name)
        for c in range(cases):
            rows, cols = part.queries.keep[c], part.keys.keep[c]
            block = _crop(weights[c].detach(), rows, cols)
            check_weights(
                block,
                expected,
                layer=part.layers_seen - 1,
                case=c,
                source_dtype=weights.dtype,
            )
            self._store(torch.from_numpy(slots[c]), block.float())

    def keep_lazy(
        self,
        name: str,
        part: Component,
        expected: Expected,
        query: torch.Tensor,
        key: torch.Tensor,
        mask: torch.Tensor | None,
        causal: bool,
        scaling: float,
        kwargs: dict[str, Any],
        own_weights: torch.Tensor | None = None,
    ) -> None:
        """Keep one layer's cropped queries, keys and score modifier for every case."""
        cases = query.shape[0]
        if not part.lazy_layers:
            part.lazy_layers = [[] for _ in range(cases)]
            part.bias_tables = [{} for _ in range(cases)]
        kept = keep_layer(
            owner=self.owner,
            expected=expected,
            layer=part.layers_seen,
            query=query,
            key=key,
            mask=mask,
            causal=causal,
            scaling=scaling,
            kwargs=kwargs,
            keep_rows=part.queries.keep,
            keep_cols=part.keys.keep,
            bias_tables=part.bias_tables,
            to_cpu=self.lazy_to_cpu,
            own_weights=own_weights,
        )
        for c, layer in enumerate(kept):
            part.lazy_layers[c].append(layer)

    def keep_hooked(self, module: Any, layer: Any, weights: torch.Tensor) -> None:
        """Keep a layer a module recipe recomputed (:mod:`.module_hooks`); its weights check it."""
        self.calls += 1
        name, part = self._component(module)
        query, key, allowed = layer.query, layer.key, layer.allowed
        if layer.padded:  # the model's own padding past the batch's length
            q_len, k_len = part.queries.length, part.keys.length
            query, key, weights = (
                query[:, :, :q_len],
                key[:, :, :k_len],
                weights[..., :q_len, :k_len],
            )
            allowed = None if allowed is None else allowed[..., :q_len, :k_len]
        cases, _, q, _ = query.shape
        self._check_shape(name, part, q, key.shape[2], cases)
        self.keep_lazy(
            name,
            part,
            self.expectation(name, module),
            query,
            key,
            allowed,
            layer.causal and layer.allowed is None and q > 1,
            layer.scaling,
            {"position_bias": layer.bias, "relative": layer.relative},
            own_weights=weights,
        )

    # ---------------------------------------------------------------- results
    @property
    def empty(self) -> bool:
        return self.calls == 0

    def result(self, meta: Mapping[str, Any]) -> dict[str, AttentionData | LazyAttention]:
        """One AttentionData (or LazyAttention) per component that was called."""
        out: dict[str, AttentionData | LazyAttention] = {}
        for name, part in self.components.items():
            info = {**meta, "component": name}
            targets = part.queries.tokens if part.cross else None
            if part.cross:
                info["raw_query_tokens"] = part.queries.raw
            if self.lazy:
                if not part.lazy_layers:
                    continue
                out[name] = LazyAttention(
                    [[layer.query for layer in case] for case in part.lazy_layers],
                    [[layer.key for layer in case] for case in part.lazy_layers],
                    part.keys.tokens,
                    target_tokens=targets,
                    modifiers=[[layer.modifier for layer in case] for case in part.lazy_layers],
                    meta=info,
                    raw_tokens=part.keys.raw,
                )
                continue
            if part.cubes is None:
                continue
            cases = part.cubes.finish()
            out[name] = AttentionData.from_cases(
                cases,
                part.keys.tokens,
                target_tokens=targets,
                dtype=self.dtype,
                raw_tokens=part.keys.raw,
                meta=info,
            )
        return out
