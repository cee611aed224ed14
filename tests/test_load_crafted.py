"""Crafted and broken files: each gives one ValueError naming the file, the field, expected and got.

Every file here was once an AttributeError, IndexError, RecursionError,
OverflowError, MemoryError, a 12-second 2 GB zip bomb, or silently cropped
data (issue 16). Sizes are refused from the headers, before anything is
allocated; data that does not fit its tokens is refused, never cut.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import attn_widget as aw
from attn_widget import cli
from attn_widget.io import read, save

N = 3


def softmax(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def manifest(**part: Any) -> dict[str, Any]:
    component = {
        "name": "attention",
        "cases": 1,
        "is_cross": False,
        "tokens": [["a", "b", "c"]],
        "query_tokens": [["a", "b", "c"]],
        "raw_tokens": None,
        "meta": {},
    }
    component.update(part)
    return {"format": "attn_widget/1", "meta": {}, "components": [component]}


def write_npz(path: pathlib.Path, manifest_value: Any, **arrays: np.ndarray) -> pathlib.Path:
    text = manifest_value if isinstance(manifest_value, str) else json.dumps(manifest_value)
    if not arrays:
        arrays = {"c0_case0": softmax((2, 2, N, N)).astype(np.float32)}
    np.savez(path, manifest=np.array(text), **arrays)
    return path


def npy_bytes(shape: tuple[int, ...], dtype: str = "<f4", body: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + body


def raw_zip(path: pathlib.Path, members: list[tuple[str, bytes, int, int]]) -> pathlib.Path:
    """A zip written by hand: (name, deflated data, declared size, crc) per member.

    zipfile would compress (seconds for a 2 GB bomb) and compute the CRC; a
    crafted file states what it likes.
    """
    local, central = b"", b""
    for name, data, size, crc in members:
        offset = len(local)
        fixed = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0)
        local += b"PK\x03\x04" + fixed + name.encode() + data
        central += (
            b"PK\x01\x02"
            + struct.pack("<HHHHHHIIIHHHHHII", 20, 20, 0, 8, 0, 0, crc, len(data), size,
                          len(name), 0, 0, 0, 0, 0, offset)
            + name.encode()
        )  # fmt: skip
    end = struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(local + central + b"PK\x05\x06" + end)
    return path


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_bomb(path: pathlib.Path, side: int = 2048) -> pathlib.Path:
    """A 2 MB .npz whose one array inflates to 1.6 GB of zeros (12 layers, 8 heads)."""
    shape = (12, 8, side, side)
    header = npy_bytes(shape)
    size = len(header) + 4 * int(np.prod(shape))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)
    # A deflated MiB of zeros, repeated: each piece ends on a full flush.
    mib = packer.compress(bytes(1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    body = start + mib * (size // (1 << 20)) + packer.compress(bytes(size % (1 << 20)))
    body += packer.flush()
    tokens = [[f"t{i}" for i in range(side)]]
    text = json.dumps(manifest(tokens=tokens, query_tokens=tokens))
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(text))
    plain = buffer.getvalue()
    return raw_zip(
        path,
        [
            ("manifest.npy", deflate(plain), len(plain), zlib.crc32(plain)),
            ("c0_case0.npy", body, size, 0),
        ],
    )


def write_json(path: pathlib.Path, document: Any) -> pathlib.Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def matrices_doc(**fields: Any) -> dict[str, Any]:
    document = {"tokens": ["a", "b", "c"], "attention_matrices": softmax((2, 2, N, N)).tolist()}
    document.update(fields)
    return document


def write_pt(path: pathlib.Path, content: Any) -> pathlib.Path:
    torch = pytest.importorskip("torch")
    torch.save(content, path)
    return path


def pt_content(**fields: Any) -> dict[str, Any]:
    import torch

    scores = tuple(torch.tensor(softmax((2, 2, N, N), i), dtype=torch.float32) for i in range(2))
    content: dict[str, Any] = {"attention_scores": scores, "tokens_list": [list("abc")] * 2}
    content.update(fields)
    return content


Builder = Callable[[pathlib.Path], pathlib.Path]

# (name, builder, a regex the message must match after the file's path)
CRAFTED: list[tuple[str, Builder, str]] = [
    # --- attn_widget .npz: the manifest
    ("manifest-list", lambda p: write_npz(p / "f.npz", []), r"manifest: expected an object"),
    ("manifest-number", lambda p: write_npz(p / "f.npz", 5), r"manifest: expected an object"),
    ("manifest-not-json", lambda p: write_npz(p / "f.npz", "{oops"), r"manifest: expected valid JSON"),
    ("manifest-deep", lambda p: write_npz(p / "f.npz", "[" * 100_000), r"manifest: expected JSON nested"),
    ("manifest-format", lambda p: write_npz(p / "f.npz", {**manifest(), "format": "x/9"}), r"format: expected 'attn_widget/1'"),
    ("components-missing", lambda p: write_npz(p / "f.npz", {"format": "attn_widget/1"}), r"manifest: expected a field 'components'"),
    ("components-empty", lambda p: write_npz(p / "f.npz", {**manifest(), "components": []}), r"components: expected a non-empty list"),
    ("components-number", lambda p: write_npz(p / "f.npz", {**manifest(), "components": [5]}), r"components\[0\]: expected an object"),
    ("meta-list", lambda p: write_npz(p / "f.npz", {**manifest(), "meta": []}), r"manifest: meta: expected an object"),
    ("cases-0", lambda p: write_npz(p / "f.npz", manifest(cases=0)), r"cases: expected a whole number 1\.\.1, got 0"),
    ("cases-minus-1", lambda p: write_npz(p / "f.npz", manifest(cases=-1)), r"cases: expected a whole number 1\.\.1, got -1"),
    ("cases-text", lambda p: write_npz(p / "f.npz", manifest(cases="1")), r"cases: expected a whole number, got the text '1'"),
    ("cases-true", lambda p: write_npz(p / "f.npz", manifest(cases=True)), r"cases: expected a whole number, got true"),
    ("cases-400-digits", lambda p: write_npz(p / "f.npz", manifest(cases=10**400)), r"cases: expected a whole number 1\.\.1, got a number of about 401 digits"),
    ("cases-more-than-arrays", lambda p: write_npz(p / "f.npz", manifest(cases=2, tokens=[list("abc")] * 2)), r"cases: expected a whole number 1\.\.1, got 2"),
    ("name-number", lambda p: write_npz(p / "f.npz", manifest(name=7)), r"name: expected a component name, got the number 7"),
    ("name-twice", lambda p: write_npz(p / "f.npz", {**manifest(), "components": manifest()["components"] * 2}), r"name: expected a name used once"),
    ("is-cross-text", lambda p: write_npz(p / "f.npz", manifest(is_cross="yes")), r"is_cross: expected true or false"),
    ("tokens-not-lists", lambda p: write_npz(p / "f.npz", manifest(tokens="abc")), r"tokens: expected 1 token list\(s\), one per case, got the text 'abc'"),
    ("token-number", lambda p: write_npz(p / "f.npz", manifest(tokens=[["a", 2, "c"]])), r"tokens\[0\]\[1\]: expected a token string, got the number 2"),
    ("five-tokens-for-3x3", lambda p: write_npz(p / "f.npz", manifest(tokens=[list("abcde")])), r"c0_case0.npy: expected \(layers, heads, 5, 5\).*got shape \(2, 2, 3, 3\)"),
    ("two-tokens-for-3x3", lambda p: write_npz(p / "f.npz", manifest(tokens=[list("ab")])), r"expected \(layers, heads, 2, 2\).*got shape \(2, 2, 3, 3\)"),
    ("non-square-self", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=softmax((2, 2, 3, 4)).astype(np.float32)), r"expected \(layers, heads, 3, 3\).*got shape \(2, 2, 3, 4\)"),
    ("cross-without-queries", lambda p: write_npz(p / "f.npz", manifest(is_cross=True, query_tokens=None)), r"query_tokens: expected 1 token list"),
    ("raw-tokens-number", lambda p: write_npz(p / "f.npz", manifest(raw_tokens=5)), r"raw_tokens: expected a list or null"),
    ("array-3d", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.ones((2, 3, 3), np.float32)), r"got shape \(2, 3, 3\)"),
    ("array-text", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.full((1, 1, 3, 3), "x")), r"c0_case0.npy: expected plain numbers, got dtype <U1"),
    ("array-complex", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.ones((1, 1, 3, 3), np.complex64)), r"expected plain numbers, got dtype complex64"),
    ("array-nan", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.full((1, 1, 3, 3), np.nan, np.float32)), r"component 'attention': attentions: expected finite values"),
    ("array-negative", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.full((1, 1, 3, 3), -1, np.float32)), r"expected non-negative weights"),
    ("array-1e300", lambda p: write_npz(p / "f.npz", manifest(), c0_case0=np.full((1, 1, 3, 3), 1e300)), r"expected values that fit in float32"),
    ("array-missing", lambda p: write_npz(p / "f.npz", manifest(), other=np.ones(2)), r"cases: expected a whole number 1\.\.1, got 1|archive member c0_case0.npy: expected present"),
    ("header-3.6-TiB", lambda p: _npz_with_member(write_npz(p / "f.npz", manifest()), "c0_case0.npy", npy_bytes((30, 30, 32768, 32768), body=bytes(64))), r"c0_case0.npy: expected 3,865,470,566,528 bytes .*got 192 bytes"),
    ("zip-bomb-2GB", lambda p: zip_bomb(p / "f.npz"), r"the attention arrays together: expected at most max_bytes=1,073,741,824 bytes, got 1,610,612,736 bytes"),
    ("truncated-npz", lambda p: _truncated(write_npz(p / "f.npz", manifest()), 0.6), r"damage|damaged zip"),
    ("npz-bad-magic", lambda p: _npz_with_member(write_npz(p / "f.npz", manifest()), "c0_case0.npy", b"not an npy file at all"), r"c0_case0.npy: expected a \.npy array, got damage"),
    # --- JSON with attention_matrices
    ("json-3d", lambda p: write_json(p / "f.json", matrices_doc(attention_matrices=softmax((2, N, N)).tolist())), r"attention_matrices: expected \[layer\]\[head\]\[q\]\[k\] .*got shape \(2, 3, 3\)"),
    ("json-ragged", lambda p: write_json(p / "f.json", matrices_doc(attention_matrices=[[[[0.5, 0.5], [1]]]])), r"attention_matrices: expected .* of numbers, got nested lists of different lengths"),
    ("json-strings", lambda p: write_json(p / "f.json", matrices_doc(attention_matrices=[[[["a"]]]])), r"attention_matrices: expected .* of numbers"),
    ("json-400-digits", lambda p: write_json(p / "f.json", '{"tokens": ["a"], "attention_matrices": [[[[' + "9" * 400 + "]]]]}"), r"attention_matrices: expected .* of numbers, got a number too large for a float"),
    ("json-5000-digits", lambda p: write_json(p / "f.json", '{"tokens": ["a"], "attention_matrices": [[[[' + "9" * 5000 + "]]]]}"), r"not valid JSON .*4300"),
    ("json-deep", lambda p: write_json(p / "f.json", '{"tokens": ' + "[" * 100_000 + "]" * 100_000 + "}"), r"JSON nested deeper"),
    ("json-five-tokens-for-3x3", lambda p: write_json(p / "f.json", matrices_doc(tokens=list("abcde"))), r"tokens: expected 3 tokens, one per position of the 3 x 3 matrices, got 5 tokens"),
    ("json-two-tokens-for-3x3", lambda p: write_json(p / "f.json", matrices_doc(tokens=list("ab"))), r"tokens: expected 3 tokens, one per position of the 3 x 3 matrices, got 2 tokens"),
    ("json-mask-text", lambda p: write_json(p / "f.json", matrices_doc(attention_mask="abc")), r"attention_mask: expected a list of 3 zeros and ones \(one per position\), got the text 'abc'"),
    ("json-mask-object", lambda p: write_json(p / "f.json", matrices_doc(attention_mask={"x": 1})), r"attention_mask: expected a list of 3 zeros and ones .*got an object with keys \['x'\]"),
    ("json-mask-short", lambda p: write_json(p / "f.json", matrices_doc(attention_mask=[1])), r"attention_mask: expected a list of 3 zeros and ones .*got a list of 1"),
    ("json-mask-values", lambda p: write_json(p / "f.json", matrices_doc(attention_mask=[1, 2, 1])), r"attention_mask\[1\]: expected 0 or 1, got the number 2"),
    ("json-mask-zeros", lambda p: write_json(p / "f.json", matrices_doc(attention_mask=[0, 0, 0])), r"attention_mask: expected at least one 1"),
    ("json-non-square", lambda p: write_json(p / "f.json", matrices_doc(attention_matrices=softmax((1, 1, 3, 4)).tolist())), r"attention_matrices: expected square matrices .*got 3 x 4"),
    ("json-tokens-text", lambda p: write_json(p / "f.json", matrices_doc(tokens="abc")), r"tokens: expected a list of token strings, got the text 'abc'"),
    ("json-token-null", lambda p: write_json(p / "f.json", matrices_doc(tokens=["a", None, "c"])), r"tokens\[1\]: expected a token string, got null"),
    ("json-text-number", lambda p: write_json(p / "f.json", matrices_doc(text=5)), r"text: expected a string, got the number 5"),
    ("json-negative", lambda p: write_json(p / "f.json", matrices_doc(attention_matrices=(-softmax((1, 1, N, N))).tolist())), r"attention_matrices: attentions: expected non-negative"),
    ("json-top-list", lambda p: write_json(p / "f.json", "[1, 2]"), r"an unknown file; expected an attn_widget"),
    ("json-nan", lambda p: write_json(p / "f.json", '{"tokens": ["a"], "attention_matrices": [[[[NaN]]]]}'), r"expected finite values"),
    # --- JSON as to_json writes it
    ("layers-index-twice", lambda p: write_json(p / "f.json", {"tokens": ["a"], "layers": [{"layer_idx": 0, "heads": [{"head_idx": 0, "attention": [[1]]}]}] * 2}), r"layers: layer_idx: expected each of 0\.\.1 once, got \[0, 0\]"),
    ("layers-heads-missing", lambda p: write_json(p / "f.json", {"tokens": ["a"], "layers": [{"layer_idx": 0}]}), r"layers\[0\]: expected a field 'heads'"),
    ("layers-not-list", lambda p: write_json(p / "f.json", {"tokens": ["a"], "layers": 5}), r"layers: expected a non-empty list"),
    ("layers-ragged", lambda p: write_json(p / "f.json", {"tokens": ["a"], "layers": [{"layer_idx": 0, "heads": [{"head_idx": 0, "attention": [[1]]}, {"head_idx": 1, "attention": [[1, 0]]}]}]}), r"layers: expected \[layer\]\[head\] matrices"),
    ("layers-tokens", lambda p: write_json(p / "f.json", {"tokens": ["a", "b"], "layers": [{"layer_idx": 0, "heads": [{"head_idx": 0, "attention": [[1]]}]}]}), r"tokens: expected 1 query and 1 key tokens for the 1 x 1 matrices"),
    ("layers-model-number", lambda p: write_json(p / "f.json", {"tokens": ["a"], "model": 3, "layers": [{"layer_idx": 0, "heads": [{"head_idx": 0, "attention": [[1]]}]}]}), r"model: expected a string or null"),
]  # fmt: skip


def _npz_with_member(path: pathlib.Path, name: str, data: bytes) -> pathlib.Path:
    """``path`` with member ``name`` replaced by ``data`` (stored)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return path


def _truncated(path: pathlib.Path, fraction: float) -> pathlib.Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize(("name", "build", "message"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_file_gives_one_value_error_naming_file_and_field(
    tmp_path: pathlib.Path, name: str, build: Builder, message: str
) -> None:
    path = build(tmp_path)
    started = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        read(path)
    assert time.perf_counter() - started < 5  # refused from headers, not after reading
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert __import__("re").search(message, text), text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("mask-fewer-rows", {"attention_mask": [[1, 1, 1]]}, r"attention_mask: expected \(batch, k\) with a batch of 2, got shape \(1, 3\)"),
        ("mask-text", {"attention_mask": "abc"}, r"attention_mask: expected tensors of numbers"),
        ("tokens-one-list-for-two", {"tokens_list": [list("abc")]}, r"tokens_list: expected 2 token list\(s\), one per case"),
        ("tokens-five", {"tokens_list": [list("abcde")] * 2}, r"tokens_list\[0\]: expected 3 tokens, one per position"),
        ("scores-text", {"attention_scores": ["x", "y"]}, r"attention_scores\[0\]: expected tensors of numbers"),
        ("scores-bool", {"attention_scores": [__import__("torch").ones(1, 2, 3, 3, dtype=__import__("torch").bool)]}, r"expected float tensors, got dtype torch.bool"),
        ("scores-2d", {"attention_scores": [__import__("torch").ones(3, 3)]}, r"attention_scores: expected per-layer tensors of one shape"),
        ("scores-empty", {"attention_scores": []}, r"attention_scores: expected per-layer tensors of one shape .*got nothing"),
        ("not-a-dict", None, r"content: expected a dict with 'attention_scores' and 'tokens_list', got a list of 3"),
    ],
)  # fmt: skip
def test_crafted_pt_files(tmp_path: pathlib.Path, name: str, content: Any, message: str) -> None:
    pytest.importorskip("torch")
    path = write_pt(tmp_path / "f.pt", [1, 2, 3] if content is None else pt_content(**content))
    with pytest.raises(ValueError, match=message) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_damaged_pt_file_is_refused_without_advice_to_turn_safety_off(
    tmp_path: pathlib.Path,
) -> None:
    pytest.importorskip("torch")
    planted = tmp_path / "ran"
    path = write_pt(tmp_path / "f.pt", pt_content(text=Planted(planted)))
    with pytest.raises(ValueError) as caught:
        read(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: refused (") and "weights_only=True" in text
    assert "mkdir" in text  # what torch refused
    assert "weights_only=False" not in text and "`False`" not in text and "trust" not in text
    assert not planted.exists()


class Planted:
    """Unpickling this creates a folder: proof that code ran."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_sizes_are_refused_against_max_bytes_before_reading(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("torch")
    data = aw.AttentionData(softmax((2, 2, N, N)).astype(np.float32), list("abc"))
    npz = save(data, tmp_path / "run.npz")
    document = write_json(tmp_path / "run.json", matrices_doc())
    pt = write_pt(tmp_path / "run.pt", pt_content())
    for path, what in (
        (npz, "(manifest|the attention arrays)"),
        (document, "file size"),
        (pt, "the tensors"),
    ):
        assert read(path)  # the default, 1 GiB, takes them
        with pytest.raises(ValueError, match=rf"{what}.*expected at most max_bytes=16 bytes"):
            read(path, max_bytes=16)
    assert read(npz, max_bytes=float("inf"))
    with pytest.raises(ValueError, match="max_bytes: expected a number of bytes > 0"):
        read(npz, max_bytes=0)


def test_the_cli_reports_a_crafted_file_in_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, build, _ in CRAFTED[:: max(1, len(CRAFTED) // 12)]:
        folder = tmp_path / name
        folder.mkdir()
        path = build(folder)
        assert cli.main(["figures", "--load", str(path), "--out", str(folder / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"attn-widget figures: error: {path}: ") and err.count("\n") == 1
        assert not (folder / "out").exists()
