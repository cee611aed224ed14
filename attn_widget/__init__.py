"""attn_widget: see what a transformer attends to, inline in a notebook."""

from __future__ import annotations

from .data import AttentionData
from .widget import AttentionWidget

__all__ = ["AttentionData", "AttentionWidget"]
__version__ = "0.1.0"
