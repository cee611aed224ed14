"""attn_widget: see what a transformer attends to, inline in a notebook."""

from __future__ import annotations

from .analysis import find_regions as regions
from .analysis import top_cells
from .data import AttentionData
from .extract import capture_attention, extract_attention, from_model
from .io import load, save
from .lazy import LazyAttention
from .views import compare, evolution, stability
from .widget import AttentionWidget

__all__ = [
    "AttentionData",
    "AttentionWidget",
    "LazyAttention",
    "capture_attention",
    "compare",
    "evolution",
    "extract_attention",
    "from_model",
    "load",
    "regions",
    "save",
    "stability",
    "top_cells",
]
__version__ = "0.1.0"
