"""attn_widget: see what a transformer attends to, inline in a notebook.

The public face: re-exports only. ``attn_widget.api`` builds widgets; the
shape of the package is in DESIGN.md at the repository's root.
"""

from __future__ import annotations

from .analysis import find_regions as regions
from .analysis import top_cells
from .api import compare, evolution, from_cache, from_model, load, save, stability
from .data import AttentionData, AttentionSource
from .extract import capture_attention, extract_attention
from .lazy import LazyAttention
from .state import ViewState
from .widget import AttentionWidget

__all__ = [
    "AttentionData",
    "AttentionSource",
    "AttentionWidget",
    "LazyAttention",
    "ViewState",
    "capture_attention",
    "compare",
    "evolution",
    "extract_attention",
    "from_cache",
    "from_model",
    "load",
    "regions",
    "save",
    "stability",
    "top_cells",
]
__version__ = "0.1.0"
