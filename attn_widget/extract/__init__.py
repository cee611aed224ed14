"""Getting attention out of models: transformers (one call) and torch.nn (a context manager)."""

from __future__ import annotations

from .hf import extract_attention, from_model
from .tokens import display_tokens
from .torch_nn import CapturedAttention, capture_attention

__all__ = [
    "CapturedAttention",
    "capture_attention",
    "display_tokens",
    "extract_attention",
    "from_model",
]
