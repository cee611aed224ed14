"""What every file reader checks: one ValueError naming the file, the field, expected and got.

A file is data from anywhere: each field is checked for its type, shape and
range before it is used, so a crafted or damaged file gives one
:class:`FileError` (a ``ValueError``) and never an ``AttributeError``,
``IndexError``, ``RecursionError``, ``OverflowError`` or ``MemoryError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "FileError",
    "check_size",
    "describe",
    "fail",
    "get",
    "mapping",
    "number_array",
    "parse_json",
    "token_list",
    "whole_number",
]


class FileError(ValueError):
    """A file that cannot be read as attention: ``<file>: <field>: expected ..., got ...``."""


def describe(value: Any) -> str:
    """A short description of a decoded value, for "got ..." (never the whole of it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        text = repr(value)
        return f"the number {text if len(text) <= 24 else text[:20] + '...'}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}{'...' if len(value) > 40 else ''}"
    if isinstance(value, Mapping):
        keys = sorted(str(k) for k in value)
        return f"an object with keys {keys[:8]}{'...' if len(keys) > 8 else ''}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    return f"a {type(value).__name__}"


def fail(origin: str, field: str, expected: str, got: str) -> FileError:
    return FileError(f"{origin}: {field}: expected {expected}, got {got}")


def check_size(origin: str, what: str, size: int, max_bytes: float) -> None:
    """Refuse ``size`` bytes above ``max_bytes``, before anything of that size is allocated."""
    if size > max_bytes:
        raise FileError(
            f"{origin}: {what}: expected at most max_bytes={max_bytes:,.0f} bytes, got "
            f"{size:,} bytes. Pass a larger max_bytes= to read (or set "
            "attn_widget.io.MAX_BYTES) for a file you trust"
        )


def parse_json(origin: str, field: str, text: str) -> Any:
    """``json.loads`` whose every failure (depth, digits, syntax) is a :class:`FileError`."""
    try:
        return json.loads(text)
    except RecursionError:
        raise fail(origin, field, "JSON nested a few hundred levels at most", "deeper") from None
    except ValueError as error:  # JSONDecodeError, and int digits above sys's limit
        raise fail(origin, field, "valid JSON", f"{str(error)[:120]}") from error


def mapping(origin: str, field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(origin, field, "an object {...}", describe(value))
    return value


def get(origin: str, field: str, container: Mapping[str, Any], key: str) -> Any:
    if key not in container:
        raise fail(origin, field, f"a field {key!r}", describe(container))
    return container[key]


def whole_number(origin: str, field: str, value: Any, low: int, high: int | None = None) -> int:
    """An int in ``low..high`` (``True`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise fail(origin, field, "a whole number", describe(value))
    number = int(value)
    if number < low or (high is not None and number > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        # str() of a huge int is slow (and refused above 4300 digits): say its size.
        bits = number.bit_length()
        got = str(number) if bits <= 64 else f"a number of about {int(bits * 0.30103) + 1} digits"
        raise fail(origin, field, f"a whole number {span}", got)
    return number


def token_list(origin: str, field: str, value: Any) -> list[str]:
    """A list of token strings (a batch of one, ``[[...]]``, tolerated)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not isinstance(value, list):
        raise fail(origin, field, "a list of token strings", describe(value))
    for i, token in enumerate(value):
        if not isinstance(token, str):
            raise fail(origin, f"{field}[{i}]", "a token string", describe(token))
    return value


def number_array(origin: str, field: str, value: Any, layout: str) -> np.ndarray:
    """Nested lists of numbers as a float64 array (the storage check narrows it later)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise fail(
            origin, field, f"{layout} of numbers", "a number too large for a float"
        ) from None
    except (ValueError, TypeError, RecursionError) as error:
        got = "nested lists of different lengths or non-numbers"
        if isinstance(error, RecursionError):
            got = "lists nested too deep"
        raise fail(origin, field, f"{layout} of numbers", f"{got} ({describe(value)})") from None
    return array
