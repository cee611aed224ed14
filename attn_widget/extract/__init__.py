"""Models -> attention sources: transformers, TransformerLens, nnsight (one call), torch.nn.

Extraction returns data (AttentionData, LazyAttention, or a dict of them by
component); it never builds a widget (attn_widget.api does).
"""

from __future__ import annotations

from .dispatch import attention_of
from .hf import extract_attention
from .lens import attention_from_cache
from .tokens import display_tokens
from .torch_nn import CapturedAttention, capture_attention

__all__ = [
    "CapturedAttention",
    "attention_from_cache",
    "attention_of",
    "capture_attention",
    "display_tokens",
    "extract_attention",
]
