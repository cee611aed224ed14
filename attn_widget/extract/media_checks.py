"""The weight checks of a whole media extraction: every source, case, layer, a block at a time.

:func:`~attn_widget.extract.checks.check_weights` is the rule every weight
passes (finite, not negative, causal where the model is, rows summing to 1);
this module walks a finished image, audio or image+text extraction through
it and adds what only these models need: keys a Swin window masks (a mask
per layer, not a band) get exactly 0, and a layer that masks nothing gives
weight above the diagonal (softmax is never exactly 0 there), which catches
a causal mask applied where the model has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .checks import Expected, check_weights

__all__ = ["Blocked", "check_sources"]

# Rows checked per layer and head of a lazy source: computing all of them is
# what lazy avoids; the first block shows a wrong scaling or mask as well.
LAZY_ROWS = 128
# Values checked at once (heads x rows x keys): bounds the temporary arrays to a few MB.
BLOCK_VALUES = 1 << 20

Blocked = Callable[[int], np.ndarray | None]


def _fail(name: str, layer: int, case: int, head: int, what: str) -> ValueError:
    return ValueError(
        f"{name} layer {layer}, case {case}, head {head}: {what}; attn_widget does not show "
        "weights it cannot vouch for"
    )


def _check_masks(
    name: str,
    layer: int,
    case: int,
    block: np.ndarray,
    row0: int,
    q: int,
    *,
    causal: bool,
    blocked: np.ndarray | None,
) -> None:
    """The media-only rules on ``block`` (heads, rows, k): window masks, an unmasked layer."""
    k = block.shape[-1]
    if not causal and blocked is None and row0 == 0 and q > 1:
        rows = np.arange(block.shape[1])[:, None]
        above = np.arange(k)[None, :] > rows + (k - q)
        if above.any():
            given = np.where(above[None], block, 0).max(axis=(1, 2))
            if float(given.min()) == 0.0:
                raise _fail(
                    name,
                    layer,
                    case,
                    int(given.argmin()),
                    "no weight above the diagonal in a layer that is not causal",
                )
    if blocked is not None:
        mask = blocked[row0 : row0 + block.shape[1]]
        if mask.any():
            leaked = np.where(mask[None], block, 0).max(axis=(1, 2))
            if float(leaked.max()) > 0:
                head = int(leaked.argmax())
                raise _fail(name, layer, case, head, "weight on keys the model masks")


def check_sources(
    sources: Mapping[str, Any],
    causal: Mapping[str, bool],
    blocked: Mapping[str, Blocked] | None = None,
) -> None:
    """Check every component's weights; raise a ValueError on the first fault.

    ``causal[name]`` says whether the component is causal; ``blocked[name](layer)``
    gives a ``(q, k)`` boolean array of positions that must be 0, or None. Rows
    are checked a block at a time, so the temporary memory stays small.
    """
    import torch

    for name, source in sources.items():
        expected = Expected(name, bool(causal.get(name, False)))
        masks = (blocked or {}).get(name)
        lazy = not getattr(source, "holds_weights", True)
        for case in range(source.n_cases):
            q, k = source.shape(case)
            values = None if lazy else source.case_values(case)
            step = max(1, BLOCK_VALUES // max(1, source.n_heads * k))
            stop = q if values is not None else min(q, LAZY_ROWS)
            half = values is not None and values.dtype == np.float16
            for layer in range(source.n_layers):
                mask = masks(layer) if masks is not None else None
                for row0 in range(0, stop, step):
                    row1 = min(stop, row0 + step)
                    if values is not None:
                        block = np.asarray(values[layer, :, row0:row1], dtype=np.float32)
                    else:
                        block = np.stack(
                            [source.rows(layer, h, case, row0, row1) for h in range(source.n_heads)]
                        )
                    check_weights(
                        block,
                        expected,
                        layer=layer,
                        case=case,
                        q=q,
                        rows=(row0, row1),
                        source_dtype=torch.float16 if half else None,
                    )
                    _check_masks(
                        name, layer, case, block, row0, q, causal=expected.causal, blocked=mask
                    )
