"""Saving and loading attention without pickle.

``save`` writes an ``.npz``: one float array per component and case, and a
JSON manifest (component names, tokens, raw tokens, model name, text, any
metadata). ``load`` reads it with ``allow_pickle=False``, and also reads

* the JSON layout ``{"tokens", "text", "attention_matrices"[layer][head]}``
  (a batch dimension of 1 tolerated at any of the first three levels, as
  EnsembleModel writes it; padding cropped) and the layout that
  :func:`to_json` writes;
* ``.pt`` files holding ``{"attention_scores", "tokens_list"}``, through
  ``torch.load(weights_only=True)`` only.

A file is recognised by its content, not its name. Anything else, a raw
pickle above all, is refused before any of it is interpreted; every field is
checked (:mod:`attn_widget.formats`), and sizes are checked against
``max_bytes`` (default :data:`MAX_BYTES`) before anything is allocated.
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._files import atomic_file, write_atomic
from .data import AttentionData, AttentionSource
from .formats.checks import FileError, check_size
from .formats.json_layouts import from_document
from .formats.npz import FORMAT, read_npz
from .formats.npz import MANIFEST as _MANIFEST
from .formats.torch_file import read_torch
from .media import media_arrays  # image PNG, waveform (issue 14)

__all__ = ["MAX_BYTES", "components_of", "read", "save", "to_json"]

# The most attention a file may hold before read() refuses it unread (1 GiB):
# well above a 12-layer, 12-head model at 512 tokens (151 MB a case), well
# below what fills a laptop. Set it here, or pass read(path, max_bytes=...).
MAX_BYTES = 2**30
_FORMATS = (
    "an attn_widget .npz (aw.save), a JSON file with 'tokens' and 'attention_matrices' "
    "(or 'layers', as written by to_json), or a torch .pt zip file with 'attention_scores' "
    "and 'tokens_list'"
)
Components = Mapping[str, AttentionSource]


# ------------------------------------------------------------------- helpers
def components_of(obj: Any) -> dict[str, AttentionSource]:
    """Name -> source for one source or a mapping of them (a widget's are ``w.components``)."""
    if isinstance(obj, AttentionSource):
        return {str(obj.meta.get("component", "attention")): obj}
    if isinstance(obj, Mapping) and all(isinstance(v, AttentionSource) for v in obj.values()):
        if not obj:
            raise ValueError("obj: expected at least one component, got an empty mapping")
        return {str(name): source for name, source in obj.items()}
    raise TypeError(
        "obj: expected an AttentionWidget, an AttentionData, a LazyAttention or a dict of them; "
        f"got {type(obj).__name__}"
    )


def _jsonable(value: Any) -> Any:
    """Metadata as JSON: numpy scalars and arrays become numbers and lists, the rest text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return str(value)


def _path(path: str | os.PathLike[str]) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    return pathlib.Path(path).expanduser()


# ---------------------------------------------------------------------- save
def save(
    obj: AttentionSource | Components,
    path: str | os.PathLike[str],
    *,
    meta: Mapping[str, Any] | None = None,
    compressed: bool = False,
) -> pathlib.Path:
    """Write ``obj`` (an attention source or a dict of them) to an ``.npz``.

    ``meta`` is added to the saved metadata. The file is written atomically
    and only holds numeric arrays and one JSON text: reading it never unpickles.
    Returns the written path.
    """
    components = components_of(obj)
    arrays: dict[str, np.ndarray] = {}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "meta": _jsonable(dict(meta or {})),
        "components": [],
    }
    for i, (name, data) in enumerate(components.items()):
        for case in range(data.n_cases):
            arrays[f"c{i}_case{case}"] = data.case_values(case)
        arrays.update(media_arrays(data, f"m{i}"))  # issue 14: image as PNG bytes, envelope
        manifest["components"].append(
            {
                "name": name,
                "cases": data.n_cases,
                "is_cross": bool(data.is_cross),
                "tokens": data.tokens,
                "query_tokens": data.query_tokens,
                "raw_tokens": _jsonable(data.raw_tokens),
                "meta": _jsonable(data.meta),
            }
        )
    arrays[_MANIFEST] = np.array(json.dumps(manifest, ensure_ascii=False))
    # Streamed into the temporary file (no in-memory copy of the arrays), then
    # renamed over the target.
    with atomic_file(_path(path)) as (handle, target):
        # (numpy's stubs read **arrays as possibly holding allow_pickle=)
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)  # type: ignore[arg-type]
    return target


# ---------------------------------------------------------------------- read
def _limit(max_bytes: float | None) -> float:
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise ValueError(f"max_bytes: expected a number of bytes > 0 (or math.inf), got {limit!r}")
    return limit


def _read_json(source: pathlib.Path, max_bytes: float) -> dict[str, AttentionData]:
    origin = str(source)
    # The text is parsed whole: its size is what is held in memory.
    check_size(origin, "file size", source.stat().st_size, max_bytes)
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileError(f"{source}: an unknown binary file; expected {_FORMATS}") from error
    if not text.lstrip().startswith("{"):
        raise FileError(f"{source}: an unknown file; expected {_FORMATS}")
    try:
        document = json.loads(text)
    except RecursionError:
        raise FileError(
            f"{source}: JSON nested deeper than Python's parser goes; expected {_FORMATS}"
        ) from None
    except ValueError as error:  # JSONDecodeError, and integers of more than 4300 digits
        raise FileError(f"{source}: not valid JSON ({error}); expected {_FORMATS}") from error
    return from_document(origin, document, _FORMATS)


def read(
    path: str | os.PathLike[str], *, max_bytes: float | None = None
) -> dict[str, AttentionData]:
    """Component name -> AttentionData from any file :func:`load` reads.

    A damaged or crafted file gives one ``ValueError`` naming the file, the
    field, what was expected and what came. ``max_bytes`` bounds the attention
    a file may hold (default :data:`MAX_BYTES`; ``math.inf`` for no bound): an
    ``.npz``'s arrays as their headers declare them, checked before any is
    read; a ``.pt`` file's tensors as its zip directory declares them; a JSON
    file's size. Data that does not fit its tokens is refused, never cut.
    """
    limit = _limit(max_bytes)
    source = _path(path)
    if not source.is_file():
        raise ValueError(f"path: expected an existing file, got {source}")
    with source.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(source) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
            raise FileError(
                f"{source}: a damaged zip file ({error}); expected {_FORMATS}"
            ) from error
        if f"{_MANIFEST}.npy" in names:
            return read_npz(source, limit)
        if any(n.endswith("data.pkl") for n in names):
            return read_torch(source, limit, _FORMATS)
        raise FileError(f"{source}: a zip file with {names[:5]}; expected {_FORMATS}")
    if head.startswith(b"\x80") or head[:1] in (b"(", b"c", b"]", b"}"):
        raise FileError(
            f"{source}: looks like a pickle; attn_widget never unpickles files. Expected {_FORMATS}"
        )
    return _read_json(source, limit)


# ------------------------------------------------------------------- to_json
def to_json(
    obj: AttentionSource | Components,
    path: str | os.PathLike[str],
    *,
    component: str | None = None,
    case: int = 0,
) -> pathlib.Path:
    """Write one component and case as JSON for web front ends.

    Layout: ``{"tokens", "text", "layers": [{"layer_idx", "heads": [{"head_idx",
    "attention"}]}]}``, each ``attention`` a ``[q][k]`` list of the case's own
    tokens (no padding), values rounded to 7 decimals. Cross-attention adds
    ``"query_tokens"``. A widget gives its current component and case unless
    told otherwise; other inputs the first of each.
    """
    components = components_of(obj)
    name = component or getattr(obj, "component", None) or next(iter(components))
    if name not in components:
        raise ValueError(f"component: expected one of {list(components)}, got {name!r}")
    data = components[name]
    data.check_index(case=case)
    values = data.case_values(case)
    text = data.meta.get("text")
    if isinstance(text, list):
        text = text[case] if case < len(text) else None
    document: dict[str, Any] = {
        "tokens": data.tokens[case],
        "text": text,
        "model": data.meta.get("model"),
        "component": name,
        "layers": [
            {
                "layer_idx": layer,
                "heads": [
                    {
                        "head_idx": head,
                        "attention": np.round(values[layer, head].astype(np.float64), 7).tolist(),
                    }
                    for head in range(values.shape[1])
                ],
            }
            for layer in range(values.shape[0])
        ],
    }
    if data.is_cross:
        document["query_tokens"] = data.query_tokens[case]
    try:
        encoded = json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (in the text, say) has no UTF-8: escaped as \ud800 it
        # is still valid JSON, and JSON.parse and json.loads give it back.
        encoded = json.dumps(document).encode("ascii")
    return write_atomic(path, encoded)
