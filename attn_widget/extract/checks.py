"""Checks that captured weights are what the model implies, before anyone sees them.

Every row of a softmax sums to 1; keys the model masks (the causal triangle,
keys outside a Swin window) get exactly 0; and a layer that masks nothing
gives weight above the diagonal (softmax is never exactly 0 there), which
catches a causal mask applied where the model has none. A failure is a
ValueError naming the component, layer, case and head: a picture of wrong
numbers is worse than no picture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["check_weights"]

# Rows checked per layer and head of a lazy source: computing all of them is
# what lazy avoids; the first block shows a wrong scaling or mask as well.
LAZY_ROWS = 128
# Values checked at once (heads x rows x keys): bounds the temporary arrays to a few MB.
BLOCK_VALUES = 1 << 20
# |row sum - 1| allowed: float32 sums of thousands of keys, or float16 storage.
_TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float16): 2e-3}

Blocked = Callable[[int], np.ndarray | None]


def _fail(name: str, layer: int, case: int, head: int, what: str) -> ValueError:
    return ValueError(
        f"{name} layer {layer} (case {case}, head {head}): {what}; the captured weights do not "
        "match the model, so they are not shown"
    )


def _check_block(
    name: str,
    layer: int,
    case: int,
    block: np.ndarray,
    row0: int,
    k: int,
    q: int,
    *,
    causal: bool,
    blocked: np.ndarray | None,
    tolerance: float,
) -> None:
    """``block`` is ``(heads, rows, k)`` float32: rows ``row0 ..`` of a ``q x k`` matrix."""
    sums = block.sum(axis=-1, dtype=np.float64)
    worst = np.abs(sums - 1.0)
    if worst.size and float(worst.max()) > tolerance:
        at_head, at_row = (int(i) for i in np.unravel_index(int(worst.argmax()), worst.shape))
        raise _fail(
            name,
            layer,
            case,
            at_head,
            f"query row {row0 + at_row} sums to {float(sums[at_head, at_row]):.6g}, not 1",
        )
    rows = np.arange(row0, row0 + block.shape[1])[:, None]
    above = np.arange(k)[None, :] > rows + (k - q)  # the causal triangle, bottom-right aligned
    if causal and above.any():
        leaked = np.where(above[None], block, 0).max(axis=(1, 2))
        if float(leaked.max()) > 0:
            head = int(leaked.argmax())
            raise _fail(name, layer, case, head, "a causal layer gives weight to later keys")
    # Once per layer (its first rows): a layer without a mask has weight above the diagonal.
    if not causal and blocked is None and row0 == 0 and q > 1 and above.any():
        given = np.where(above[None], block, 0).max(axis=(1, 2))
        if float(given.min()) == 0.0:
            head = int(given.argmin())
            raise _fail(
                name,
                layer,
                case,
                head,
                "no weight above the diagonal in a layer that is not causal",
            )
    if blocked is not None:
        mask = blocked[row0 : row0 + block.shape[1]]
        if mask.any():
            leaked = np.where(mask[None], block, 0).max(axis=(1, 2))
            if float(leaked.max()) > 0:
                head = int(leaked.argmax())
                raise _fail(name, layer, case, head, "weight on keys the model masks")


def check_weights(
    sources: Mapping[str, Any],
    causal: Mapping[str, bool],
    blocked: Mapping[str, Blocked] | None = None,
) -> None:
    """Check every component's weights (see the module docstring); raise on the first fault.

    ``causal[name]`` says whether the component is causal; ``blocked[name](layer)``
    gives a ``(q, k)`` boolean array of positions that must be 0, or None. Rows
    are checked a block at a time, so the temporary memory stays small.
    """
    for name, source in sources.items():
        is_causal = bool(causal.get(name, False))
        masks = (blocked or {}).get(name)
        lazy = not getattr(source, "holds_weights", True)
        for case in range(source.n_cases):
            q, k = source.shape(case)
            values = None if lazy else source.case_values(case)
            tolerance = _TOLERANCE.get(np.dtype(values.dtype) if values is not None else None, 1e-4)
            step = max(1, BLOCK_VALUES // max(1, source.n_heads * k))
            for layer in range(source.n_layers):
                mask = masks(layer) if masks is not None else None
                stop = q if values is not None else min(q, LAZY_ROWS)
                for row0 in range(0, stop, step):
                    row1 = min(stop, row0 + step)
                    if values is not None:
                        block = np.asarray(values[layer, :, row0:row1], dtype=np.float32)
                    else:
                        block = np.stack(
                            [source.rows(layer, h, case, row0, row1) for h in range(source.n_heads)]
                        )
                    _check_block(
                        name,
                        layer,
                        case,
                        block,
                        row0,
                        k,
                        q,
                        causal=is_causal,
                        blocked=mask,
                        tolerance=tolerance,
                    )
