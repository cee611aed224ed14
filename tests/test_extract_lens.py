"""TransformerLens (4.x bridge, 3.x HookedTransformer, a saved 3.x cache) and nnsight, one call."""

from __future__ import annotations

import copy
import json
import os
import pathlib
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

import attn_widget as aw  # noqa: E402
from attn_widget.extract import attention_from_cache  # noqa: E402

WORDS = [f"w{i}" for i in range(40)]
TEXTS = ["w1 w2 w3 w4 w5 w6", "w7 w8 w9"]
FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "tl3_cache.safetensors"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = T.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    folder = tmp_path_factory.mktemp("tokenizer")
    fast.save_pretrained(folder)  # TransformerLens reloads tokenizers by name (MODEL-NOTES §3)
    return T.AutoTokenizer.from_pretrained(folder)


def _lens_model(tokenizer: Any) -> Any:
    """A TransformerLens model of whichever version is installed, from a config."""
    lens = pytest.importorskip("transformer_lens")
    config = dict(
        n_layers=2,
        d_model=32,
        n_ctx=32,
        d_head=8,
        n_heads=4,
        d_vocab=len(tokenizer),
        act_fn="relu",
        d_mlp=64,
        seed=0,
    )
    try:
        from transformer_lens import TransformerBridge
        from transformer_lens.config import TransformerBridgeConfig
    except ImportError:  # 3.x
        return lens.HookedTransformer(lens.HookedTransformerConfig(**config), tokenizer=tokenizer)
    return TransformerBridge.boot_native(TransformerBridgeConfig(**config), tokenizer=tokenizer)


def _alone(model: Any, text: str) -> np.ndarray:
    """Every layer's pattern of one text run alone: (layers, heads, n, n)."""
    with torch.no_grad():
        _, cache = model.run_with_cache(text)
    return np.stack([cache["pattern", layer][0].numpy() for layer in range(model.cfg.n_layers)])


def test_from_model_on_a_transformer_lens_model_uses_its_own_tokenizer(tokenizer: Any) -> None:
    model = _lens_model(tokenizer)
    w = aw.from_model(model, TEXTS)  # no tokenizer: the model's own
    data = w.data
    assert data.n_cases == 2 and data.n_layers == 2 and data.n_heads == 4
    for case, text in enumerate(TEXTS):
        assert data.tokens[case] == list(model.to_str_tokens(text))
        np.testing.assert_allclose(data.values[case], _alone(model, text), atol=1e-6)
        assert data.is_causal(case)
    assert data.meta["source"] == "transformer_lens"
    with pytest.raises(ValueError, match=r"lazy=True: .*hook_pattern cache"):
        aw.from_model(model, TEXTS, lazy=True)


def test_from_cache_takes_every_pattern_layer_and_the_batch_as_cases(tokenizer: Any) -> None:
    model = _lens_model(tokenizer)
    with torch.no_grad():
        _, cache = model.run_with_cache(model.to_tokens(TEXTS))
    w = aw.from_cache(cache, model.to_str_tokens(TEXTS))
    for case, text in enumerate(TEXTS):
        np.testing.assert_allclose(w.data.values[case], _alone(model, text), atol=1e-6)
    # Left padding: the pad keys get weight 0 and the last n x n block is the text alone.
    with torch.no_grad():
        _, left = model.run_with_cache(TEXTS, padding_side="left")
    data = attention_from_cache(left, model.to_str_tokens(TEXTS), padding_side="left")
    np.testing.assert_allclose(data.values[1], _alone(model, TEXTS[1]), atol=1e-6)
    with pytest.raises(ValueError, match="2 token lists for a cache of 1 cases"):
        aw.from_cache(model.run_with_cache(TEXTS[0])[1], model.to_str_tokens(TEXTS))


def test_a_cache_that_breaks_causality_is_refused(tokenizer: Any) -> None:
    model = _lens_model(tokenizer)
    with torch.no_grad():
        _, cache = model.run_with_cache(TEXTS[0])
    tampered = {
        name: cache[name].clone()
        for name in cache.keys()  # noqa: SIM118 (an ActivationCache)
        if name.endswith("hook_pattern")
    }
    tampered["blocks.1.attn.hook_pattern"] = torch.full_like(
        tampered["blocks.1.attn.hook_pattern"], 1 / 7
    )
    data = attention_from_cache(
        tampered, model.to_str_tokens(TEXTS[0])
    )  # a dict: no model, no causality known
    assert data.n_layers == 2
    with pytest.raises(ValueError, match=r"attention layer 1, case 0: .*later key"):
        attention_from_cache(tampered, model.to_str_tokens(TEXTS[0]), model=model)


def _fixture() -> tuple[dict[str, Any], list[list[str]]]:
    safetensors = pytest.importorskip("safetensors")
    from safetensors.torch import load_file

    with safetensors.safe_open(str(FIXTURE), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["transformer_lens"].startswith("3.")
    return load_file(str(FIXTURE)), json.loads(meta["str_tokens"])


def test_a_saved_transformer_lens_3_cache_reads_like_a_live_one() -> None:
    tensors, str_tokens = _fixture()
    data = attention_from_cache(tensors, str_tokens)
    for case, tokens in enumerate(str_tokens):
        n = len(tokens)
        expected = np.stack(
            [
                tensors[f"blocks.{layer}.attn.hook_pattern"][case, :, :n, :n].numpy()
                for layer in range(2)
            ]
        )
        np.testing.assert_allclose(data.values[case], expected, atol=1e-7)
        assert data.tokens[case] == tokens
    # 3.x attn_scores are before the softmax (-inf where masked): softmax gives the pattern.
    scores = {k: v for k, v in tensors.items() if k.endswith("hook_attn_scores")}
    assert bool(torch.isinf(scores["blocks.0.attn.hook_attn_scores"]).any())
    from_scores = attention_from_cache(scores, str_tokens)
    assert from_scores.meta["hook"] == "hook_attn_scores"
    for case in range(2):
        np.testing.assert_allclose(from_scores.values[case], data.values[case], atol=1e-6)


def test_transformer_lens_4_3_scores_equal_to_the_pattern_are_not_softmaxed_again(
    tokenizer: Any,
) -> None:
    model = _lens_model(tokenizer)
    with torch.no_grad():
        _, cache = model.run_with_cache(TEXTS[0])
    scores = {
        k: cache[k]
        for k in cache.keys()  # noqa: SIM118 (an ActivationCache)
        if k.endswith("hook_attn_scores")
    }
    if not torch.equal(
        scores["blocks.0.attn.hook_attn_scores"], cache["blocks.0.attn.hook_pattern"]
    ):
        pytest.skip("this TransformerLens keeps pre-softmax scores (3.x)")
    data = attention_from_cache(scores, model.to_str_tokens(TEXTS[0]))
    np.testing.assert_allclose(data.values[0], _alone(model, TEXTS[0]), atol=1e-6)


def test_an_activation_cache_object_of_the_installed_version_wraps_the_saved_tensors() -> None:
    lens = pytest.importorskip("transformer_lens")
    tensors, str_tokens = _fixture()
    cache = lens.ActivationCache(tensors, model=None)
    w = aw.from_cache(cache, str_tokens)
    assert w.data.n_cases == 2 and w.data.shape(1) == (len(str_tokens[1]),) * 2


def test_a_cache_without_attention_is_named_as_such() -> None:
    with pytest.raises(ValueError, match="hook_pattern"):
        attention_from_cache({"blocks.0.hook_resid_pre": torch.zeros(1, 3, 8)}, ["a", "b", "c"])


# ------------------------------------------------------------------ nnsight
def test_an_nnsight_language_model_works_like_the_model_it_wraps(tokenizer: Any) -> None:
    nnsight = pytest.importorskip("nnsight")
    torch.manual_seed(0)
    hf = T.GPT2LMHeadModel(
        T.GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4)
    ).eval()
    reference = aw.extract_attention(copy.deepcopy(hf), tokenizer, TEXTS)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = nnsight.LanguageModel(hf, tokenizer=tokenizer)
    w = aw.from_model(lm, TEXTS)  # the wrapper's own tokenizer
    for case in range(2):
        np.testing.assert_allclose(w.data.values[case], reference.values[case], atol=1e-6)
    lazy = aw.from_model(lm, TEXTS, lazy=True).data
    np.testing.assert_allclose(lazy.case_values(0), reference.values[0], atol=1e-5)
    assert hf.config._attn_implementation == "sdpa"
    with lm.trace(TEXTS[0]):  # the wrapper still traces afterwards
        out = lm.transformer.h[0].attn.output.save()
    assert out[0].shape[:2] == (1, len(tokenizer(TEXTS[0])["input_ids"]))
