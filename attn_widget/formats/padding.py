"""Padding in saved attention: found by the attention mask, by weight, or by the pad token's name.

Tools that save a padded batch keep its padding positions. Three ways tell
them apart from tokens, in this order:

1. **The attention mask**, when the file has one: its ones are the tokens.
2. **Weight**: a run of key positions at either end that no query gives any
   weight, in any layer or head, is padding (a masked softmax gives exactly 0).
3. **The pad token's name**, when there is no mask: a run of ``[PAD]``,
   ``<pad>``, ``<|endoftext|>`` (GPT-2's end of text, the usual pad of
   byte-level tokenizers), ... at the end (or the start) of the tokens.
   EnsembleModel's extractor runs without a mask, so its padding *does* get
   weight; cropping it leaves rows that sum to less than 1, and the data's
   ``meta["padding"]`` says so.

Nothing else is cropped: a token list that matches neither the matrices nor
their real tokens is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import describe, fail

__all__ = ["PAD_TOKENS", "crop_case"]

PAD_TOKENS = ("[PAD]", "<pad>", "<|endoftext|>", "<|pad|>", "<PAD>", "[pad]")


def _mask(origin: str, field: str, value: Any, side: int) -> np.ndarray:
    """An attention mask as booleans: ``side`` zeros and ones (a batch of one tolerated)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not isinstance(value, list) or len(value) != side:
        raise fail(
            origin, field, f"a list of {side} zeros and ones (one per position)", describe(value)
        )
    for i, bit in enumerate(value):
        if bit not in (0, 1) or isinstance(bit, str):
            raise fail(origin, f"{field}[{i}]", "0 or 1", describe(bit))
    keep = np.asarray(value, dtype=bool)
    if not keep.any():
        raise fail(origin, field, "at least one 1 (a token)", "only zeros")
    return keep


def _weightless_ends(cube: np.ndarray) -> tuple[int, int]:
    """``start, stop`` of the keys between runs at either end that get no weight at all."""
    unused = np.asarray(~cube.any(axis=(0, 1, 2)), dtype=bool)
    start, stop = 0, len(unused)
    while start < stop and unused[start]:
        start += 1
    while stop > start and unused[stop - 1]:
        stop -= 1
    return start, stop


def _named_ends(tokens: list[str]) -> tuple[int, int, str | None]:
    """``start, stop`` inside runs of one pad token name at either end, and that name."""
    for name in PAD_TOKENS:
        start, stop = 0, len(tokens)
        while stop > 0 and tokens[stop - 1] == name:
            stop -= 1
        while start < stop and tokens[start] == name:
            start += 1
        if (start, stop) != (0, len(tokens)) and stop > start:
            return start, stop, name
    return 0, len(tokens), None


def crop_case(
    cube: np.ndarray,
    tokens: list[str],
    mask: Any,
    origin: str,
    fields: tuple[str, str, str] = ("attention_matrices", "tokens", "attention_mask"),
) -> tuple[np.ndarray, list[str], dict[str, Any] | None]:
    """One self-attention case ``(layers, heads, n, n)`` and its tokens, padding cropped.

    ``tokens`` has one token per position (``n``), or one per real token
    when the padding was already left out of the list (then the positions
    left over must be the padding that 1. or 2. finds). Returns the cropped
    cube, its tokens and a note for ``meta["padding"]`` (None when nothing
    was cropped by name). ``fields`` name the values, matrices, tokens and
    mask, in errors.
    """
    matrices_field, tokens_field, mask_field = fields
    side = cube.shape[-1]
    if cube.shape[-2] != side:
        raise fail(
            origin,
            matrices_field,
            "square matrices [q][k] (self-attention: one token list for both axes)",
            f"{cube.shape[-2]} x {side}",
        )
    if mask is not None:
        keep = np.flatnonzero(_mask(origin, mask_field, mask, side))
    else:
        start, stop = _weightless_ends(cube)
        keep = np.arange(start, stop)
    if len(tokens) == side:
        kept_tokens = [tokens[i] for i in keep]
    elif len(tokens) == len(keep):
        kept_tokens = list(tokens)
    else:
        real = f" ({len(keep)} of them tokens, the rest padding)" if len(keep) != side else ""
        raise fail(
            origin,
            tokens_field,
            f"{side} tokens, one per position of the {side} x {side} matrices{real}",
            f"{len(tokens)} tokens",
        )
    if len(keep) != side:
        cube = cube[:, :, keep][:, :, :, keep]
    note = None
    if mask is None:
        start, stop, name = _named_ends(kept_tokens)
        if name is not None:
            dropped = len(kept_tokens) - (stop - start)
            weight = float(
                np.concatenate(
                    [cube[:, :, start:stop, :start], cube[:, :, start:stop, stop:]], axis=-1
                ).max()
            )
            cube = cube[:, :, start:stop, start:stop]
            kept_tokens = kept_tokens[start:stop]
            note = {
                "cropped": dropped,
                "token": name,
                "by": "token name (the file has no attention mask)",
                "largest_weight_dropped": weight,
                "note": (
                    f"{dropped} {name} position(s) cropped: without a mask they received "
                    f"weight (up to {weight:.3g}), so the kept rows sum to less than 1"
                ),
            }
    return np.ascontiguousarray(cube), kept_tokens, note
