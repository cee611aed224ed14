"""Reading an attn_widget ``.npz`` safely: sizes from the headers, every manifest field checked.

``numpy.load`` allocates an array from the shape its header claims before
reading a byte of it, so a 400-byte member claiming 3.6 TiB is a
``MemoryError`` and a 2 MB deflated member can expand to gigabytes. Here every
member that will be read has its zip entry and its ``.npy`` header checked
first: no pickle (object arrays), only plain numbers, a header that agrees with
the entry's size, and all of them together within ``max_bytes``. Only then is
anything read, through ``allow_pickle=False``.
"""

from __future__ import annotations

import math
import pathlib
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data import AttentionData
from ..media import Media, attach_media, image_from_png
from .checks import (
    FileError,
    check_size,
    describe,
    fail,
    get,
    mapping,
    parse_json,
    token_list,
    whole_number,
)

__all__ = ["FORMAT", "MANIFEST", "read_npz"]

FORMAT = "attn_widget/1"
MANIFEST = "manifest"
# Errors that reading a damaged member can raise, from zipfile, zlib and numpy.
_DAMAGE = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError)


class _Member:
    """One ``.npy`` member of the archive, its header read and checked."""

    def __init__(self, archive: zipfile.ZipFile, name: str, origin: str, kinds: str) -> None:
        self.archive, self.name = archive, name
        field = f"archive member {name}"
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise fail(origin, field, "present", "nothing of that name") from None
        if info.flag_bits & 0x1:
            raise fail(origin, field, "an unencrypted member", "an encrypted one")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(
                origin,
                field,
                "stored or deflated (as numpy writes)",
                f"method {info.compress_type}",
            )
        try:
            with archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise fail(origin, field, ".npy format 1.0 or 2.0", f"{version}")
                offset = handle.tell()
        except FileError:
            raise
        except _DAMAGE as error:
            raise fail(origin, field, "a .npy array", f"damage ({error})") from error
        shape, _, dtype = header
        if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None:
            raise fail(
                origin,
                field,
                "plain numbers" if "f" in kinds else "text",
                f"dtype {dtype}"
                + (" (a pickle: refused, allow_pickle=False)" if dtype.hasobject else ""),
            )
        self.shape: tuple[int, ...] = tuple(int(n) for n in shape)
        self.nbytes = math.prod(self.shape) * dtype.itemsize
        if offset + self.nbytes != info.file_size:
            raise fail(
                origin,
                field,
                f"{offset + self.nbytes:,} bytes (header and the shape {self.shape} it claims)",
                f"{info.file_size:,} bytes in the archive",
            )
        self.origin, self.field = origin, field

    def read(self) -> np.ndarray:
        try:
            with self.archive.open(self.name) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
        except _DAMAGE as error:
            raise fail(self.origin, self.field, "a readable array", f"damage ({error})") from error


def _manifest(archive: zipfile.ZipFile, origin: str, max_bytes: float) -> Mapping[str, Any]:
    member = _Member(archive, f"{MANIFEST}.npy", origin, "U")
    check_size(origin, "manifest", member.nbytes, max_bytes)
    if member.shape != ():
        raise fail(origin, "manifest", "one JSON text", f"an array of shape {member.shape}")
    manifest = mapping(origin, "manifest", parse_json(origin, "manifest", str(member.read())))
    if manifest.get("format") != FORMAT:
        raise fail(origin, "manifest: format", repr(FORMAT), describe(manifest.get("format")))
    return manifest


# A component to read: name, members, key tokens, query tokens (cross only), raw tokens, meta.
_Plan = tuple[str, list[_Member], list[list[str]], list[list[str]] | None, Any, dict[str, Any]]


def _lists(origin: str, field: str, value: Any, cases: int) -> list[list[str]]:
    if not isinstance(value, list) or len(value) != cases:
        raise fail(origin, field, f"{cases} token list(s), one per case", describe(value))
    return [token_list(origin, f"{field}[{c}]", tokens) for c, tokens in enumerate(value)]


def read_npz(path: pathlib.Path, max_bytes: float) -> dict[str, AttentionData]:
    """Component name -> AttentionData from an ``.npz`` that :func:`attn_widget.io.save` wrote."""
    origin = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (*_DAMAGE, RuntimeError) as error:
        raise fail(origin, "file", "a zip archive", f"damage ({error})") from error
    with archive:
        manifest = _manifest(archive, origin, max_bytes)
        parts = get(origin, "manifest", manifest, "components")
        if not isinstance(parts, list) or not parts:
            raise fail(origin, "manifest: components", "a non-empty list", describe(parts))
        shared_meta = mapping(origin, "manifest: meta", manifest.get("meta", {}))
        names = set(archive.namelist())
        plans: list[_Plan] = []
        total = 0
        for i, part in enumerate(parts):
            field = f"manifest: components[{i}]"
            part = mapping(origin, field, part)
            name = get(origin, field, part, "name")
            if not isinstance(name, str) or not name:
                raise fail(origin, f"{field}: name", "a component name", describe(name))
            if name in (p[0] for p in plans):
                raise fail(origin, f"{field}: name", "a name used once", f"{name!r} again")
            stored = sum(1 for n in names if n.startswith(f"c{i}_case") and n.endswith(".npy"))
            cases = whole_number(
                origin, f"{field}: cases", get(origin, field, part, "cases"), 1, max(stored, 1)
            )
            cross = part.get("is_cross", False)
            if not isinstance(cross, bool):
                raise fail(origin, f"{field}: is_cross", "true or false", describe(cross))
            keys = _lists(origin, f"{field}: tokens", get(origin, field, part, "tokens"), cases)
            queries = keys
            if cross:
                queries = _lists(
                    origin,
                    f"{field}: query_tokens",
                    get(origin, field, part, "query_tokens"),
                    cases,
                )
            raw = part.get("raw_tokens")
            if raw is not None and not isinstance(raw, list):
                raise fail(origin, f"{field}: raw_tokens", "a list or null", describe(raw))
            meta = mapping(origin, f"{field}: meta", part.get("meta", {}))
            members = []
            for c in range(cases):
                member = _Member(archive, f"c{i}_case{c}.npy", origin, "fiu")
                expected = (len(queries[c]), len(keys[c]))
                if len(member.shape) != 4 or member.shape[2:] != expected:
                    raise fail(
                        origin,
                        member.field,
                        f"(layers, heads, {expected[0]}, {expected[1]}): one row per query "
                        f"token and one column per key token of case {c}",
                        f"shape {member.shape}",
                    )
                total += member.nbytes
                members.append(member)
            plans.append((name, members, keys, queries if cross else None, raw, dict(meta)))
        # Every size is known before any array is read.
        check_size(origin, "the attention arrays together", total, max_bytes)
        out: dict[str, AttentionData] = {}
        for i, (name, members, keys, targets, raw, meta) in enumerate(plans):
            cases_values = [member.read() for member in members]
            half = all(values.dtype == np.float16 for values in cases_values)
            try:
                out[name] = AttentionData.from_cases(
                    cases_values,
                    keys,
                    target_tokens=targets,
                    dtype=np.float16 if half else np.float32,
                    raw_tokens=raw,
                    meta={**meta, **shared_meta},
                )
            except ValueError as error:
                raise FileError(f"{origin}: component {name!r}: {error}") from error
            _restore_media(archive, origin, f"m{i}", out[name], names, max_bytes)
        return out


def _restore_media(
    archive: zipfile.ZipFile,
    origin: str,
    prefix: str,
    source: AttentionData,
    names: set[str],
    max_bytes: float,
) -> None:
    """The image (PNG bytes) and waveform envelope :func:`attn_widget.media.media_arrays` wrote."""

    def entries(kind: str, types: str) -> list[np.ndarray]:
        found, c = [], 0
        while f"{prefix}_{kind}{c}.npy" in names:
            member = _Member(archive, f"{prefix}_{kind}{c}.npy", origin, types)
            check_size(origin, member.field, member.nbytes, max_bytes)
            found.append(member.read())
            c += 1
        return found

    images = [
        image_from_png(data, f"{origin}: {prefix}_image{c}")
        for c, data in enumerate(entries("image", "u"))
    ]
    envelopes = [np.asarray(e, dtype=np.float32) for e in entries("envelope", "f")]
    if images or envelopes:
        try:
            attach_media(source, Media(images=images, envelopes=envelopes))
        except ValueError as error:
            raise FileError(f"{origin}: {prefix}: {error}") from error
