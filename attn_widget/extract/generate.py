"""Attention while a model writes: every generated token's weights over everything before it.

:func:`generate_attention` runs ``model.generate`` with transformers'
attention interface switched to our capture function (the forward pass keeps
transformers' sdpa kernel), so each layer hands over its queries and keys at
every step: the whole prompt at the first, one new row after that. The
:class:`StepRecorder` computes those rows exactly (``softmax(Q Kᵀ · scaling +
mask)``, with soft-capping, sinks and position biases where a model has them)
and writes them into :class:`~attn_widget.growing.GrowingAttention` arrays.
A hook on the output embeddings keeps each step's raw logits (the top-k
choices), a streamer hears each chosen token, a stopping criterion ends the
run when asked. After the last step one more forward step over the cache
gives the last token its row, so the result is the full causal matrix of
prompt + generated tokens, one row per position.

Step ``t`` (1-based) is the forward pass that wrote generated token ``t``: its
query is the token before it. The model, its attention implementation and
its generation config are left as they were, also when generation raises or
is stopped.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..growing import GrowingAttention
from ..growing_lazy import GrowingLazyAttention
from .hf import _component_of, _decoder_start, _model_name
from .inputs import as_texts
from .interface import capturing
from .tokens import display_tokens, token_scheme

__all__ = ["Generation", "StepRecorder", "check_inputs", "generate_attention"]

DEFAULT_TOP_K = 5
# Weights of a generation above this many bytes are not kept (lazy=None): its
# queries and keys are, and rows are computed when shown. A 12 x 12 model
# with a 1,024-token prompt and 256 new tokens would hold 944 MB of float32.
AUTO_LAZY_BYTES = 256 * 2**20


def _position_biased(config: Any) -> bool:
    """Whether a decoder adds a position bias to its scores (ALiBi): lazy generation cannot."""
    attn = getattr(config, "attn_config", None)
    return bool(
        getattr(config, "alibi", False)
        or getattr(config, "model_type", "") in ("bloom", "mpt")
        or (isinstance(attn, Mapping) and attn.get("alibi"))
        or getattr(attn, "alibi", False)
    )


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
        _check_block(name, layer, rows, causal=part.causal and q_len > 1, sinks=sinks is not None)
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


def check_inputs(model: Any, tokenizer: Any, prompt: Any, max_new_tokens: Any, top_k: Any) -> str:
    """The prompt, once model, tokenizer, prompt and counts are what generation needs."""
    import torch

    if not isinstance(model, torch.nn.Module) or not callable(getattr(model, "generate", None)):
        raise ValueError(
            f"model: expected a transformers model with generate(); got {type(model).__name__}"
        )
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        raise ValueError(f"max_new_tokens: expected an integer >= 1, got {max_new_tokens!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k: expected an integer >= 1, got {top_k!r}")
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise ValueError(
            "tokenizer: expected a transformers tokenizer (callable, with convert_ids_to_tokens); "
            f"got {type(tokenizer).__name__}"
        )
    texts = as_texts(prompt, "prompt")
    if len(texts) != 1:
        raise ValueError(f"prompt: expected one prompt (a string), got {len(texts)}")
    _prompt_ids(model, tokenizer, texts[0])
    return texts[0]


def _prompt_ids(model: Any, tokenizer: Any, prompt: str) -> list[int]:
    ids = [int(i) for i in np.asarray(tokenizer(prompt)["input_ids"]).reshape(-1)]
    if not ids:
        raise ValueError(f"prompt: {prompt!r} tokenizes to no tokens; expected at least one token")
    vocab = getattr(model.get_input_embeddings(), "num_embeddings", None)
    if vocab is not None and max(ids) >= vocab:
        raise ValueError(
            f"tokenizer: does not match the model: token id {max(ids)} of the prompt is beyond "
            f"the model's {vocab} embeddings"
        )
    return ids


def _top_k(logits: Any, k: int, tokenizer: Any) -> list[dict[str, Any]]:
    """The k most probable next tokens of raw logits (softmax in float64), most probable first."""
    values = logits.detach().double().cpu().numpy().reshape(-1)
    values = np.exp(values - values.max())
    probabilities = values / values.sum()
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [
        {
            "id": int(i),
            "token": tokenizer.convert_ids_to_tokens([int(i)])[0],
            "probability": float(probabilities[i]),
            "_p": probabilities,  # for the chosen token's probability; dropped once read
        }
        for i in order
    ]


def generate_attention(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    max_new_tokens: int = 40,
    top_k: int = DEFAULT_TOP_K,
    dtype: Any = np.float32,
    lazy: bool | None = None,
    on_step: Callable[[Generation], None] | None = None,
    stop: threading.Event | None = None,
    started: Callable[[Generation], None] | None = None,
    **generate_kwargs: Any,
) -> Generation:
    """Generate from ``prompt`` and record the attention of every step (see the module docstring).

    ``on_step`` is called after each step (the new token, its row, its
    choices recorded); ``started`` once, with the empty generation, before
    the first step; ``stop.set()`` ends the run at the next step (transformers
    checks its stopping criteria before it hands a step's token to the streamer).
    Any other keyword goes to ``model.generate`` (greedy unless it says
    otherwise; beam search is refused: a streamer cannot follow beams).
    ``lazy=True`` keeps queries and keys instead of weights (long prompts of
    decoder-only models; see :mod:`.generate_lazy`); ``None`` (the default)
    does so when the weights would take more than :data:`AUTO_LAZY_BYTES`
    and the model is decoder-only without a position bias.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList
    from transformers.generation.streamers import BaseStreamer

    prompt = check_inputs(model, tokenizer, prompt, max_new_tokens, top_k)
    if int(generate_kwargs.get("num_beams", 1)) != 1:
        raise ValueError("num_beams: aw.generate follows one sequence; expected 1")
    for taken in ("streamer", "stopping_criteria", "return_dict_in_generate", "output_attentions"):
        if taken in generate_kwargs:
            raise ValueError(f"{taken}: set by aw.generate itself; leave it out")
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    ids = _prompt_ids(model, tokenizer, prompt)
    device = model.get_input_embeddings().weight.device
    config = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    heads = int(getattr(config, "num_attention_heads", 0) or getattr(config, "n_head", 0))
    component_of = _component_of(model, encoder_decoder)
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for module in model.modules():
        if (
            "attention" in type(module).__name__.lower()
            and not any(
                "attention" in type(m).__name__.lower() for m in module.modules() if m is not module
            )
            and id(module) not in seen
        ):
            seen.add(id(module))
            name = component_of(module)
            counts[name] = counts.get(name, 0) + 1
    meta = {"model": _model_name(model), "text": prompt, "source": "transformers", "generate": True}

    def growing(name: str, rows: int, keys: int, **kind: Any) -> GrowingAttention:
        return GrowingAttention(
            counts.get(name, 1), heads, rows, keys, dtype=dtype,
            meta={**meta, "component": name}, **kind,
        )  # fmt: skip

    if lazy is None:
        full = sum(counts.values() or [1]) * heads * (len(ids) + max_new_tokens) ** 2
        lazy = (
            full * np.dtype(dtype).itemsize > AUTO_LAZY_BYTES
            and not encoder_decoder
            and not _position_biased(config)
        )
    if lazy and encoder_decoder:
        raise ValueError(
            f"lazy=True: aw.generate keeps queries and keys for decoder-only models; "
            f"{type(model).__name__} is an encoder-decoder, use lazy=False"
        )
    if lazy:
        rows = len(ids) + max_new_tokens
        parts: dict[str, Any] = {
            "attention": GrowingLazyAttention(
                counts.get("attention", 1),
                heads,
                rows,
                dtype=dtype,
                meta={**meta, "component": "attention", "lazy": True},
            )
        }
        sequence = list(ids)
    elif encoder_decoder:
        start = _decoder_start(model)
        target_rows = max_new_tokens + 1
        parts = {
            "encoder": growing("encoder", len(ids), len(ids), causal=False),
            "decoder": growing("decoder", target_rows, target_rows),
            "cross": growing("cross", target_rows, len(ids), cross=True),
        }
        sequence = [start]
    else:
        rows = len(ids) + max_new_tokens
        parts = {"attention": growing("attention", rows, rows)}
        sequence = list(ids)
    scheme = token_scheme(tokenizer, tokenizer.convert_ids_to_tokens(ids))

    def shown(raw_ids: list[int]) -> tuple[list[str], list[str]]:
        raw = list(tokenizer.convert_ids_to_tokens(raw_ids))
        return raw, display_tokens(raw, tokenizer, scheme)

    raw, tokens = shown(sequence)
    run = Generation(
        components=parts,
        prompt_ids=list(sequence),
        ids=list(sequence),
        raw=raw,
        tokens=tokens,
        source_tokens=shown(ids)[1] if encoder_decoder else None,
        decode=lambda generated: str(tokenizer.decode(generated, skip_special_tokens=True)),
    )
    recorder = StepRecorder(parts, component_of)
    pending: list[Any] = []  # the raw logits of the step under way

    def publish() -> None:
        written = len(run.ids) - 1  # the newest token has no row yet
        if encoder_decoder:
            assert run.source_tokens is not None
            parts["encoder"].publish(run.source_tokens, run.source_tokens)
            parts["decoder"].publish(run.tokens[:written], run.tokens[:written])
            parts["cross"].publish(run.tokens[:written], run.source_tokens)
        else:
            parts["attention"].publish(run.tokens[:written], run.tokens[:written])

    class Streamer(BaseStreamer):
        first = True

        def put(self, value: Any) -> None:
            if self.first:  # the prompt
                self.first = False
                return
            token = int(np.asarray(value.detach().cpu()).reshape(-1)[0])
            top = _top_k(pending[-1], top_k, tokenizer) if pending else []
            chosen = float(top[0]["_p"][token]) if top else float("nan")
            for entry in top:
                entry.pop("_p")
            run.ids.append(token)
            run.raw, run.tokens = shown(run.ids)
            run.steps.append(
                {"id": token, "token": run.tokens[-1], "probability": chosen, "top": top}
            )
            pending.clear()
            publish()
            if on_step is not None:
                on_step(run)

        def end(self) -> None:
            pass

    class Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), bool(stop is not None and stop.is_set()),
                              dtype=torch.bool, device=input_ids.device)  # fmt: skip

    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"model: {type(model).__name__} has no output embeddings (an LM head)")
    hook = head.register_forward_hook(lambda _m, _i, out: pending.append(out[0, -1]))
    inputs = torch.tensor([ids], device=device)
    options: dict[str, Any] = {"do_sample": False, **generate_kwargs}
    options.setdefault("pad_token_id", getattr(tokenizer, "pad_token_id", None) or 0)
    if started is not None:
        started(run)
    try:
        with torch.no_grad(), capturing(model, recorder) as switched:
            if not switched:
                raise ValueError(
                    f"model: {type(model).__name__} does not use transformers' attention "
                    "interface, so aw.generate cannot follow its steps"
                )
            out = model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                max_new_tokens=max_new_tokens,
                streamer=Streamer(),
                stopping_criteria=StoppingCriteriaList([Stop()]),
                return_dict_in_generate=True,
                **options,
            )
            run.stopped = bool(stop is not None and stop.is_set())
            if run.steps:
                _last_row(model, run, out, encoder_decoder, inputs, recorder)
        hook.remove()
        written = len(run.ids)
        if encoder_decoder:
            assert run.source_tokens is not None
            parts["decoder"].publish(run.tokens[:written], run.tokens[:written])
            parts["cross"].publish(run.tokens[:written], run.source_tokens)
        else:
            parts["attention"].publish(run.tokens, run.tokens)
    except BaseException as error:
        run.error = error
        raise
    finally:
        hook.remove()
        for part in parts.values():
            part.finish()
        run.done.set()
    return run


def _last_row(
    model: Any,
    run: Generation,
    out: Any,
    encoder_decoder: bool,
    inputs: Any,
    recorder: StepRecorder,
) -> None:
    """One more forward step over the cache: the last generated token's own row."""
    import torch

    cache = getattr(out, "past_key_values", None)
    last = torch.tensor([[run.ids[-1]]], device=inputs.device)
    accepted = set(inspect.signature(model.forward).parameters)
    cache_name = "cache" if "cache" in accepted else "past_key_values"
    kwargs: dict[str, Any] = {cache_name: cache, "use_cache": True}
    if encoder_decoder:
        recorder.skip.add("encoder")  # its rows are recorded already
        try:
            with torch.no_grad():
                encoded = model.get_encoder()(input_ids=inputs)
        finally:
            recorder.skip.discard("encoder")
        kwargs.update(encoder_outputs=encoded, decoder_input_ids=last)
    else:
        kwargs.update(
            input_ids=last, attention_mask=torch.ones((1, len(run.ids)), device=inputs.device)
        )
    model(**kwargs)


def _check_block(name: str, layer: int, rows: np.ndarray, *, causal: bool, sinks: bool) -> None:
    """Rows sum to 1 (at most 1 beside sinks) and a causal block has nothing above its diagonal.

    Never a silently wrong picture: a mask or a cache read wrongly shows here.
    """
    sums = rows.sum(-1, dtype=np.float64)
    worst = float((sums - 1).max()) if sinks else float(np.abs(sums - 1).max())
    if worst > 1e-3:
        raise ValueError(
            f"{name} layer {layer}: a row of the recorded step sums to {1 + worst:.4f}, not 1"
        )
    if causal:
        q, k = rows.shape[-2:]
        above = float(np.triu(rows, 1 + k - q).max(initial=0.0))
        if above > 0:
            raise ValueError(
                f"{name} layer {layer}: weight {above:.3g} above the diagonal of a causal model"
            )
