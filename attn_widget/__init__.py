"""attn_widget: see what a transformer attends to, inline in a notebook.

The public face: re-exports only. ``attn_widget.api`` builds widgets; the
shape of the package is in DESIGN.md at the repository's root.
"""

from __future__ import annotations

from .analysis import DerivedAttention, HeadScores, top_cells
from .analysis import find_regions as regions
from .api import (
    compare,
    evolution,
    flow,
    from_cache,
    from_model,
    generate,
    head_scores,
    load,
    rollout,
    save,
    stability,
)
from .data import AttentionData, AttentionSource
from .extract import capture_attention, extract_attention
from .lazy import LazyAttention
from .state import ViewState
from .widget import AttentionWidget

__all__ = [
    "AttentionData",
    "AttentionSource",
    "AttentionWidget",
    "DerivedAttention",
    "HeadScores",
    "LazyAttention",
    "ViewState",
    "capture_attention",
    "compare",
    "evolution",
    "extract_attention",
    "flow",
    "from_cache",
    "from_model",
    "generate",
    "head_scores",
    "load",
    "regions",
    "rollout",
    "save",
    "stability",
    "top_cells",
]
__version__ = "0.1.0"
