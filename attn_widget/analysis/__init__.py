"""Pure-numpy analysis of attention arrays: the numbers behind the analysis views.

Nothing here draws or imports widget code; every function takes numpy arrays
(or torch tensors), refuses NaN, infinite values and wrong ranks with a
``ValueError``, and documents its algorithm in its docstring.

* :func:`top_cells` — the n largest cells, ties broken by position.
* :func:`compare_cells` — A, B, A - B and circle radii ∝ |A - B|.
* :func:`stability_stats` — mean, spread (SEM or std), radii, low/high bounds over runs.
* :func:`evolution_series` — mean and [0, 1]-scaled series over checkpoints.
* :func:`find_regions` — rectangles that stand out, strongest first.
* :func:`score_source` — head scores (previous-token, induction, sinks, ...) of every case.
* :func:`similar_heads`, :func:`sink_keys` — heads like a given one; each head's sink keys.
* :func:`attention_rollout`, :func:`attention_flow`, :func:`value_weighted` — derived
  attentions (Abnar & Zuidema 2020; Kobayashi et al. 2020), and :class:`DerivedAttention`,
  any of them as an attention source.
"""

from __future__ import annotations

from ._scale import MAX_RADIUS
from .atlas import ScoreAccumulator, score_source
from .compare import Comparison, compare_cells
from .derived import DERIVED_KINDS, DerivedAttention
from .evolution import FLAT_LEVEL, Evolution, evolution_series
from .flow import attention_flow
from .regions import Region, find_regions
from .results import HeadScores, MissingScore, ScoreRow
from .rollout import HEAD_FUSIONS, attention_rollout
from .scores import DEFINITIONS, SCORE_NAMES, UnknownScore
from .similar import similar_heads, sink_columns, sink_keys
from .stability import Stability, stability_stats
from .top import top_cells
from .value_norm import head_value_norms, value_weighted

__all__ = [
    "DEFINITIONS",
    "DERIVED_KINDS",
    "FLAT_LEVEL",
    "HEAD_FUSIONS",
    "MAX_RADIUS",
    "SCORE_NAMES",
    "Comparison",
    "DerivedAttention",
    "Evolution",
    "HeadScores",
    "MissingScore",
    "Region",
    "ScoreAccumulator",
    "ScoreRow",
    "Stability",
    "UnknownScore",
    "attention_flow",
    "attention_rollout",
    "compare_cells",
    "evolution_series",
    "find_regions",
    "head_value_norms",
    "score_source",
    "similar_heads",
    "sink_columns",
    "sink_keys",
    "stability_stats",
    "top_cells",
    "value_weighted",
]
