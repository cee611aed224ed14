"""Models -> attention sources: transformers (one call) and torch.nn (a context manager).

Extraction returns data (AttentionData, LazyAttention, or a dict of them by
component); it never builds a widget (attn_widget.api does).
"""

from __future__ import annotations

from .hf import extract_attention
from .tokens import display_tokens
from .torch_nn import CapturedAttention, capture_attention

__all__ = [
    "CapturedAttention",
    "capture_attention",
    "display_tokens",
    "extract_attention",
]
