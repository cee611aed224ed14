"""aw.generate: every step's weights equal one eager pass over the final sequence, the choices
are a softmax of the logits, stop keeps what came, the model is left as it was."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import (  # noqa: E402
    BartConfig,
    BartForConditionalGeneration,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

import attn_widget as aw  # noqa: E402
from attn_widget.generation import GenerationWidget  # noqa: E402

WORDS = ["<pad>", "<s>", "</s>"] + [f"w{i}" for i in range(60)]
PROMPT = "w1 w2 w3 w4 w5 w6"


def tokenizer() -> Any:
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>")


V = len(WORDS)
DECODERS = {
    "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4,
                                         n_positions=64, bos_token_id=1, eos_token_id=2)),
    "llama-gqa": (LlamaForCausalLM, LlamaConfig(
        vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=1, eos_token_id=2, pad_token_id=0)),
    "mistral-sliding": (MistralForCausalLM, MistralConfig(
        vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=4,
        max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)),
}  # fmt: skip
SEQ2SEQ = {
    "bart": (BartForConditionalGeneration, BartConfig(
        vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=63,
        decoder_start_token_id=2, forced_eos_token_id=None)),
    "t5": (T5ForConditionalGeneration, T5Config(
        vocab_size=V, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, pad_token_id=0,
        eos_token_id=2, decoder_start_token_id=0)),
}  # fmt: skip


def twins(kind: str) -> tuple[Any, Any]:
    """The model (default sdpa) and an eager-built twin with the same weights."""
    cls, config = {**DECODERS, **SEQ2SEQ}[kind]
    torch.manual_seed(0)
    model = cls(copy.deepcopy(config)).eval()
    eager = cls._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    return model, eager


def state_of(model: Any) -> tuple[Any, ...]:
    return (
        model.config._attn_implementation,
        model.training,
        model.generation_config.to_json_string(),
        sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()),
    )


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_every_step_equals_one_eager_pass_over_the_final_sequence(kind: str) -> None:
    model, eager = twins(kind)
    before = state_of(model)
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=6)
    assert state_of(model) == before
    assert w.steps == 6 and len(w.ids) == 6 + 6 and w.step == 6
    with torch.no_grad():
        reference = eager(torch.tensor([w.ids]), output_attentions=True).attentions
    got = w.data.case_values(0)
    np.testing.assert_allclose(got, np.stack([a[0].numpy() for a in reference]), atol=1e-5)
    # Step t is the forward pass that wrote token t: the row of the token before it.
    assert w._meta["generation"]["rows"] == [6 + t - 2 for t in range(1, 7)]


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_lazy_generation_keeps_queries_and_keys_and_equals_the_eager_pass(kind: str) -> None:
    model, eager = twins(kind)
    before = state_of(model)
    # A prompt longer than Mistral's window of 4 (its band shows in the mask and the
    # cache) and than the rows checked per call (the first 12 and the last 6).
    prompt = " ".join(f"w{i}" for i in range(3, 33))
    w = aw.generate(model, tokenizer(), prompt, max_new_tokens=7, lazy=True, dtype="float32")
    assert state_of(model) == before
    assert not w.data.holds_weights and w.data.nbytes() > 0
    with torch.no_grad():
        reference = eager(torch.tensor([w.ids]), output_attentions=True).attentions
    np.testing.assert_allclose(
        w.data.case_values(0), np.stack([a[0].numpy() for a in reference]), atol=1e-5
    )
    # The text picture's row of a step, computed when shown.
    row = w._meta["generation"]["rows"][3]
    np.testing.assert_allclose(w.data.rows(1, 2, 0, row, row + 1)[0], reference[1][0, 2, row],
                               atol=1e-5)  # fmt: skip


def test_by_default_generation_goes_lazy_only_when_the_weights_would_be_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attn_widget.extract import generate as generate_module

    model, _ = twins("gpt2")
    small = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=3)
    assert small.data.holds_weights  # 2 x 4 x 9 x 9 float32: far under the limit
    monkeypatch.setattr(generate_module, "AUTO_LAZY_BYTES", 1024)
    large = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=3)
    assert not large.data.holds_weights
    np.testing.assert_allclose(large.data.case_values(0), small.data.case_values(0), atol=1e-5)
    bart, _ = twins("bart")  # an encoder-decoder keeps its weights whatever their size
    assert aw.generate(bart, tokenizer(), PROMPT, max_new_tokens=2).data.holds_weights


def test_lazy_generation_refuses_what_it_cannot_keep() -> None:
    bart, _ = twins("bart")
    refused = r"lazy=True: .* decoder-only models; BartForConditionalGeneration is an encoder"
    with pytest.raises(ValueError, match=refused):
        aw.generate(bart, tokenizer(), PROMPT, max_new_tokens=2, lazy=True)


@pytest.mark.parametrize("kind", sorted(SEQ2SEQ))
def test_encoder_decoder_steps_equal_the_eager_pass_component_by_component(kind: str) -> None:
    model, eager = twins(kind)
    before = state_of(model)
    w = aw.generate(model, tokenizer(), "w1 w2 w3 w4 w5", max_new_tokens=5, min_new_tokens=5)
    assert state_of(model) == before and w.component == "cross"
    source = tokenizer()("w1 w2 w3 w4 w5")["input_ids"]
    with torch.no_grad():
        out = eager(input_ids=torch.tensor([source]), decoder_input_ids=torch.tensor([w.ids]),
                    output_attentions=True)  # fmt: skip
    for name, field in (("encoder", "encoder_attentions"), ("decoder", "decoder_attentions"),
                        ("cross", "cross_attentions")):  # fmt: skip
        expected = np.stack([a[0].numpy() for a in getattr(out, field)])
        np.testing.assert_allclose(w.components[name].case_values(0), expected, atol=1e-5)


def test_the_choices_are_a_softmax_of_the_logits_at_each_step() -> None:
    model, _ = twins("gpt2")
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=4, top_k=3)
    for step in range(1, 5):
        with torch.no_grad():
            logits = model(torch.tensor([w.ids[: 6 + step - 1]])).logits[0, -1].double()
        p = torch.softmax(logits, -1).numpy()
        choices = w.choices(step)
        assert [c["id"] for c in choices] == list(np.argsort(-p, kind="stable")[:3])
        np.testing.assert_allclose(
            [c["probability"] for c in choices], np.sort(p)[::-1][:3], rtol=1e-5
        )
        assert choices[0]["id"] == w.ids[6 + step - 1]  # greedy wrote the most probable
    assert w.choices(1)[0]["token"] == w.generation.tokens[6]


def test_stop_mid_way_keeps_every_step_produced() -> None:
    model, _ = twins("llama-gqa")

    def slow(ids: Any, scores: Any) -> Any:
        time.sleep(0.05)
        return scores

    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=50, background=True,
                    logits_processor=[slow])  # fmt: skip
    deadline = time.monotonic() + 30
    while w.steps < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.stop()
    w.wait(30)
    n = len(w.ids)
    assert w.generation.stopped and 3 <= w.steps < 50 and not w.generating
    assert w.data.shape(0) == (n, n)  # every position has its row, the last one too
    rows = w.data.case_values(0).sum(-1)
    np.testing.assert_allclose(rows, 1, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"


def test_the_model_is_restored_when_generation_raises() -> None:
    model, _ = twins("gpt2")
    before = state_of(model)

    def broken(ids: Any, scores: Any) -> Any:
        if ids.shape[1] > 7:
            raise RuntimeError("planted failure")
        return scores

    with pytest.raises(RuntimeError, match="planted failure"):
        aw.generate(model, tokenizer(), PROMPT, max_new_tokens=5, logits_processor=[broken])
    assert state_of(model) == before


def test_save_and_load_keep_the_steps_the_choices_and_the_text(tmp_path: Any) -> None:
    model, _ = twins("gpt2")
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=4)
    back = aw.load(aw.save(w, tmp_path / "g.npz"))
    assert isinstance(back, GenerationWidget)  # (traitlets makes a class per instance)
    assert back.ids == w.ids and back.text == w.text and back.steps == 4
    assert back.choices(3) == w.choices(3)
    np.testing.assert_array_equal(back.data.case_values(0), w.data.case_values(0))
    assert back.export_pdf(tmp_path / "step.pdf", kind="text").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, t: aw.generate(m, t, PROMPT, max_new_tokens=0), r"max_new_tokens: expected an integer >= 1, got 0"),  # noqa: E501
        (lambda m, t: aw.generate(object(), t, PROMPT), r"model: expected a transformers model with generate\(\)"),  # noqa: E501
        (lambda m, t: aw.generate(m, t, ""), r"prompt: '' tokenizes to no tokens"),
        (lambda m, t: aw.generate(m, t, [PROMPT, PROMPT]), r"prompt: expected one prompt"),
        (lambda m, t: aw.generate(m, t, PROMPT, num_beams=2), r"num_beams: aw.generate follows one sequence"),  # noqa: E501
        (lambda m, t: aw.generate(m, "tok", PROMPT), r"tokenizer: expected a transformers tokenizer"),  # noqa: E501
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_what_was_expected(call: Any, message: str) -> None:
    model, _ = twins("gpt2")
    with pytest.raises(ValueError, match=message):
        call(model, tokenizer())


def test_a_tokenizer_that_does_not_match_the_model_is_refused() -> None:
    torch.manual_seed(0)
    small = GPT2LMHeadModel(GPT2Config(vocab_size=10, n_embd=16, n_layer=1, n_head=2)).eval()
    with pytest.raises(ValueError, match=r"tokenizer: does not match the model: token id \d+"):
        aw.generate(small, tokenizer(), "w30 w40")


def test_the_step_is_checked_and_follows_the_newest_token() -> None:
    model, _ = twins("gpt2")
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=3)
    assert w.step == 3
    w.step = -1
    assert w.step == 3
    for bad in (0, 4, "2"):
        with pytest.raises(ValueError, match="step: expected"):
            w.step = bad
    with pytest.raises(ValueError, match=r"step: expected 1\.\.3, got 9"):
        w.choices(9)
    sent: list[Any] = []
    w.send = lambda content, buffers=None: sent.append(content)
    w.send_state = lambda keys=None: None
    msg = {"content": {"data": {"method": "update", "state": {"step": 7}, "buffer_paths": []}}}
    w._handle_msg({**msg, "buffers": []})
    assert w.step == 3 and "step: expected 1..3, got 7" in sent[-1]["error"]


def test_a_planted_stop_event_ends_the_run_cleanly() -> None:
    from attn_widget.extract.generate import generate_attention

    model, _ = twins("gpt2")
    stop = threading.Event()
    run = generate_attention(model, tokenizer(), PROMPT, max_new_tokens=10, stop=stop,
                             on_step=lambda r: stop.set() if len(r.steps) == 2 else None)  # fmt: skip  # noqa: E501
    # generate() checks its stopping criteria before it hands the step's token on: the
    # stop is seen at the step after the one that asked.
    assert run.stopped and len(run.steps) == 3 and run.done.is_set()


def test_ids_the_tokenizer_has_no_token_for_are_shown_by_their_number() -> None:
    """A model's embedding may be padded past its tokenizer's vocabulary: no None in the view."""
    from transformers import LogitsProcessor, LogitsProcessorList

    unknown = V + 2  # an id of the embedding with no token in the tokenizer

    class Force(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            forced = torch.full_like(scores, float("-inf"))
            forced[:, unknown] = 0
            return forced

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=V + 8, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                        bos_token_id=1, eos_token_id=2)  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    forced = LogitsProcessorList([Force()])
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=2, logits_processor=forced)
    assert w.ids[-2:] == [unknown, unknown]
    assert w.generation.tokens[-2:] == [f"<id {unknown}>"] * 2
    steps = w._meta["generation"]["steps"]
    assert all(isinstance(t, str) for s in steps for t in [s["token"], *(c[0] for c in s["top"])])


@pytest.mark.parametrize("seed", range(5))
def test_the_choices_are_the_k_most_probable_ties_by_id(seed: int) -> None:
    from attn_widget.extract.generate import _top_k

    rng = np.random.default_rng(seed)
    logits = rng.integers(0, 6, 300).astype(np.float32)  # many ties
    tok = tokenizer()
    got = [c["id"] for c in _top_k(torch.from_numpy(logits), 7, tok)]
    assert got == list(np.argsort(-logits, kind="stable")[:7])


def test_lazy_checks_sampled_steps_and_catch_a_wrong_key_written_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attn_widget.growing_lazy import GrowingLazyAttention

    model, _ = twins("gpt2")
    prompt_rows = 6
    write = GrowingLazyAttention.write

    def corrupted(self: Any, layer: int, start: int, query: Any, key: Any) -> None:
        if start == prompt_rows + 10:  # a step the sampled checks skip
            key = key * 3
        write(self, layer, start, query, key)

    monkeypatch.setattr(GrowingLazyAttention, "write", corrupted)
    with pytest.raises(ValueError, match="differ from the model's"):
        aw.generate(model, tokenizer(), PROMPT, max_new_tokens=20, min_new_tokens=20, lazy=True)
    monkeypatch.setattr(GrowingLazyAttention, "write", write)
    w = aw.generate(model, tokenizer(), PROMPT, max_new_tokens=20, min_new_tokens=20, lazy=True)
    assert w.steps == 20 and not w.data.growing


def test_lazy_takes_true_false_or_none_only() -> None:
    model, _ = twins("gpt2")
    with pytest.raises(ValueError, match=r"lazy: expected True, False or None .*got 'yes'"):
        aw.generate(model, tokenizer(), PROMPT, max_new_tokens=2, lazy="yes")
