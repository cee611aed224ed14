"""The JSON layouts other tools write, and the one :func:`attn_widget.io.to_json` writes.

* ``{"tokens", "attention_matrices", "text"?, "attention_mask"?}`` with the
  matrices as ``[layer][head][q][k]``, or with a batch of one at any of the
  first three levels: ``[1][layer][head][q][k]``, ``[layer][1][head][q][k]``
  (``outputs.attentions`` stacked), or ``[layer][head][1][q][k]``, which is
  what EnsembleModel's ``AttentionExtractor.save_attention_data`` writes (one
  ``(1, q, k)`` softmax per head). Padding is cropped (see :mod:`.padding`) and
  the tokens get the display treatment of tokens from a model (``Ġis`` is
  shown as ``␣is``, ``##ing`` as ``·ing``), the file's tokens kept as
  ``raw_tokens``.
* ``{"tokens", "layers": [{"layer_idx", "heads": [{"head_idx", "attention"}]}]}``
  (``to_json``); its tokens are display tokens already.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data import AttentionData
from ..extract.tokens import display_tokens
from .checks import FileError, describe, fail, get, mapping, number_array, token_list
from .padding import crop_case

__all__ = ["from_document"]

_MATRICES = "[layer][head][q][k] (a batch of 1 tolerated)"


def _text(origin: str, document: Mapping[str, Any]) -> dict[str, Any]:
    text = document.get("text")
    if text is None:
        return {}
    if not isinstance(text, str):
        raise fail(origin, "text", "a string", describe(text))
    return {"text": text}


def _four_dimensional(origin: str, cube: np.ndarray) -> np.ndarray:
    if cube.ndim == 5:
        # EnsembleModel's per-head batch first: its one-layer files, (1, heads, 1, q, k),
        # are read as one layer of many heads rather than many layers of one head.
        for axis in (2, 1, 0):
            if cube.shape[axis] == 1:
                return cube.squeeze(axis)
    if cube.ndim != 4:
        raise fail(origin, "attention_matrices", _MATRICES, f"shape {cube.shape}")
    return cube


def _from_matrices(origin: str, document: Mapping[str, Any]) -> dict[str, AttentionData]:
    """``attention_matrices`` in any of the batch layouts, padding cropped, tokens displayed."""
    values = number_array(origin, "attention_matrices", document["attention_matrices"], _MATRICES)
    cube = _four_dimensional(origin, values)
    tokens = token_list(origin, "tokens", document["tokens"])
    cube, kept, padding = crop_case(cube, tokens, document.get("attention_mask"), origin)
    meta: dict[str, Any] = {"source": origin, **_text(origin, document)}
    if padding is not None:
        meta["padding"] = padding
    try:
        data = AttentionData(cube, display_tokens(kept), raw_tokens=[kept], meta=meta)
    except ValueError as error:
        raise FileError(f"{origin}: attention_matrices: {error}") from error
    return {"attention": data}


def _indexed(origin: str, field: str, items: Any, key: str) -> list[Mapping[str, Any]]:
    """``items`` sorted by their ``key`` index, which must number them 0..n-1."""
    if not isinstance(items, list) or not items:
        raise fail(origin, field, f"a non-empty list of objects with {key!r}", describe(items))
    checked = [mapping(origin, f"{field}[{i}]", item) for i, item in enumerate(items)]
    indices = [get(origin, f"{field}[{i}]", item, key) for i, item in enumerate(checked)]
    if sorted(i for i in indices if isinstance(i, int) and not isinstance(i, bool)) != list(
        range(len(checked))
    ):
        raise fail(
            origin,
            f"{field}: {key}",
            f"each of 0..{len(checked) - 1} once",
            describe(indices) if len(indices) > 8 else str(indices),
        )
    return [item for _, item in sorted(zip(indices, checked, strict=True), key=lambda p: p[0])]


def _from_layers(origin: str, document: Mapping[str, Any]) -> dict[str, AttentionData]:
    """The layout :func:`attn_widget.io.to_json` writes."""
    layers = _indexed(origin, "layers", document["layers"], "layer_idx")
    grid = []
    for i, layer in enumerate(layers):
        heads = _indexed(
            origin, f"layers[{i}].heads", get(origin, f"layers[{i}]", layer, "heads"), "head_idx"
        )
        grid.append([get(origin, f"layers[{i}].heads", head, "attention") for head in heads])
    cube = number_array(origin, "layers", grid, "[layer][head] matrices [q][k] of one shape")
    if cube.ndim != 4:
        raise fail(
            origin, "layers", "[layer][head] matrices [q][k] of one shape", f"shape {cube.shape}"
        )
    q, k = cube.shape[2:]
    tokens = token_list(origin, "tokens", document["tokens"])
    query = document.get("query_tokens")
    queries = token_list(origin, "query_tokens", query) if query is not None else None
    if len(tokens) != k or len(queries if queries is not None else tokens) != q:
        raise fail(
            origin,
            "tokens",
            f"{q} query and {k} key tokens for the {q} x {k} matrices"
            + ("" if queries is not None else " (one list: self-attention)"),
            f"{len(queries) if queries is not None else len(tokens)} and {len(tokens)}",
        )
    meta = {key: document[key] for key in ("text", "model", "component") if key in document}
    for key, value in meta.items():
        if value is not None and not isinstance(value, str):
            raise fail(origin, key, "a string or null", describe(value))
    name = meta.get("component") or "attention"
    try:
        data = AttentionData(cube, tokens, target_tokens=queries, meta=meta)
    except ValueError as error:
        raise FileError(f"{origin}: layers: {error}") from error
    return {str(name): data}


def from_document(origin: str, document: Any, formats: str) -> dict[str, AttentionData]:
    """Component name -> AttentionData of a decoded JSON document (``formats``: for errors)."""
    if not isinstance(document, dict) or "tokens" not in document:
        raise FileError(f"{origin}: JSON with {describe(document)}; expected {formats}")
    if "layers" in document:
        return _from_layers(origin, document)
    if "attention_matrices" not in document:
        raise FileError(f"{origin}: JSON with {describe(document)}; expected {formats}")
    return _from_matrices(origin, document)
