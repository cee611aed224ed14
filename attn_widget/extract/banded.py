"""Longformer and LED: banded attention rebuilt as full matrices, exact zeros outside the band.

transformers returns one row per query over its window instead of the full
``(S, S)`` matrix. With ``w`` the one-sided window
(``one_sided_attn_window_size``), ``X`` the largest number of global tokens
in the batch and a case's sorted global positions ``g_0 < g_1 < ...``:

* ``attentions`` is ``(B, H, S, X + 2w + 1)``: columns ``0..X-1`` are the
  weights to the case's global tokens (only the first ``n`` of them are the
  case's own), column ``X + t`` is key ``i - w + t`` (the band; 0 where it
  falls on a global key or off the sequence); the rows of global tokens are 0.
* ``global_attentions`` is ``(B, H, S_pad, X)``: ``[b, h, j, g]`` is the weight
  from global token ``g`` (the query) to key ``j``; slots past the case's own
  ``n`` hold junk and are not read.

The rows rebuilt here are checked like any others (row sums, zeros).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["banded_modules", "full_from_banded", "is_banded"]


def banded_modules(model: Any) -> list[Any]:
    """The model's Longformer-style self-attention modules, in layer order."""
    return [m for m in model.modules() if hasattr(m, "one_sided_attn_window_size")]


def is_banded(model: Any) -> bool:
    return bool(banded_modules(model))


def full_from_banded(
    local: torch.Tensor,
    global_: torch.Tensor | None,
    window: int,
    globals_per_case: Sequence[Sequence[int]],
) -> torch.Tensor:
    """``(B, H, S, S)`` weights from one layer's ``attentions`` and ``global_attentions``.

    ``window`` is the one-sided window ``w``; ``globals_per_case[b]`` the
    sorted global positions of case ``b`` (empty: none).
    """
    import torch

    cases, heads, length, width = local.shape
    band = 2 * window + 1
    extra = width - band
    if extra < 0:
        raise ValueError(
            f"banded attention: rows hold {width} columns, fewer than the {band} of a "
            f"window of {window} on each side"
        )
    local = local.float()
    full = torch.zeros(cases, heads, length, length, dtype=torch.float32, device=local.device)
    for t in range(band):
        offset = t - window
        if abs(offset) >= length:
            continue
        diagonal = full.diagonal(offset, dim1=-2, dim2=-1)  # a view: (B, H, S - |offset|)
        rows = slice(0, length - offset) if offset >= 0 else slice(-offset, length)
        diagonal.add_(local[:, :, rows, extra + t])
    for b, positions in enumerate(globals_per_case):
        index = sorted(int(p) for p in positions)
        if not index:
            continue
        if len(index) > extra or global_ is None:
            raise ValueError(
                f"banded attention: case {b} has {len(index)} global tokens but the model "
                f"returned {extra} global columns"
            )
        where = torch.tensor(index, device=local.device)
        full[b, :, :, where] += local[b, :, :, : len(index)]
        # Rows of global tokens: their own full rows, from global_attentions.
        full[b, :, where, :] = global_[b, :, :length, : len(index)].float().permute(0, 2, 1)
    return full
