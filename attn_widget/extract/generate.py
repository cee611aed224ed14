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
from typing import Any

import numpy as np

from ..growing import GrowingAttention
from ..growing_lazy import GrowingLazyAttention
from .generate_steps import Generation, StepRecorder
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


def _raw_tokens(tokenizer: Any, ids: list[int]) -> list[str]:
    """The tokenizer's tokens of ``ids``; ``<id N>`` for an id it has no token for.

    A model's embedding may be larger than its tokenizer's vocabulary (padded
    for speed), and the tokenizer gives None for those ids: never None in the view.
    """
    raw = tokenizer.convert_ids_to_tokens(list(ids))
    return [f"<id {i}>" if t is None else str(t) for i, t in zip(ids, raw, strict=True)]


def _top_k(logits: Any, k: int, tokenizer: Any) -> list[dict[str, Any]]:
    """The k most probable next tokens of raw logits (softmax in float64), most probable first."""
    values = logits.detach().double().cpu().numpy().reshape(-1)
    values = np.exp(values - values.max())
    probabilities = values / values.sum()
    # The k largest without sorting the whole vocabulary (a tenth of a step's
    # time at 50,257 tokens), then those k in order, ties by id as a stable sort.
    k = min(k, probabilities.size)
    top = np.argpartition(-probabilities, k - 1)[:k]
    cut = probabilities[top].min()
    top = np.flatnonzero(probabilities >= cut)  # every id tied at the cut, as argsort sees them
    order = top[np.argsort(-probabilities[top], kind="stable")][:k]
    return [
        {
            "id": int(i),
            "token": _raw_tokens(tokenizer, [int(i)])[0],
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

    if lazy is not None and not isinstance(lazy, bool):
        raise ValueError(f"lazy: expected True, False or None (decide by size), got {lazy!r}")
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
    scheme = token_scheme(tokenizer, _raw_tokens(tokenizer, ids))

    def shown(raw_ids: list[int]) -> tuple[list[str], list[str]]:
        raw = _raw_tokens(tokenizer, raw_ids)
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
            # One token's text at a time: each token is shown on its own, so the
            # sequence's labels need not be made again at every step.
            raw, shown_token = shown([token])
            run.raw, run.tokens = [*run.raw, *raw], [*run.tokens, *shown_token]
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
            if lazy:
                from .generate_lazy import check_pending  # torch: not at package import

                for part in parts.values():
                    if isinstance(part, GrowingLazyAttention):
                        check_pending(part)  # each layer's last call, if not compared yet
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

    # transformers 5 names it `cache` (reading `past_key_values` warns); 4.x `past_key_values`.
    cache = getattr(out, "cache", None)
    if cache is None and "past_key_values" in getattr(out, "keys", tuple)():
        cache = out["past_key_values"]
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
