"""Every input layout users have, turned into one checked cube ``(layers, cases, heads, q, k)``.

``outputs.attentions`` from transformers, stacked arrays, a single matrix;
numpy arrays or torch tensors of any float dtype, on any device. The checks
here say what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "PADDING_TOLERANCE",
    "as_numpy",
    "check_padding",
    "check_values",
    "finite_and_non_negative",
    "stored_values",
    "to_cube",
    "token_lists",
]


def as_numpy(values: Any, what: str = "attention") -> np.ndarray:
    """Return ``values`` as a float numpy array on the CPU.

    Accepts numpy arrays and torch tensors of any float dtype (bfloat16
    included), on any device, with or without grad, without importing torch.
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        if getattr(values, "is_meta", False):
            # A meta tensor has a shape and no values; .cpu() would raise NotImplementedError.
            raise ValueError(
                f"{what}: expected a tensor with values, got one on the 'meta' device (shape "
                f"{tuple(values.shape)}, no data): run the model on a real device (cpu, cuda) "
                "with its weights loaded"
            )
        tensor = values.detach().cpu()
        if not tensor.is_floating_point():
            raise ValueError(f"{what}: expected a float tensor, got dtype {tensor.dtype}")
        # numpy has no bfloat16: widen before converting.
        return tensor.float().numpy()
    try:
        array = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as error:
        # numpy's "inhomogeneous shape after 2 dimensions" is about its own internals.
        where = _ragged(values, what)
        raise ValueError(
            f"{what}: expected a rectangular array of numbers (every row the same length); "
            + (
                f"got rows of different lengths: {where}"
                if where
                else f"got nested values that are not numbers ({_first_line(error)})"
            )
        ) from error
    if array.dtype == object:
        raise ValueError(
            f"{what}: expected a rectangular array of numbers (every row the same length), "
            "got ragged or mixed values"
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what}: expected float values, got dtype {array.dtype}")
    return array


def _ragged(values: Any, path: str, depth: int = 0) -> str | None:
    """Where nested lists first differ in length: ``attentions[0][1]: lengths [2, 1]``."""
    if depth > 32 or not isinstance(values, (list, tuple)):
        return None
    lengths = [len(v) if isinstance(v, (list, tuple)) else "a number" for v in values]
    if len({str(n) for n in lengths}) > 1:
        shown = ", ".join(str(n) for n in lengths[:8]) + (", ..." if len(lengths) > 8 else "")
        return f"{path} holds entries of lengths {shown}"
    for i, value in enumerate(values):
        found = _ragged(value, f"{path}[{i}]", depth + 1)
        if found:
            return found
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_array_like(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) or (hasattr(obj, "detach") and hasattr(obj, "shape"))


def to_cube(attentions: Any) -> np.ndarray:
    """Bring every accepted layout to one array ``(layers, cases, heads, q, k)``."""
    if _is_array_like(attentions):
        array = as_numpy(attentions, "attentions")
        if array.ndim == 5:
            return array
        if array.ndim == 4:
            return array[:, None]
        if array.ndim == 2:
            return array[None, None, None]
        hint = (
            " A (heads, q, k) array is one layer: pass it in a list, [array]."
            if array.ndim == 3
            else ""
        )
        raise ValueError(
            "attentions: expected an array of shape (layers, cases, heads, q, k), "
            "(layers, heads, q, k) or (q, k), or a sequence of per-layer arrays; "
            f"got an array of shape {tuple(array.shape)}.{hint}"
        )
    if isinstance(attentions, Sequence) and not isinstance(attentions, (str, bytes)):
        if len(attentions) == 0:
            raise ValueError(
                "attentions: expected at least one layer, got an empty sequence "
                "(transformers returns () when the sdpa attention cannot give weights: "
                "use attn_widget.from_model, or load the model with attn_implementation='eager')"
            )
        layers = [as_numpy(a, f"attentions[{i}]") for i, a in enumerate(attentions)]
        ranks = {a.ndim for a in layers}
        shapes = {a.shape for a in layers}
        if len(shapes) != 1:
            raise ValueError(
                "attentions: every layer must have the same shape; got "
                + ", ".join(str(tuple(a.shape)) for a in layers)
            )
        (rank,) = ranks
        if rank == 4:
            return np.stack(layers)
        if rank == 3:
            return np.stack(layers)[:, None]
        raise ValueError(
            "attentions: expected per-layer arrays of shape (cases, heads, q, k) or "
            f"(heads, q, k); got per-layer arrays of shape {tuple(layers[0].shape)}"
        )
    raise ValueError(
        "attentions: expected a numpy array, a torch tensor or a sequence of them; "
        f"got {type(attentions).__name__}"
    )


# Float dtype -> (unsigned integer of its size, bit pattern of +inf).
_INF_BITS = {
    np.dtype(np.float16): (np.uint16, 0x7C00),
    np.dtype(np.float32): (np.uint32, 0x7F800000),
    np.dtype(np.float64): (np.uint64, 0x7FF0000000000000),
}


def finite_and_non_negative(cube: np.ndarray) -> bool:
    """True when every value is finite and >= 0 (-0.0 answers False; the caller rechecks).

    A float with its sign bit clear, read as an unsigned integer, is below the
    bits of +inf exactly when it is finite; a set sign bit reads above. An
    integer max is fast for every float width (numpy's float16 min/max is not).
    """
    entry = _INF_BITS.get(cube.dtype)
    if entry is not None:
        unsigned, inf = entry
        return bool(cube.view(unsigned).max() < inf)
    low, high = cube.min(), cube.max()
    return bool(np.isfinite(low) and np.isfinite(high) and low >= 0)


def check_values(cube: np.ndarray) -> None:
    layers, cases, heads, q, k = cube.shape
    if min(layers, cases, heads) == 0:
        raise ValueError(
            "attentions: expected at least one layer, case and head; got "
            f"layers={layers}, cases={cases}, heads={heads}"
        )
    if q == 0 or k == 0:
        raise ValueError(f"attentions: expected a non-empty sequence; got q={q}, k={k}")
    # Fast path: one reduction, no temporary array, so valid gigabyte cubes are
    # checked in one pass; only a bad cube goes on to locate its first bad value.
    if finite_and_non_negative(cube):
        return
    finite = np.isfinite(cube)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"attentions: expected finite values; got {len(bad)} NaN or infinite "
            f"value(s), the first at (layer, case, head, q, k) = {first}"
        )
    negative = cube < 0
    if negative.any():
        bad = np.argwhere(negative)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"attentions: expected non-negative weights; got {len(bad)} negative "
            f"value(s), the first {float(cube[first]):.3g} at (layer, case, head, q, k) = {first}"
        )


def _token(value: Any, what: str, where: str) -> str:
    """One token as text: ``str`` as is; ``bytes`` decoded as UTF-8.

    Byte tokens are what byte-level tokenizers (tiktoken's
    ``decode_single_token_bytes``) give; a character split over two tokens
    leaves partial UTF-8, shown as its bytes (``\\xe4``) rather than refused.
    """
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    raise ValueError(
        f"{what}: expected token strings (or bytes); got {type(value).__name__} "
        f"{value!r:.40} at {where}"
    )


def _is_token_list(value: Any) -> bool:
    """A list of tokens (one case), as opposed to one token."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def token_lists(tokens: Any, cases: int, side: int, what: str) -> list[list[str]]:
    """Per-case token lists; a flat list is shared by all cases.

    Lengths are checked by the caller: a list shorter than ``side`` is a case
    with padding, which :class:`~attn_widget.data.AttentionData` crops when
    (and only when) the padding receives no weight.
    """
    if tokens is None:
        return [[str(i) for i in range(side)] for _ in range(cases)]
    if isinstance(tokens, np.ndarray):
        tokens = tokens.tolist()
    if isinstance(tokens, (str, bytes, bytearray)) or not isinstance(tokens, Sequence):
        raise ValueError(
            f"{what}: expected a list of strings or a list of lists (one per case); "
            f"got {type(tokens).__name__}"
        )
    if len(tokens) > 0 and all(_is_token_list(t) for t in tokens):
        if len(tokens) != cases:
            raise ValueError(
                f"{what}: got {len(tokens)} token lists but the attention has {cases} case(s)"
            )
        return [
            [_token(t, what, f"case {c}, position {i}") for i, t in enumerate(case)]
            for c, case in enumerate(tokens)
        ]
    shared = [_token(t, what, f"position {i}") for i, t in enumerate(tokens)]
    return [list(shared) for _ in range(cases)]


# Padding (a case's positions past its tokens) gets no weight from a masked
# softmax: exactly 0, or at most this after a finite mask value such as -1e4.
PADDING_TOLERANCE = 1e-6


def check_padding(cube: np.ndarray, case: int, rows: slice, nk: int, side: str) -> None:
    """Refuse to crop key positions that receive weight: they are tokens, not padding."""
    k = cube.shape[-1]
    dropped = slice(0, k - nk) if side == "left" else slice(nk, k)
    block = cube[:, case, :, rows, dropped]
    largest = float(block.max()) if block.size else 0.0
    if largest <= PADDING_TOLERANCE:
        return
    raise ValueError(
        f"tokens: got {nk} tokens for {k} key positions in case {case}, and the {k - nk} "
        f"position(s) left out ({dropped.start}..{dropped.stop - 1}, {side} padding) receive "
        f"attention up to {largest:.3g} from the kept queries, so they are not padding "
        "(padding receives none). A token list shorter than the matrices, shared or per "
        "case, crops only padding: give one token per position, or mask the padding in the "
        "model's forward; to look at part of a sequence, slice the matrices first"
    )


def stored_values(block: np.ndarray, dtype: np.dtype, case: int) -> np.ndarray:
    """``block`` in the storage dtype, refused when a value does not fit in it.

    The finiteness check ran on the input; 1e300 is finite as float64 and
    inf as float32 (float16 overflows above 65504), so a narrowing conversion
    is checked again, on the stored values.
    """
    with np.errstate(over="ignore"):
        stored = np.ascontiguousarray(block, dtype=dtype)
    narrowed = block.dtype.itemsize > stored.dtype.itemsize
    if not narrowed and np.issubdtype(block.dtype, np.floating):
        return stored
    if finite_and_non_negative(stored) or np.isfinite(stored).all():
        return stored
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(stored))[0])
    hint = " (pass dtype=np.float32)" if dtype == np.float16 else ""
    raise ValueError(
        f"attentions: expected values that fit in {dtype}{hint}; got {float(block[first]):.3g} "
        f"at (layer, head, q, k) = {first} of case {case}, over its largest "
        f"{float(np.finfo(dtype).max):.3g}"
    )
