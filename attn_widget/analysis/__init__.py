"""Pure-numpy analysis of attention arrays: the numbers behind the analysis views.

Nothing here draws or imports widget code; every function takes numpy arrays
(or torch tensors), refuses NaN, infinite values and wrong ranks with a
``ValueError``, and documents its algorithm in its docstring.

* :func:`top_cells` — the n largest cells, ties broken by position.
* :func:`compare_cells` — A, B, A - B and circle radii ∝ |A - B|.
* :func:`stability_stats` — mean, spread (SEM or std), radii, low/high bounds over runs.
* :func:`evolution_series` — mean and [0, 1]-scaled series over checkpoints.
* :func:`find_regions` — rectangles that stand out, strongest first.
"""

from __future__ import annotations

from ._scale import MAX_RADIUS
from .compare import Comparison, compare_cells
from .evolution import FLAT_LEVEL, Evolution, evolution_series
from .regions import Region, find_regions
from .stability import Stability, stability_stats
from .top import top_cells

__all__ = [
    "FLAT_LEVEL",
    "MAX_RADIUS",
    "Comparison",
    "Evolution",
    "Region",
    "Stability",
    "compare_cells",
    "evolution_series",
    "find_regions",
    "stability_stats",
    "top_cells",
]
