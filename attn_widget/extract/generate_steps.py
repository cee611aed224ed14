"""What a generation holds, and each step's attention recorded as rows as the model writes.

:class:`Generation` is the run a :class:`~attn_widget.generation.GenerationWidget`
shows (tokens, steps with their choices, done, stopped, error); the
:class:`StepRecorder` is the attention function every layer calls during
``model.generate`` (see :mod:`.generate`): it computes each call's new rows
exactly and writes them into the growing arrays, checked as they come.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..growing import GrowingAttention
from ..growing_lazy import GrowingLazyAttention
from .checks import Expected, check_weights

__all__ = ["Generation", "StepRecorder"]


@dataclass
class Generation:
    """One generation as it runs: the attention, the tokens, the choices at every step."""

    components: dict[str, Any]  # GrowingAttention while it runs; any source once saved and read
    prompt_ids: list[int]
    ids: list[int]  # the decoder's sequence: prompt + generated (decoder start + generated)
    raw: list[str]
    tokens: list[str]
    source_tokens: list[str] | None = None  # encoder–decoder: the source's display tokens
    steps: list[dict[str, Any]] = field(default_factory=list)  # chosen token and top-k per step
    done: threading.Event = field(default_factory=threading.Event)
    stopped: bool = False
    error: BaseException | None = None
    decode: Callable[[list[int]], str] | None = None

    def record(self) -> dict[str, Any]:
        """What a file keeps of the generation besides its weights (JSON)."""
        return {
            "prompt_ids": self.prompt_ids,
            "ids": self.ids,
            "raw": self.raw,
            "tokens": self.tokens,
            "source_tokens": self.source_tokens,
            "steps": self.steps,
            "stopped": self.stopped,
            "text": self.text,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], components: Mapping[str, Any]) -> Generation:
        """A finished generation back from :meth:`record` and the components read from a file."""
        try:
            run = cls(
                components=dict(components),
                prompt_ids=[int(i) for i in record["prompt_ids"]],
                ids=[int(i) for i in record["ids"]],
                raw=[str(t) for t in record["raw"]],
                tokens=[str(t) for t in record["tokens"]],
                source_tokens=record.get("source_tokens"),
                steps=list(record["steps"]),
                stopped=bool(record.get("stopped", False)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"generation: a damaged record in the file ({error!r})") from error
        saved_text = record.get("text")
        run.decode = lambda _ids: (
            str(saved_text) if saved_text is not None else " ".join(run.tokens[run.prompt_length :])
        )
        if len(run.steps) != len(run.ids) - len(run.prompt_ids):
            raise ValueError(
                f"generation: {len(run.steps)} steps for {len(run.ids) - len(run.prompt_ids)} "
                "generated tokens"
            )
        run.done.set()
        return run

    @property
    def prompt_length(self) -> int:
        """Positions before the first generated token (the decoder start for encoder–decoders)."""
        return len(self.prompt_ids)

    @property
    def generated(self) -> list[int]:
        return self.ids[self.prompt_length :]

    @property
    def text(self) -> str:
        """The generated text (without the prompt)."""
        ids = self.generated
        return self.decode(ids) if self.decode else " ".join(self.tokens[self.prompt_length :])

    def row_of(self, step: int) -> int:
        """The query row of step ``step`` (1-based): the position before its token."""
        if not 1 <= step <= len(self.steps):
            raise ValueError(f"step: expected 1..{len(self.steps)}, got {step}")
        return self.prompt_length + step - 2


class StepRecorder:
    """Each layer's attention call of every step, written into the growing arrays as rows."""

    def __init__(
        self,
        parts: Mapping[str, GrowingAttention | GrowingLazyAttention],
        component_of: Callable[[Any], str],
    ) -> None:
        self.parts = dict(parts)
        self.component_of = component_of
        self.layer_ids: dict[str, dict[int, int]] = {}
        self.filled = {name: [0] * part.n_layers for name, part in self.parts.items()}
        self.calls = 0
        # Components run again without being recorded (the encoder for the last row).
        self.skip: set[str] = set()

    def attend(
        self, module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any
    ) -> Any:
        import torch
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        from .weights import attention_weights, blocked_of, scaling_of

        self.calls += 1
        name = self.component_of(module)
        if name in self.skip:
            return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        part = self.parts.get(name)
        if part is None:
            raise ValueError(
                f"{type(module).__name__} was called as {name!r} attention, but this generation "
                f"has {list(self.parts)}"
            )
        ids = self.layer_ids.setdefault(name, {})
        layer = ids.setdefault(id(module), len(ids))
        cases, heads, q_len, _ = query.shape
        k_len = key.shape[2]
        if cases != 1 or layer >= part.n_layers or heads != part.n_heads:
            raise ValueError(
                f"{name} layer {layer}: {cases} case(s) of {heads} heads; this generation records "
                f"one case of {part.n_heads} heads in {part.n_layers} layers"
            )
        start = self.filled[name][layer]
        if isinstance(part, GrowingLazyAttention):
            return self._keep_lazy(module, part, name, layer, start, query, key, value,
                                   attention_mask, kwargs)  # fmt: skip
        # A cache hands over its latest k_len keys: the last is this step's own
        # position (a sliding-window cache keeps only the window).
        key_start = 0 if part.is_cross else start + q_len - k_len
        if key_start < 0 or start + q_len > part.weights.shape[2]:
            raise ValueError(
                f"{name} layer {layer}: {q_len} row(s) over {k_len} keys after {start} rows do "
                "not fit the generation's positions"
            )
        group = heads // key.shape[1]
        keys = key.repeat_interleave(group, dim=1) if group > 1 else key
        is_causal = kwargs.get("is_causal")
        if is_causal is None:
            is_causal = getattr(module, "is_causal", True)
        causal = bool(is_causal) and attention_mask is None and q_len > 1 and not part.is_cross
        blocked, additive = blocked_of(attention_mask)
        if causal:
            blocked = torch.ones(q_len, k_len, dtype=torch.bool, device=query.device).triu_(
                1 + k_len - q_len
            )
        softcap, sinks = kwargs.get("softcap"), kwargs.get("s_aux")
        with torch.no_grad():
            weights = attention_weights(
                query,
                keys,
                scaling=scaling_of(query, kwargs),
                blocked=blocked,
                additive=additive,
                position_bias=kwargs.get("position_bias"),
                softcap=softcap,
                sinks=sinks,
            )
        rows = weights[0].to(torch.float32).cpu().numpy()
        # The one weight check of extraction (row sums, nothing after the diagonal).
        expected = Expected(
            name, causal=part.causal, sinks=sinks is not None, origin="the model's call"
        )
        check_weights(weights[0], expected, layer=layer, case=0, q=q_len)
        part.write(layer, slice(start, start + q_len), slice(key_start, key_start + k_len), rows)
        self.filled[name][layer] = start + q_len
        if softcap is None and sinks is None:
            return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        # sdpa can neither soft-cap nor take sinks: the output from the same weights.
        values = value.repeat_interleave(group, dim=1) if group > 1 else value
        return torch.matmul(weights.to(values.dtype), values).transpose(1, 2).contiguous(), None


    def _keep_lazy(
        self,
        module: Any,
        part: GrowingLazyAttention,
        name: str,
        layer: int,
        start: int,
        query: Any,
        key: Any,
        value: Any,
        attention_mask: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        """``lazy=True``: keep the call's queries and keys (checked), answer as the model would."""
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        from .generate_lazy import record_lazy_step
        from .weights import eager_output, scaling_of

        q_len = query.shape[2]
        if start + q_len > part.capacity or key.shape[2] > start + q_len:
            raise ValueError(
                f"{name} layer {layer}: {q_len} row(s) over {key.shape[2]} keys after {start} "
                "rows do not fit the generation's positions"
            )
        record_lazy_step(
            part, owner=type(module).__name__, name=name, layer=layer, start=start,
            query=query, key=key, mask=attention_mask, kwargs=kwargs,
        )  # fmt: skip
        self.filled[name][layer] = start + q_len
        if kwargs.get("softcap") is None and kwargs.get("s_aux") is None:
            return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        causal = attention_mask is None and q_len > 1
        return eager_output(
            query, key, value, attention_mask, causal, scaling_of(query, kwargs), kwargs
        )
