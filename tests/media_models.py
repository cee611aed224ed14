"""Small image, audio and image+text models and their processors, built offline for the media tests.

Random weights from tiny configs (MULTIMODAL-NOTES), processors from
constructor parameters, tokenizers from a word list. Nothing is downloaded.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from tokenizers.processors import TemplateProcessing
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}
WORDS = [
    "a",
    "dog",
    "cat",
    "on",
    "the",
    "table",
    "photo",
    "of",
    "what",
    "is",
    "?",
    "USER:",
    "ASSISTANT:",
    "hello",
    "world",
    "sat",
    "mat",
]


def seeded(seed: int = 0) -> None:
    torch.manual_seed(seed)


def image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A random uint8 RGB image."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def tone(seconds: float = 1.0, hz: float = 440.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def vit_processor(height: int = 16, width: int = 16) -> Any:
    return ViTImageProcessorPil(size={"height": height, "width": width})


def clip_processor(side: int = 16) -> Any:
    return CLIPImageProcessorPil(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )


def vision_model(kind: str) -> Any:
    """ViT, DeiT (teacher head), DINOv2, DINOv2 + 4 registers, CLIP vision: 16x16, 4x4 patches."""
    seeded()
    common = {"image_size": 16, "patch_size": 4, **TINY}
    if kind == "vit":
        return transformers.ViTModel(transformers.ViTConfig(intermediate_size=64, **common))
    if kind == "vit_classifier":
        cfg = transformers.ViTConfig(intermediate_size=64, num_labels=3, **common)
        return transformers.ViTForImageClassification(cfg)
    if kind == "deit":
        cfg = transformers.DeiTConfig(intermediate_size=64, num_labels=3, **common)
        return transformers.DeiTForImageClassificationWithTeacher(cfg)
    if kind == "dinov2":
        return transformers.Dinov2Model(transformers.Dinov2Config(mlp_ratio=2, **common))
    if kind == "dinov2_registers":
        cfg = transformers.Dinov2WithRegistersConfig(mlp_ratio=2, num_register_tokens=4, **common)
        return transformers.Dinov2WithRegistersModel(cfg)
    if kind == "clip_vision":
        return transformers.CLIPVisionModel(
            transformers.CLIPVisionConfig(intermediate_size=64, **common)
        )
    raise KeyError(kind)


def swin_model(depths: tuple[int, ...] = (2, 2, 2)) -> Any:
    seeded()
    cfg = transformers.SwinConfig(
        image_size=32,
        patch_size=2,
        embed_dim=16,
        depths=list(depths),
        num_heads=[2, 2, 4][: len(depths)],
        window_size=4,
        mlp_ratio=2.0,
    )
    return transformers.SwinModel(cfg)


def word_tokenizer(*, template: bool = False, image_token: bool = False) -> Any:
    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    if template:
        tok.post_processor = TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)]
        )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )
    if image_token:
        fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return fast


def clip_model_and_processor() -> tuple[Any, Any]:
    tok = word_tokenizer(template=True)
    seeded()
    cfg = transformers.CLIPConfig(
        text_config=transformers.CLIPTextConfig(
            vocab_size=len(tok),
            intermediate_size=64,
            max_position_embeddings=16,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
            **TINY,
        ),
        vision_config=transformers.CLIPVisionConfig(
            image_size=16, patch_size=4, intermediate_size=64, **TINY
        ),
        projection_dim=16,
    )
    processor = transformers.CLIPProcessor(image_processor=clip_processor(), tokenizer=tok)
    return transformers.CLIPModel(cfg), processor


def whisper_model(positions: int = 50) -> Any:
    seeded()
    cfg = transformers.WhisperConfig(
        vocab_size=len(word_tokenizer()) + 1,
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=positions,
        max_target_positions=64,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        decoder_start_token_id=2,
        begin_suppress_tokens=None,
    )
    return transformers.WhisperForConditionalGeneration(cfg)


def whisper_processor(chunk_length: int = 1, tokenizer: bool = True) -> Any:
    features = transformers.WhisperFeatureExtractor(feature_size=80, chunk_length=chunk_length)
    if not tokenizer:
        return features
    return transformers.WhisperProcessor(feature_extractor=features, tokenizer=word_tokenizer())


def llava_model_and_processor(additional: int = 1) -> tuple[Any, Any]:
    tok = word_tokenizer(image_token=True)
    image_id = len(tok) - 1
    seeded()
    cfg = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(
            image_size=16, patch_size=4, intermediate_size=64, **TINY
        ),
        text_config=transformers.LlamaConfig(
            vocab_size=len(tok),
            intermediate_size=64,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            **TINY,
        ),
        image_token_index=image_id,
        image_seq_length=16,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    processor = transformers.LlavaProcessor(
        image_processor=clip_processor(),
        tokenizer=tok,
        patch_size=4,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=additional,
    )
    return transformers.LlavaForConditionalGeneration(cfg), processor


def eager(model: Any, **inputs: Any) -> Any:
    """``model(**inputs, output_attentions=True)`` under eager attention, switched back after."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            return model(**inputs, output_attentions=True)
    finally:
        model.set_attn_implementation(before)


def count_forwards(model: Any) -> list[int]:
    """A list that grows at every forward pass of any of ``model``'s modules (pre-hooks)."""
    calls: list[int] = []
    for module in model.modules():
        module.register_forward_pre_hook(lambda module, args: calls.append(1))
    return calls
