"""Figure titles that say what they show: model, component, layer, head, case.

What a title reads from the source's ``meta`` (every key optional):

* ``"model_id"`` or ``"model"``: the model's name (a path is shown by its last part);
* ``"component"``: ``"encoder"``, ``"decoder"``, ``"cross"`` (the single
  component of a decoder-only or encoder-only model, ``"attention"``, is not named);
* ``"layers"`` / ``"heads"``: the model's layer and head numbers of the
  source's layers and heads, when the source holds a slice of a model (the
  analysis views built from ``attentions[2][0, 3]`` carry ``[2]`` and ``[3]``);
  without them a source of one layer and one head is a bare matrix, and its
  title names no layer or head;
* ``"names"``: compare only, the names of A and B (e.g. ``["L8 H9", "L9 H9"]``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["head_name", "layer_name", "model_name", "parts_title", "slice_title"]

SEP = " · "
NAMED_COMPONENTS = ("encoder", "decoder", "cross")


def model_name(meta: Mapping[str, Any]) -> str | None:
    """The model's name for a title, or None when the source does not know it."""
    for key in ("model_id", "model"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip().rstrip("/\\")
            # A local checkpoint folder: its last part names the model.
            return pathlib.PurePath(text).name if ("/" in text or "\\" in text) else text
    return None


def _origin(meta: Mapping[str, Any], key: str, index: int) -> int:
    numbers = meta.get(key)
    if isinstance(numbers, Sequence) and not isinstance(numbers, str) and index < len(numbers):
        value = numbers[index]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return index


def layer_name(meta: Mapping[str, Any], layer: int) -> str:
    """``layer 2``: the model's layer number of the source's ``layer``."""
    return f"layer {_origin(meta, 'layers', layer)}"


def head_name(meta: Mapping[str, Any], head: int | None) -> str:
    """``head 3`` (the model's number) or ``head mean``."""
    return "head mean" if head is None else f"head {_origin(meta, 'heads', head)}"


def _is_bare_matrix(meta: Mapping[str, Any], n_layers: int, n_heads: int) -> bool:
    return n_layers == 1 and n_heads == 1 and "layers" not in meta and "heads" not in meta


def parts_title(meta: Mapping[str, Any], *parts: str | None) -> str:
    """Model and component first, then ``parts`` (None and empty parts left out)."""
    component = meta.get("component")
    named = component if component in NAMED_COMPONENTS else None
    return SEP.join(p for p in (model_name(meta), named, *parts) if p)


def slice_title(
    meta: Mapping[str, Any],
    *,
    layer: int,
    head: int | None,
    case: int,
    n_layers: int,
    n_heads: int,
    n_cases: int,
    what: str | None = None,
) -> str:
    """E.g. ``bert-base · encoder · layer 2 · head 3`` (``· case 1`` with several cases).

    ``what`` (``"compare"``, ...) comes after the component. A source of one
    layer and one head that does not say where it came from names neither.
    """
    where: list[str | None] = []
    if not _is_bare_matrix(meta, n_layers, n_heads):
        where = [layer_name(meta, layer), head_name(meta, head)]
    if n_cases > 1:
        where.append(f"case {case}")
    return parts_title(meta, what, *where) or "attention"
