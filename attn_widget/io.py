"""Saving and loading attention without pickle.

``save`` writes an ``.npz``: one float array per component and case, and a
JSON manifest (component names, tokens, raw tokens, model name, text, any
metadata). ``load`` reads it with ``allow_pickle=False``, and also reads

* the JSON layout ``{"tokens", "text", "attention_matrices"[layer][head]}``
  (a batch dimension of 1 tolerated, padding cropped) and the layout that
  :func:`to_json` writes;
* ``.pt`` files holding ``{"attention_scores", "tokens_list"}``, through
  ``torch.load(weights_only=True)`` only.

A file is recognised by its content, not its name. Anything else, a raw
pickle above all, is refused before any of it is interpreted.
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._files import atomic_file, write_atomic
from .data import AttentionData, AttentionSource
from .media import media_arrays, restore_media  # image PNG, waveform (issue 14)

__all__ = ["components_of", "read", "save", "to_json"]

FORMAT = "attn_widget/1"
_MANIFEST = "manifest"
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
        writer = np.savez_compressed if compressed else np.savez
        writer(handle, **arrays)  # type: ignore[arg-type]
    return target


# ---------------------------------------------------------------------- read
def _read_npz(path: pathlib.Path) -> dict[str, AttentionData]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _MANIFEST not in archive.files:
                raise ValueError(
                    f"{path}: a .npz without an attn_widget manifest; expected {_FORMATS}"
                )
            manifest = json.loads(str(archive[_MANIFEST]))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"{path}: format {manifest.get('format')!r}; expected {FORMAT!r}")
            out: dict[str, AttentionData] = {}
            for i, part in enumerate(manifest["components"]):
                cases = [archive[f"c{i}_case{c}"] for c in range(part["cases"])]
                dtype = np.float16 if cases[0].dtype == np.float16 else np.float32
                meta = {**part.get("meta", {}), **manifest.get("meta", {})}
                out[part["name"]] = AttentionData.from_cases(
                    cases,
                    part["tokens"],
                    target_tokens=part["query_tokens"] if part["is_cross"] else None,
                    dtype=dtype,
                    raw_tokens=part.get("raw_tokens"),
                    meta=meta,
                )
                restore_media(out[part["name"]], archive, f"m{i}")  # issue 14
            return out
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: a damaged attn_widget .npz ({error})") from error


def _crop_padding(
    cube: np.ndarray, tokens: list[str], mask: Sequence[Any] | np.ndarray | None
) -> tuple[np.ndarray, list[str]]:
    """One case ``(layers, heads, q, k)`` cropped to its real tokens.

    With an attention mask, its ones are the tokens. Without one, a run of key
    positions at either end that no query gives any weight, in any layer or
    head, is padding (softmax gives exactly 0 only to masked keys).
    """
    side = cube.shape[-1]
    if mask is not None:
        keep = np.flatnonzero(np.asarray(mask).reshape(-1)[:side])
    else:
        unused = np.asarray(~cube.any(axis=(0, 1, 2)))
        start, stop = 0, side
        while start < stop and unused[start]:
            start += 1
        while stop > start and unused[stop - 1]:
            stop -= 1
        keep = np.arange(start, stop)
    if len(keep) == side:
        return cube, tokens[:side] if len(tokens) >= side else tokens
    cube = cube[:, :, keep][:, :, :, keep]
    if len(tokens) == side:
        tokens = [tokens[i] for i in keep]
    return cube, tokens


def _token_list(tokens: Any, what: str) -> list[str]:
    if isinstance(tokens, list) and len(tokens) == 1 and isinstance(tokens[0], list):
        tokens = tokens[0]  # a batch of one
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{what}: expected a list of token strings, got {type(tokens).__name__}")
    return tokens


def _from_matrices(
    matrices: Any, tokens: Any, mask: Any, text: Any, origin: str
) -> dict[str, AttentionData]:
    """The JSON layout ``attention_matrices[layer][head][q][k]`` (batch of 1 tolerated)."""
    try:
        cube = np.asarray(matrices, dtype=np.float32)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{origin}: attention_matrices: expected nested lists [layer][head][q][k] of numbers "
            f"({error})"
        ) from error
    if cube.ndim == 5:
        # [layer][1][head][q][k] (transformers' per-layer batches) or [1][layer][head][q][k].
        if cube.shape[1] == 1:
            cube = cube[:, 0]
        elif cube.shape[0] == 1:
            cube = cube[0]
    if cube.ndim != 4:
        raise ValueError(
            f"{origin}: attention_matrices: expected [layer][head][q][k] (a batch of 1 "
            f"tolerated), got shape {cube.shape}"
        )
    if mask is not None:
        mask = np.asarray(mask).reshape(-1)
    tokens = _token_list(tokens, f"{origin}: tokens")
    cube, tokens = _crop_padding(cube, tokens, mask)
    meta = {"source": origin, **({"text": text} if text is not None else {})}
    return {"attention": AttentionData(cube, tokens, meta=meta)}


def _from_layers(document: Mapping[str, Any], origin: str) -> dict[str, AttentionData]:
    """The layout :func:`to_json` writes."""
    try:
        layers = sorted(document["layers"], key=lambda layer: layer["layer_idx"])
        cube = np.asarray(
            [
                [h["attention"] for h in sorted(layer["heads"], key=lambda h: h["head_idx"])]
                for layer in layers
            ],
            dtype=np.float32,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{origin}: layers: expected [{{'layer_idx', 'heads': [{{'head_idx', 'attention'}}]}}] "
            f"({error})"
        ) from error
    query = document.get("query_tokens")
    meta = {k: document[k] for k in ("text", "model", "component") if k in document}
    data = AttentionData(
        cube,
        _token_list(document["tokens"], f"{origin}: tokens"),
        target_tokens=_token_list(query, f"{origin}: query_tokens") if query else None,
        meta=meta,
    )
    return {str(document.get("component", "attention")): data}


def _read_json(path: pathlib.Path, text: str) -> dict[str, AttentionData]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); expected {_FORMATS}") from error
    if not isinstance(document, dict) or "tokens" not in document:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{path}: JSON with keys {keys}; expected {_FORMATS}")
    if "layers" in document:
        return _from_layers(document, str(path))
    if "attention_matrices" not in document:
        raise ValueError(f"{path}: JSON with keys {sorted(document)}; expected {_FORMATS}")
    return _from_matrices(
        document["attention_matrices"],
        document["tokens"],
        document.get("attention_mask"),
        document.get("text"),
        str(path),
    )


def _read_torch(path: pathlib.Path) -> dict[str, AttentionData]:
    import torch

    try:
        # weights_only: torch's restricted unpickler, which builds tensors and
        # plain containers and refuses every other global.
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # every refusal and damage reads the same to the user
        raise ValueError(
            f"{path}: refused by torch.load(weights_only=True) ({str(error).splitlines()[0]}); "
            f"expected {_FORMATS}"
        ) from error
    if not isinstance(content, dict) or not {"attention_scores", "tokens_list"} <= set(content):
        found = sorted(content) if isinstance(content, dict) else type(content).__name__
        raise ValueError(
            f"{path}: a .pt file with {found}; expected a dict with 'attention_scores' and "
            "'tokens_list'"
        )
    scores, tokens = content["attention_scores"], content["tokens_list"]
    if isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens):
        tokens = [tokens]
    layers = scores if isinstance(scores, (list, tuple)) else list(scores)
    cube = np.stack([np.asarray(torch.as_tensor(a).float()) for a in layers])
    if cube.ndim == 4:  # (layers, heads, q, k): one case
        cube = cube[:, None]
    if cube.ndim != 5:
        raise ValueError(
            f"{path}: attention_scores: expected (layers, [batch,] heads, q, k), got {cube.shape}"
        )
    if len(tokens) != cube.shape[1]:
        raise ValueError(
            f"{path}: tokens_list has {len(tokens)} token lists for {cube.shape[1]} case(s)"
        )
    masks = content.get("attention_mask")
    cases, kept = [], []
    for c in range(cube.shape[1]):
        mask = None if masks is None else np.asarray(torch.as_tensor(masks[c]))
        values, case_tokens = _crop_padding(cube[:, c], list(tokens[c]), mask)
        values = values[:, :, : len(case_tokens), : len(case_tokens)]
        cases.append(values)
        kept.append(case_tokens)
    meta = {"source": str(path)}
    if "text" in content:
        meta["text"] = content["text"]
    return {"attention": AttentionData.from_cases(cases, kept, meta=meta)}


def read(path: str | os.PathLike[str]) -> dict[str, AttentionData]:
    """Component name -> AttentionData from any file :func:`load` reads."""
    source = _path(path)
    if not source.is_file():
        raise ValueError(f"path: expected an existing file, got {source}")
    with source.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(source) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as error:
            raise ValueError(
                f"{source}: a damaged zip file ({error}); expected {_FORMATS}"
            ) from error
        if f"{_MANIFEST}.npy" in names:
            return _read_npz(source)
        if any(n.endswith("data.pkl") for n in names):
            return _read_torch(source)
        raise ValueError(f"{source}: a zip file with {names[:5]}; expected {_FORMATS}")
    if head.startswith(b"\x80") or head[:1] in (b"(", b"c", b"]", b"}"):
        raise ValueError(
            f"{source}: looks like a pickle; attn_widget never unpickles files. Expected {_FORMATS}"
        )
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{source}: an unknown binary file; expected {_FORMATS}") from error
    if text.lstrip().startswith("{"):
        return _read_json(source, text)
    raise ValueError(f"{source}: an unknown file; expected {_FORMATS}")


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
    return write_atomic(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))
