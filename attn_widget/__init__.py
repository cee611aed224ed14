"""attn_widget: see what a transformer attends to, inline in a notebook."""

from __future__ import annotations

from .analysis import find_regions as regions
from .analysis import top_cells
from .data import AttentionData
from .lazy import LazyAttention
from .views import compare, evolution, stability
from .widget import AttentionWidget

__all__ = [
    "AttentionData",
    "AttentionWidget",
    "LazyAttention",
    "compare",
    "evolution",
    "regions",
    "stability",
    "top_cells",
]
__version__ = "0.1.0"
