"""Tiny configs of every architecture family the extraction sweep covers (random weights, no hub).

Each entry builds a config; tests/test_extract_sweep.py builds the model and
an eager twin with the same weights from it. Windows are small (4 to 6
tokens) so that the sweep's texts, about 20 tokens, run past them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import transformers as T

VOCAB = 128
H, L = 32, 2  # hidden size, layers
COMMON: dict[str, Any] = {"vocab_size": VOCAB, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}


@dataclass
class Family:
    name: str
    kind: str  # "decoder", "encoder", "encoder-decoder"
    make: Any  # () -> config
    model: str = "AutoModel"  # class name in transformers, or AutoModel
    lazy: bool = True  # lazy=True is expected to work (else a refusal naming the class)
    notes: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


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


FAMILIES: list[Family] = [
    # ---------------------------------------------------- decoder-only, attention interface
    Family("gpt2", "decoder", lambda: T.GPT2Config(**COMMON, n_embd=H, n_layer=L, n_head=4, n_positions=128)),
    Family(
        "gpt2-layer-scaling",
        "decoder",
        lambda: T.GPT2Config(
            **COMMON, n_embd=H, n_layer=3, n_head=4, n_positions=128,
            scale_attn_by_inverse_layer_idx=True,
        ),
    ),
    Family("llama", "decoder", lambda: _llama_like(T.LlamaConfig)),
    Family("qwen2-sliding", "decoder", lambda: _llama_like(
        T.Qwen2Config, use_sliding_window=True, sliding_window=5, max_window_layers=1,
        layer_types=["full_attention", "sliding_attention"],
    )),
    Family("mistral-sliding", "decoder", lambda: _llama_like(T.MistralConfig, sliding_window=5)),
    Family("mixtral-sliding", "decoder", lambda: _llama_like(
        T.MixtralConfig, sliding_window=5, num_local_experts=2, num_experts_per_tok=1
    )),
    Family("starcoder2-sliding", "decoder", lambda: T.Starcoder2Config(
        **COMMON, hidden_size=H, intermediate_size=64, num_hidden_layers=L, num_attention_heads=4,
        num_key_value_heads=2, sliding_window=5, max_position_embeddings=128,
    )),
    Family("gemma", "decoder", lambda: _llama_like(T.GemmaConfig, head_dim=8)),
    Family("gemma2-softcap", "decoder", lambda: _llama_like(
        T.Gemma2Config, head_dim=8, attn_logit_softcapping=5.0, sliding_window=5,
        query_pre_attn_scalar=16,
    )),
    Family("gemma3-local-global", "decoder", lambda: _llama_like(
        T.Gemma3TextConfig, head_dim=8, sliding_window=5,
        layer_types=["sliding_attention", "full_attention"],
    )),
    Family("cohere2-sliding", "decoder", lambda: _llama_like(
        T.Cohere2Config, sliding_window=5, layer_types=["sliding_attention", "full_attention"],
    )),
    Family("olmo3-sliding", "decoder", lambda: _llama_like(
        T.Olmo3Config, sliding_window=5, layer_types=["sliding_attention", "full_attention"],
    )),
    Family("gpt-oss-sinks", "decoder", lambda: _llama_like(
        T.GptOssConfig, head_dim=8, sliding_window=5, num_local_experts=2,
        num_experts_per_tok=1, layer_types=["sliding_attention", "full_attention"],
    )),
    Family("gptj", "decoder", lambda: T.GPTJConfig(
        **COMMON, n_embd=H, n_layer=L, n_head=4, rotary_dim=4, n_positions=128
    )),
    # --------------------------------------------- decoder-only, their own attention code
    Family("falcon-rotary", "decoder", lambda: T.FalconConfig(
        **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, alibi=False
    )),
    Family("falcon-alibi", "decoder", lambda: T.FalconConfig(
        **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, alibi=True,
        multi_query=False, new_decoder_architecture=False, parallel_attn=False,
    )),
    Family("bloom-alibi", "decoder", lambda: T.BloomConfig(
        **COMMON, hidden_size=H, n_layer=L, n_head=4
    )),
    Family("mpt-alibi", "decoder", lambda: T.MptConfig(
        **COMMON, d_model=H, n_layers=L, n_heads=4, max_seq_len=128
    )),
    Family("gpt-neo-local", "decoder", lambda: T.GPTNeoConfig(
        **COMMON, hidden_size=H, num_layers=L, num_heads=4, window_size=5,
        attention_types=[[["global", "local"], 1]], max_position_embeddings=128,
    )),
    Family("xglm", "decoder", lambda: T.XGLMConfig(
        **COMMON, d_model=H, num_layers=L, attention_heads=4, ffn_dim=64, max_position_embeddings=128
    )),
    # ------------------------------------------------------------------------ encoders
    Family("bert", "encoder", lambda: T.BertConfig(
        **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=128,
    )),
    Family("roberta", "encoder", lambda: T.RobertaConfig(
        **{**COMMON, "pad_token_id": 1}, hidden_size=H, num_hidden_layers=L,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=130,
    )),
    Family("modernbert-local-global", "encoder", lambda: T.ModernBertConfig(
        **COMMON, hidden_size=H, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
        local_attention=6, global_attn_every_n_layers=2, cls_token_id=1, sep_token_id=2,
        max_position_embeddings=128,
    )),
    Family("deberta-v2", "encoder", lambda: T.DebertaV2Config(
        **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=128,
    )),
    Family("mpnet", "encoder", lambda: T.MPNetConfig(
        **{**COMMON, "pad_token_id": 1}, hidden_size=H, num_hidden_layers=L,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=130,
    )),
    Family("big-bird-full", "encoder", lambda: T.BigBirdConfig(
        **COMMON, hidden_size=H, num_hidden_layers=L, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=128, attention_type="original_full",
    )),
    Family("longformer-banded", "encoder", lambda: T.LongformerConfig(
        **{**COMMON, "pad_token_id": 1}, hidden_size=H, num_hidden_layers=L,
        num_attention_heads=4, intermediate_size=64, attention_window=4,
        max_position_embeddings=130,
    )),
    # ----------------------------------------------------------------- encoder-decoder
    Family("bart", "encoder-decoder", lambda: T.BartConfig(
        **COMMON, d_model=H, encoder_layers=L, decoder_layers=L, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=128, decoder_start_token_id=2,
    )),
    Family("t5-bias", "encoder-decoder", lambda: T.T5Config(
        **COMMON, d_model=H, d_kv=8, d_ff=64, num_layers=L, num_heads=4, decoder_start_token_id=0
    )),
    Family("mt5-bias", "encoder-decoder", lambda: T.MT5Config(
        **COMMON, d_model=H, d_kv=8, d_ff=64, num_layers=L, num_heads=4, decoder_start_token_id=0
    )),
    Family("umt5-layer-bias", "encoder-decoder", lambda: T.UMT5Config(
        **COMMON, d_model=H, d_kv=8, d_ff=64, num_layers=L, num_heads=4, decoder_start_token_id=0
    )),
    Family("led-banded", "encoder-decoder", lambda: T.LEDConfig(
        **COMMON, d_model=H, encoder_layers=L, decoder_layers=L, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, attention_window=4,
        max_encoder_position_embeddings=128, max_decoder_position_embeddings=128,
        decoder_start_token_id=2,
    )),
]

BY_NAME = {f.name: f for f in FAMILIES}
