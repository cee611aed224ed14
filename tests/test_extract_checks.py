"""Never silently wrong: weights that break the model's mask are an error saying where.

Also: the inputs extraction accepts (tokenizers returning tensors or arrays),
a text past the model's learned positions, Longformer's global tokens.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

import attn_widget as aw  # noqa: E402
from attn_widget.extract.checks import Expected, check_weights  # noqa: E402

WORDS = [f"w{i}" for i in range(100)]
TEXTS = [" ".join(WORDS[(7 * i) % 100] for i in range(18)), " ".join(WORDS[:9])]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return T.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )


def _gpt2() -> Any:
    torch.manual_seed(0)
    return T.GPT2Model(T.GPT2Config(vocab_size=110, n_embd=32, n_layer=2, n_head=4)).eval()


def _gpt_neo(**extra: Any) -> Any:
    torch.manual_seed(0)
    config = T.GPTNeoConfig(
        vocab_size=110,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=5,
        max_position_embeddings=64,
        **extra,
    )
    return T.GPTNeoModel(config).eval()


# ------------------------------------------------------- the check itself
def test_the_check_names_component_layer_case_and_the_largest_offender() -> None:
    good = torch.softmax(
        torch.randn(2, 5, 5).masked_fill(torch.ones(5, 5).triu(1).bool(), -1e9), -1
    )
    expected = Expected("decoder", causal=True)
    check_weights(good, expected, layer=3, case=1)
    leaky = good.clone()
    leaky[1, 2, 4] = 0.25
    with pytest.raises(
        ValueError,
        match=r"decoder layer 3, case 1: .*later key.* 0\.25 at worst, at head 1, query 2, key 4",
    ):
        check_weights(leaky, expected, layer=3, case=1)
    with pytest.raises(ValueError, match=r"does not sum to 1.* 0\.5 at worst, at head \d, query 1"):
        check_weights(good * torch.tensor([1.0, 0.5, 1, 1, 1])[:, None], expected, layer=0, case=0)
    with pytest.raises(ValueError, match="NaN"):
        check_weights(good.masked_fill(good > 0.9, float("nan")), expected, layer=0, case=0)
    with pytest.raises(ValueError, match="negative"):
        check_weights(
            good - 0.1, Expected("x", causal=False, rows_sum_to_one=False), layer=0, case=0
        )
    # A sliding window of 2: keys two or more back must be zero.
    window = Expected("attention", causal=True, band=(1, 0))
    with pytest.raises(ValueError, match="outside the model's attention window"):
        check_weights(good, window, layer=0, case=0)
    # Sinks take weight: rows may sum to less than 1, never more.
    check_weights(good * 0.8, Expected("attention", causal=True, sinks=True), layer=0, case=0)


# ------------------------------------------- deliberately broken attention
def test_a_causal_model_whose_attention_ignores_causality_is_refused(tokenizer: Any) -> None:
    model = copy.deepcopy(_gpt2())
    for module in model.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = False  # the capture function then sees no causal mask at all
    with pytest.raises(
        ValueError, match=r"attention layer 0, case 0: .*later key in a causal model"
    ):
        aw.extract_attention(model, tokenizer, TEXTS[0])


def test_a_broken_eager_attention_is_refused_with_its_layer(tokenizer: Any) -> None:
    model = _gpt_neo()
    layer = model.h[1].attn.attention

    def unmasked(self: Any, query: Any, key: Any, value: Any, attention_mask: Any = None) -> Any:
        weights = torch.softmax(query @ key.transpose(-1, -2), -1)  # forgets every mask
        return weights @ value, weights

    layer._attn = unmasked.__get__(layer)
    with pytest.raises(
        ValueError, match=r"attention layer 1, case 0: .*later key in a causal model"
    ):
        aw.extract_attention(model, tokenizer, TEXTS[0])

    broken = _gpt_neo()
    original = type(broken.h[0].attn.attention)._attn

    def halved(self: Any, *args: Any, **kwargs: Any) -> Any:
        out, weights = original(self, *args, **kwargs)
        return out, weights * 0.5

    broken.h[0].attn.attention._attn = halved.__get__(broken.h[0].attn.attention)
    with pytest.raises(ValueError, match=r"layer 0, case 0: .*does not sum to 1.*0\.5"):
        aw.extract_attention(broken, tokenizer, TEXTS[0])
    # lazy=True compares the kept queries and keys with the layer's own (broken) weights.
    with pytest.raises(ValueError, match=r"layer 0, case 0: .*does not sum to 1"):
        aw.extract_attention(broken, tokenizer, TEXTS[0], lazy=True)


def test_lazy_refuses_queries_and_keys_that_do_not_give_the_layers_weights(
    tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attn_widget.extract import module_hooks

    recipe = module_hooks.RECIPES["gpt_neo.GPTNeoSelfAttention"]

    def wrong(module: Any, arguments: dict[str, Any]) -> Any:
        layer = recipe(module, arguments)
        layer.scaling = 0.5  # GPT-Neo does not scale its scores
        return layer

    monkeypatch.setitem(module_hooks.RECIPES, "gpt_neo.GPTNeoSelfAttention", wrong)
    with pytest.raises(
        ValueError, match=r"lazy=True: GPTNeoModel attention layer 0, case 0: .*differ"
    ):
        aw.extract_attention(_gpt_neo(), tokenizer, TEXTS, lazy=True)


def test_falcon_on_sdpa_gives_causal_weights_equal_to_eager(tokenizer: Any) -> None:
    torch.manual_seed(0)
    config = T.FalconConfig(
        vocab_size=110, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, alibi=False
    )
    model = T.FalconModel(copy.deepcopy(config)).eval()
    assert model.config._attn_implementation == "sdpa"
    ids = torch.tensor([tokenizer(TEXTS[1])["input_ids"]])
    with torch.no_grad():
        raw = model(ids, output_attentions=True).attentions[0][0]
    assert float(raw.triu(1).max()) > 0.01  # what transformers itself returns: not masked
    data = aw.extract_attention(model, tokenizer, TEXTS[1])
    assert model.config._attn_implementation == "sdpa"
    assert data.is_causal(0)
    twin = T.FalconModel._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        expected = np.stack([a[0].numpy() for a in twin(ids, output_attentions=True).attentions])
    np.testing.assert_allclose(data.values[0], expected, atol=1e-6)


def test_train_mode_fallback_weights_are_after_dropout_and_still_checked(tokenizer: Any) -> None:
    model = _gpt_neo(attention_dropout=0.5).train()
    try:
        data = aw.extract_attention(model, tokenizer, TEXTS[0])
    finally:
        model.eval()
    sums = data.values[0].sum(-1)
    assert float(np.abs(sums - 1).max()) > 0.05  # dropout: rows do not sum to 1
    assert data.is_causal(0)


# ------------------------------------------------------------------ inputs
class _TensorTokenizer:
    """A tokenizer whose call returns tensors or arrays, as some wrappers do."""

    def __init__(self, inner: Any, kind: str) -> None:
        self.inner, self.kind = inner, kind
        self.all_special_tokens = inner.all_special_tokens

    def __call__(self, text: str, **kwargs: Any) -> dict[str, Any]:
        ids = self.inner(text)["input_ids"]
        value = {
            "torch-1d": torch.tensor(ids),
            "torch-2d": torch.tensor([ids]),
            "numpy-1d": np.array(ids),
            "numpy-2d": np.array([ids]),
        }[self.kind]
        return {"input_ids": value}

    def convert_ids_to_tokens(self, ids: Any) -> Any:
        return self.inner.convert_ids_to_tokens(ids)

    def __len__(self) -> int:
        return len(self.inner)


@pytest.mark.parametrize("kind", ["torch-1d", "torch-2d", "numpy-1d", "numpy-2d"])
def test_tokenizers_returning_tensors_or_arrays_are_accepted(tokenizer: Any, kind: str) -> None:
    model = _gpt2()
    reference = aw.extract_attention(model, tokenizer, TEXTS)
    data = aw.extract_attention(model, _TensorTokenizer(tokenizer, kind), TEXTS)
    assert data.tokens == reference.tokens
    for case in range(2):
        np.testing.assert_array_equal(data.values[case], reference.values[case])


def test_a_batch_from_the_tokenizer_is_refused_with_its_shape(tokenizer: Any) -> None:
    class Batch(_TensorTokenizer):
        def __call__(self, text: str, **kwargs: Any) -> dict[str, Any]:
            return {"input_ids": torch.tensor([[4, 5], [6, 7]])}

    with pytest.raises(ValueError, match=r"shape \(n,\) or \(1, n\); got 2 rows"):
        aw.extract_attention(_gpt2(), Batch(tokenizer, "torch-1d"), "w1 w2")


@pytest.mark.parametrize("make", ["gpt2", "bert", "roberta"])
def test_a_text_past_the_learned_positions_names_the_limit_and_the_count(
    tokenizer: Any, make: str
) -> None:
    torch.manual_seed(0)
    model = {
        "gpt2": lambda: T.GPT2Model(
            T.GPT2Config(vocab_size=110, n_embd=32, n_layer=1, n_head=4, n_positions=16)
        ),
        "bert": lambda: T.BertModel(
            T.BertConfig(
                vocab_size=110,
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=4,
                intermediate_size=32,
                max_position_embeddings=16,
            )
        ),
        "roberta": lambda: T.RobertaModel(
            T.RobertaConfig(
                vocab_size=110,
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=4,
                intermediate_size=32,
                max_position_embeddings=18,
                pad_token_id=1,
            )
        ),
    }[make]().eval()
    text = " ".join(WORDS[:17])
    limit = 18 if make == "roberta" else 16
    with pytest.raises(
        ValueError, match=rf"text: 17 tokens is more than \w+ can take: .* {limit} positions"
    ):
        aw.extract_attention(model, tokenizer, text)
    aw.extract_attention(model, tokenizer, " ".join(WORDS[:10]))  # within the limit: fine


def test_longformer_global_tokens_are_rebuilt_from_the_layers_own_projections(
    tokenizer: Any,
) -> None:
    torch.manual_seed(0)
    config = T.LongformerConfig(
        vocab_size=110,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        attention_window=4,
        max_position_embeddings=80,
        pad_token_id=1,
    )
    model = T.LongformerModel(config).eval()
    globals_ = [
        [1 if i in (0, 7) else 0 for i in range(18)],
        [1 if i == 3 else 0 for i in range(9)],
    ]
    data = aw.extract_attention(
        model, tokenizer, TEXTS, model_inputs={"global_attention_mask": globals_}
    )
    for case, text in enumerate(TEXTS):
        ids = torch.tensor([tokenizer(text)["input_ids"]])
        n = ids.shape[1]
        hidden: list[Any] = []
        modules = [layer.attention.self for layer in model.encoder.layer]
        handles = [
            m.register_forward_pre_hook(lambda mod, args, seen=hidden: seen.append(args[0]))
            for m in modules
        ]
        try:
            with torch.no_grad():
                model(ids, global_attention_mask=torch.tensor([globals_[case]]))
        finally:
            for h in handles:
                h.remove()
        gidx = [i for i, g in enumerate(globals_[case]) if g]
        for layer, (module, x) in enumerate(zip(modules, hidden, strict=True)):
            x = x[0, :n]
            heads, d, w = module.num_heads, module.head_dim, module.one_sided_attn_window_size

            def split(t: Any, n: int = n, heads: int = heads, d: int = d) -> Any:
                return t.view(n, heads, d).transpose(0, 1)

            q, k = split(module.query(x)) / d**0.5, split(module.key(x))
            near = (torch.arange(n)[None] - torch.arange(n)[:, None]).abs() <= w
            near[:, gidx] = True
            local = torch.softmax((q @ k.transpose(-1, -2)).masked_fill(~near, float("-inf")), -1)
            qg, kg = split(module.query_global(x)) / d**0.5, split(module.key_global(x))
            full = local.clone()
            full[:, gidx] = torch.softmax(qg[:, gidx] @ kg.transpose(-1, -2), -1)
            np.testing.assert_allclose(data.values[case][layer], full.detach().numpy(), atol=1e-5)
    assert not data.is_causal(0)


def test_longformer_lazy_works_without_global_tokens_and_refuses_them(tokenizer: Any) -> None:
    torch.manual_seed(0)
    config = T.LongformerConfig(
        vocab_size=110,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        attention_window=4,
        max_position_embeddings=80,
        pad_token_id=1,
    )
    model = T.LongformerModel(config).eval()
    full = aw.extract_attention(model, tokenizer, TEXTS)
    lazy = aw.extract_attention(model, tokenizer, TEXTS, lazy=True)
    assert lazy.modifiers[0][0].band == (2, 2)  # one-sided window of attention_window / 2
    for case in range(2):
        np.testing.assert_allclose(lazy.case_values(case), full.values[case], atol=1e-5)
    globals_ = [[1] + [0] * 17, [1] + [0] * 8]
    with pytest.raises(ValueError, match=r"^lazy=True: LongformerModel has global tokens"):
        aw.extract_attention(
            model, tokenizer, TEXTS, lazy=True, model_inputs={"global_attention_mask": globals_}
        )


def test_big_bird_block_sparse_weights_that_do_not_sum_to_one_are_refused(tokenizer: Any) -> None:
    """transformers' block-sparse reconstruction leaves the random blocks out of the rows it
    returns (middle rows sum to about 0.83): shown as they are, they would be wrong."""
    torch.manual_seed(0)
    config = T.BigBirdConfig(
        vocab_size=110,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        attention_type="block_sparse",
        block_size=2,
        num_random_blocks=1,
    )
    model = T.BigBirdModel(config).eval()
    text = " ".join(WORDS[:30])
    with pytest.raises(ValueError, match=r"attention layer 0, case 0: .*does not sum to 1"):
        aw.extract_attention(model, tokenizer, text)
    with pytest.raises(
        ValueError, match=r"^lazy=True: BigBirdModel uses BigBirdBlockSparseAttention"
    ):
        aw.extract_attention(model, tokenizer, text, lazy=True)
    assert model.config.attention_type == "block_sparse"
