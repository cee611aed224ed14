"""Attention-Viewer's ``.pt`` files, read through ``torch.load(weights_only=True)`` only.

The layout: ``{"attention_scores": per-layer tensors (batch, heads, q, k) or
(heads, q, k), "tokens_list": tokens or one token list per case,
"attention_mask"?: (batch, k), "text"?}``. ``weights_only=True`` is torch's
restricted unpickler: it builds tensors and plain containers and refuses every
other global, so nothing in the file runs. A file it refuses is refused here,
and the message never suggests ``weights_only=False`` (which would run the
file's code).
"""

from __future__ import annotations

import pathlib
import re
import zipfile
from typing import Any

import numpy as np

from ..data import AttentionData
from ..extract.tokens import display_tokens, token_scheme
from .checks import FileError, check_size, describe, fail
from .padding import crop_case

__all__ = ["read_torch"]

# Sentences of torch's refusal that advise loading the file anyway.
_ADVICE = (
    "weights_only",
    "weights only",
    "trust",
    "safe_globals",
    "allowlist",
    "documentation",
    "pytorch 2.",
)


def _reason(error: BaseException) -> str:
    """Why torch refused, without its advice to turn the protection off."""
    text = " ".join(str(error).split())
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    kept = [s for s in sentences if not any(word in s.lower() for word in _ADVICE)]
    return kept[0][:200] if kept else type(error).__name__


def _check_sizes(path: pathlib.Path, origin: str, max_bytes: float) -> None:
    """The tensors' bytes (the archive's ``data/`` records), from the zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, NotImplementedError) as error:
        raise fail(origin, "file", "a torch zip archive", f"damage ({error})") from error
    total = sum(info.file_size for info in infos if "/data/" in info.filename)
    check_size(origin, "the tensors together", total, max_bytes)


def _array(origin: str, field: str, value: Any) -> np.ndarray:
    import torch

    try:
        tensor = torch.as_tensor(value)
        if not (tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32)):
            raise fail(origin, field, "float tensors", f"dtype {tensor.dtype}")
        return np.asarray(tensor.detach().float().cpu())
    except FileError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise fail(origin, field, "tensors of numbers", describe(value)) from error


def _tokens(origin: str, value: Any, cases: int) -> list[list[str]]:
    if isinstance(value, list) and value and all(isinstance(t, str) for t in value):
        value = [value]
    if not isinstance(value, list) or len(value) != cases:
        raise fail(origin, "tokens_list", f"{cases} token list(s), one per case", describe(value))
    for c, tokens in enumerate(value):
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise fail(origin, f"tokens_list[{c}]", "a list of token strings", describe(tokens))
    return value


def read_torch(path: pathlib.Path, max_bytes: float, formats: str) -> dict[str, AttentionData]:
    import torch

    origin = str(path)
    _check_sizes(path, origin, max_bytes)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # every refusal and damage reads the same to the user
        raise FileError(
            f"{origin}: refused ({_reason(error)}). attn_widget reads .pt files only through "
            "torch.load(weights_only=True), which builds tensors and plain containers and "
            f"never runs code from the file; this file needs more. Expected {formats}"
        ) from error
    if not isinstance(content, dict) or not {"attention_scores", "tokens_list"} <= set(content):
        raise fail(
            origin, "content", "a dict with 'attention_scores' and 'tokens_list'", describe(content)
        )
    scores = content["attention_scores"]
    # A tuple of per-layer tensors (outputs.attentions), or one tensor stacked over layers.
    stacked = isinstance(scores, torch.Tensor) and scores.ndim >= 1
    layers = list(scores) if isinstance(scores, (list, tuple)) or stacked else [scores]
    arrays = [_array(origin, f"attention_scores[{i}]", layer) for i, layer in enumerate(layers)]
    if not arrays or len({a.shape for a in arrays}) != 1 or arrays[0].ndim not in (3, 4):
        raise fail(
            origin,
            "attention_scores",
            "per-layer tensors of one shape (batch, heads, q, k) or (heads, q, k)",
            ", ".join(str(a.shape) for a in arrays[:4]) or "nothing",
        )
    cube = np.stack(arrays)
    if cube.ndim == 4:  # (layers, heads, q, k): one case
        cube = cube[:, None]
    tokens = _tokens(origin, content["tokens_list"], cube.shape[1])
    masks = content.get("attention_mask")
    if masks is not None:
        masks = _array(origin, "attention_mask", masks)
        if masks.ndim == 1:
            masks = masks[None]
        if masks.ndim != 2 or masks.shape[0] != cube.shape[1]:
            raise fail(
                origin,
                "attention_mask",
                f"(batch, k) with a batch of {cube.shape[1]}",
                f"shape {masks.shape}",
            )
    cases, kept, notes = [], [], []
    for c in range(cube.shape[1]):
        values, case_tokens, note = crop_case(
            cube[:, c],
            tokens[c],
            None if masks is None else masks[c].tolist(),
            origin,
            (f"attention_scores (case {c})", f"tokens_list[{c}]", f"attention_mask[{c}]"),
        )
        cases.append(values)
        kept.append(case_tokens)
        notes.append(note)
    meta: dict[str, Any] = {"source": origin}
    text = content.get("text")
    if text is not None:
        if not (
            isinstance(text, str)
            or (isinstance(text, list) and all(isinstance(t, str) for t in text))
        ):
            raise fail(origin, "text", "a string or a list of strings", describe(text))
        meta["text"] = text
    if any(note is not None for note in notes):
        meta["padding"] = notes if len(notes) > 1 else notes[0]
    # One scheme for every case, guessed from the markers (Ġ, ▁, ##) of all of them.
    scheme = token_scheme(None, [t for case in kept for t in case])
    try:
        data = AttentionData.from_cases(
            cases, [display_tokens(t, scheme=scheme) for t in kept], raw_tokens=kept, meta=meta
        )
    except ValueError as error:
        raise FileError(f"{origin}: attention_scores: {error}") from error
    return {"attention": data}
