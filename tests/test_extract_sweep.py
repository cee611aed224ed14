"""Every architecture family: weights equal an eager twin's, the model is left as found, lazy too.

Each family is built from a tiny config with random weights (no hub), with
windows of 4 to 6 tokens so that the texts (about 20 tokens) run past them.
Two texts of different lengths make one padded batch; each case is compared,
layer by layer and component by component, with an eager-built twin holding
the same weights (its own deep copy of the config) run on that text alone.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

import attn_widget as aw  # noqa: E402

VOCAB = 128
H, L = 32, 2
COMMON: dict[str, Any] = {
    "vocab_size": VOCAB,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
WORDS = [f"w{i}" for i in range(VOCAB - 8)]
TEXTS = [
    " ".join(WORDS[(7 * i) % len(WORDS)] for i in range(20)),
    " ".join(WORDS[(3 * i + 5) % len(WORDS)] for i in range(11)),
]
TARGETS = ["w1 w2 w3 w4 w5 w6 w7", "w9 w8"]


@dataclass
class Family:
    name: str
    kind: str  # "decoder", "encoder", "encoder-decoder"
    make: Any  # () -> config
    lazy: bool = True  # False: lazy=True is refused in one sentence naming the class


def _llama_like(cls: Any, **extra: Any) -> Any:
    return cls(
        **COMMON,
        hidden_size=H,
        intermediate_size=64,
        num_hidden_layers=L,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        **extra,
    )


def _bert_like(cls: Any, **extra: Any) -> Any:
    return cls(
        **{**COMMON, **extra.pop("common", {})},
        hidden_size=H,
        num_hidden_layers=L,
        num_attention_heads=4,
        intermediate_size=64,
        **extra,
    )


def _seq2seq(cls: Any, **extra: Any) -> Any:
    return cls(
        **COMMON,
        d_model=H,
        encoder_layers=L,
        decoder_layers=L,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        decoder_start_token_id=2,
        **extra,
    )


def _t5(cls: Any) -> Any:
    return cls(
        **COMMON, d_model=H, d_kv=8, d_ff=64, num_layers=L, num_heads=4, decoder_start_token_id=0
    )


SLIDING = ["sliding_attention", "full_attention"]
FAMILIES = [
    # decoder-only, through transformers' attention interface
    Family("gpt2", "decoder", lambda: T.GPT2Config(**COMMON, n_embd=H, n_layer=L, n_head=4)),
    Family(
        "gpt2-layer-scaling",
        "decoder",
        lambda: T.GPT2Config(
            **COMMON, n_embd=H, n_layer=3, n_head=4, scale_attn_by_inverse_layer_idx=True
        ),
    ),
    Family("llama", "decoder", lambda: _llama_like(T.LlamaConfig)),
    Family(
        "qwen2-sliding",
        "decoder",
        lambda: _llama_like(
            T.Qwen2Config, use_sliding_window=True, sliding_window=5, layer_types=SLIDING[::-1]
        ),
    ),
    Family("mistral-sliding", "decoder", lambda: _llama_like(T.MistralConfig, sliding_window=5)),
    Family(
        "mixtral-sliding",
        "decoder",
        lambda: _llama_like(
            T.MixtralConfig, sliding_window=5, num_local_experts=2, num_experts_per_tok=1
        ),
    ),
    Family(
        "starcoder2-sliding", "decoder", lambda: _llama_like(T.Starcoder2Config, sliding_window=5)
    ),
    Family("gemma", "decoder", lambda: _llama_like(T.GemmaConfig, head_dim=8)),
    Family(
        "gemma2-softcap",
        "decoder",
        lambda: _llama_like(
            T.Gemma2Config,
            head_dim=8,
            attn_logit_softcapping=5.0,
            sliding_window=5,
            query_pre_attn_scalar=16,
        ),
    ),
    Family(
        "gemma3-local-global",
        "decoder",
        lambda: _llama_like(T.Gemma3TextConfig, head_dim=8, sliding_window=5, layer_types=SLIDING),
    ),
    Family(
        "cohere2-sliding",
        "decoder",
        lambda: _llama_like(T.Cohere2Config, sliding_window=5, layer_types=SLIDING),
    ),
    Family(
        "olmo3-sliding",
        "decoder",
        lambda: _llama_like(T.Olmo3Config, sliding_window=5, layer_types=SLIDING),
    ),
    Family(
        "gpt-oss-sinks",
        "decoder",
        lambda: _llama_like(
            T.GptOssConfig,
            head_dim=8,
            sliding_window=5,
            num_local_experts=2,
            num_experts_per_tok=1,
            layer_types=SLIDING,
        ),
    ),
    Family(
        "gptj",
        "decoder",
        lambda: T.GPTJConfig(**COMMON, n_embd=H, n_layer=L, n_head=4, rotary_dim=4),
    ),
    # decoder-only, their own attention code
    Family(
        "falcon-rotary",
        "decoder",
        lambda: T.FalconConfig(
            **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, alibi=False
        ),
    ),
    Family(
        "falcon-alibi",
        "decoder",
        lambda: T.FalconConfig(
            **COMMON,
            hidden_size=H,
            num_hidden_layers=L,
            num_attention_heads=4,
            alibi=True,
            multi_query=False,
            parallel_attn=False,
        ),
    ),
    Family(
        "bloom-alibi",
        "decoder",
        lambda: T.BloomConfig(**COMMON, hidden_size=H, n_layer=L, n_head=4),
    ),
    Family(
        "mpt-alibi",
        "decoder",
        lambda: T.MptConfig(**COMMON, d_model=H, n_layers=L, n_heads=4, max_seq_len=128),
    ),
    Family(
        "gpt-neo-local",
        "decoder",
        lambda: T.GPTNeoConfig(
            **COMMON,
            hidden_size=H,
            num_layers=L,
            num_heads=4,
            window_size=5,
            attention_types=[[["global", "local"], 1]],
            max_position_embeddings=128,
        ),
    ),
    Family(
        "xglm",
        "decoder",
        lambda: T.XGLMConfig(**COMMON, d_model=H, num_layers=L, attention_heads=4, ffn_dim=64),
    ),
    # encoders
    Family("bert", "encoder", lambda: _bert_like(T.BertConfig, max_position_embeddings=128)),
    Family(
        "roberta",
        "encoder",
        lambda: _bert_like(
            T.RobertaConfig, common={"pad_token_id": 1}, max_position_embeddings=130
        ),
    ),
    Family(
        "modernbert-local-global",
        "encoder",
        lambda: T.ModernBertConfig(
            **COMMON,
            hidden_size=H,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=4,
            local_attention=6,
            global_attn_every_n_layers=2,
            cls_token_id=1,
            sep_token_id=2,
        ),
    ),
    Family(
        "deberta",
        "encoder",
        lambda: _bert_like(
            T.DebertaConfig,
            max_position_embeddings=128,
            relative_attention=True,
            pos_att_type=["c2p", "p2c"],
            max_relative_positions=16,
        ),
        lazy=False,  # v1's fused projections: no recipe
    ),
    Family(
        "deberta-v2", "encoder", lambda: _bert_like(T.DebertaV2Config, max_position_embeddings=128)
    ),
    Family(
        "deberta-v3-disentangled",
        "encoder",
        lambda: _bert_like(
            T.DebertaV2Config,
            max_position_embeddings=128,
            relative_attention=True,
            pos_att_type=["p2c", "c2p"],
            position_buckets=8,  # log buckets past 4 tokens: the texts run past them
            max_relative_positions=32,
            share_att_key=True,
        ),
    ),
    Family(
        "deberta-v2-own-position-projections",
        "encoder",
        lambda: _bert_like(
            T.DebertaV2Config,
            max_position_embeddings=128,
            relative_attention=True,
            pos_att_type=["c2p", "p2c"],
            max_relative_positions=12,
            share_att_key=False,
        ),
    ),
    Family(
        "mpnet",
        "encoder",
        lambda: _bert_like(T.MPNetConfig, common={"pad_token_id": 1}, max_position_embeddings=130),
    ),
    Family(
        "big-bird-full",
        "encoder",
        lambda: _bert_like(
            T.BigBirdConfig, max_position_embeddings=128, attention_type="original_full"
        ),
    ),
    Family(
        "longformer-banded",
        "encoder",
        lambda: _bert_like(
            T.LongformerConfig,
            common={"pad_token_id": 1},
            attention_window=4,
            max_position_embeddings=130,
        ),
    ),
    # encoder-decoder
    Family("bart", "encoder-decoder", lambda: _seq2seq(T.BartConfig, max_position_embeddings=128)),
    Family("t5-bias", "encoder-decoder", lambda: _t5(T.T5Config)),
    Family("mt5-bias", "encoder-decoder", lambda: _t5(T.MT5Config)),
    Family("umt5-layer-bias", "encoder-decoder", lambda: _t5(T.UMT5Config)),
    Family(
        "led-banded",
        "encoder-decoder",
        lambda: _seq2seq(
            T.LEDConfig,
            attention_window=4,
            max_encoder_position_embeddings=128,
            max_decoder_position_embeddings=128,
        ),
    ),
]
NAMES = [f.name for f in FAMILIES]
BY_NAME = {f.name: f for f in FAMILIES}


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


def _pair(family: Family) -> tuple[Any, Any]:
    """The model (default attention) and its eager twin: same weights, own configs."""
    config = family.make()
    torch.manual_seed(0)
    model = T.AutoModel.from_config(copy.deepcopy(config)).eval()
    twin = type(model)._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    twin.load_state_dict(model.state_dict())
    return model, twin


def _ids(tokenizer: Any, text: str) -> Any:
    return torch.tensor([tokenizer(text)["input_ids"]])


def _longformer_reference(twin: Any, ids: Any, modules: list[Any]) -> list[np.ndarray]:
    """Banded attention from the layers' own projections: |i - j| <= w, softmax, no globals."""
    seen: list[Any] = []
    handles = [
        m.register_forward_pre_hook(
            lambda mod, args, kw: seen.append(args[0] if args else kw["hidden_states"]),
            with_kwargs=True,
        )
        for m in modules
    ]
    try:
        with torch.no_grad():
            runner = twin.get_encoder() if twin.config.is_encoder_decoder else twin
            runner(input_ids=ids)
    finally:
        for h in handles:
            h.remove()
    out = []
    n = ids.shape[1]
    for module, hidden in zip(modules, seen, strict=True):
        hidden = hidden[:, :n]
        heads, d = module.num_heads, module.head_dim
        q = module.query(hidden).view(1, n, heads, d).transpose(1, 2) / d**0.5
        k = module.key(hidden).view(1, n, heads, d).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)
        w = module.one_sided_attn_window_size
        far = (torch.arange(n)[None, :] - torch.arange(n)[:, None]).abs() > w
        out.append(torch.softmax(scores.masked_fill(far, float("-inf")), -1)[0].detach().numpy())
    return out


def _reference(family: Family, twin: Any, tokenizer: Any, case: int) -> dict[str, np.ndarray]:
    """Per component, the twin's ``(layers, heads, q, k)`` weights on one text alone."""
    ids = _ids(tokenizer, TEXTS[case])
    from attn_widget.extract.banded import banded_modules

    banded = banded_modules(twin)
    with torch.no_grad():
        if family.kind == "encoder-decoder":
            tgt = torch.tensor(
                [[twin.config.decoder_start_token_id, *tokenizer(TARGETS[case])["input_ids"]]]
            )
            out = twin(
                input_ids=ids, decoder_input_ids=tgt, output_attentions=True, use_cache=False
            )
            parts = {
                "encoder": out.encoder_attentions,
                "decoder": out.decoder_attentions,
                "cross": out.cross_attentions,
            }
        else:
            kwargs = {"use_cache": False} if family.kind == "decoder" else {}
            parts = {"attention": twin(input_ids=ids, output_attentions=True, **kwargs).attentions}
    found = {
        name: np.stack([a[0].float().numpy() for a in layers]) for name, layers in parts.items()
    }
    if banded:
        found["encoder" if family.kind == "encoder-decoder" else "attention"] = np.stack(
            _longformer_reference(twin, ids, banded)
        )
    return found


def _state(model: Any) -> dict[str, Any]:
    from attn_widget.extract.interface import configs_of

    p = next(model.parameters())
    return {
        "impl": [c._attn_implementation_internal for c in configs_of(model)],
        "training": [m.training for m in model.modules()],
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()),
        "where": (p.device, p.dtype),
    }


def _outputs(model: Any, family: Family) -> Any:
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11]])
    kwargs: dict[str, Any] = {"input_ids": ids}
    if family.kind == "encoder-decoder":
        kwargs["decoder_input_ids"] = ids[:, :3]
    with torch.no_grad():
        return model(**kwargs).last_hidden_state


def _by_component(result: Any) -> dict[str, Any]:
    return result if isinstance(result, dict) else {"attention": result}


@pytest.mark.parametrize("name", NAMES)
def test_every_layer_and_component_equals_an_eager_twin(name: str, tokenizer: Any) -> None:
    family = BY_NAME[name]
    model, twin = _pair(family)
    if family.kind == "decoder":
        tokenizer.padding_side = "left"  # as decoder-only users set it; extraction pads itself
    target = TARGETS if family.kind == "encoder-decoder" else None
    before, out_before = _state(model), _outputs(model, family)
    try:
        result = _by_component(aw.extract_attention(model, tokenizer, TEXTS, target=target))
    finally:
        tokenizer.padding_side = "right"
    assert _state(model) == before
    assert torch.equal(_outputs(model, family), out_before)
    expected_parts = ["encoder", "decoder", "cross"] if target else ["attention"]
    assert list(result) == expected_parts
    for case in range(2):
        reference = _reference(family, twin, tokenizer, case)
        for part, data in result.items():
            np.testing.assert_allclose(
                data.values[case], reference[part], atol=1e-5, err_msg=f"{name} {part} case {case}"
            )
    if family.kind == "decoder":
        assert result["attention"].is_causal(0) and result["attention"].is_causal(1)


@pytest.mark.parametrize("name", NAMES)
def test_lazy_equals_eager_or_is_refused_naming_the_class(name: str, tokenizer: Any) -> None:
    family = BY_NAME[name]
    model, _ = _pair(family)
    target = TARGETS if family.kind == "encoder-decoder" else None
    full = _by_component(aw.extract_attention(model, tokenizer, TEXTS, target=target))
    before = _state(model)
    if not family.lazy:
        with pytest.raises(
            ValueError, match=rf"^lazy=True: {type(model).__name__} .*; use lazy=False$"
        ):
            aw.extract_attention(model, tokenizer, TEXTS, target=target, lazy=True)
        assert _state(model) == before
        return
    lazy = _by_component(aw.extract_attention(model, tokenizer, TEXTS, target=target, lazy=True))
    assert _state(model) == before
    assert list(lazy) == list(full)
    for part in full:
        assert isinstance(lazy[part], aw.LazyAttention)
        for case in range(2):
            np.testing.assert_allclose(
                lazy[part].case_values(case),
                full[part].values[case],
                atol=1e-5,
                err_msg=f"{name} {part} case {case}",
            )
            assert lazy[part].is_causal(case) == full[part].is_causal(case)
