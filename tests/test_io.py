"""save / load / to_json: round trips, the other layouts, and the refusal of every pickle."""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import zipfile
from typing import Any

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.data import AttentionData
from attn_widget.io import read, to_json


def softmax_rows(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def two_cases(dtype: Any = np.float32) -> AttentionData:
    return AttentionData.from_cases(
        [softmax_rows((2, 3, 4, 4)), softmax_rows((2, 3, 6, 6), 1)],
        [["a", "b", "c", "d"], ["u", "v", "w", "x", "y", "z"]],
        dtype=dtype,
        raw_tokens=[["A", "B", "C", "D"], ["U", "V", "W", "X", "Y", "Z"]],
        meta={"model": "tiny", "text": ["abcd", "uvwxyz"], "component": "attention"},
    )


class Planted:
    """Unpickling this creates a folder: proof that code ran."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.path,))


# --------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_save_load_round_trip_keeps_values_tokens_and_metadata(
    tmp_path: pathlib.Path, dtype: Any
) -> None:
    data = two_cases(dtype)
    path = aw.save(data, tmp_path / "run.npz", meta={"note": "first try", "step": np.int64(3)})
    assert path.exists() and list(tmp_path.iterdir()) == [path]  # no temporary file left
    (back,) = read(path).values()
    assert back.n_cases == 2 and back.shape(1) == (6, 6)
    for case in range(2):
        np.testing.assert_array_equal(back.values[case], data.values[case])
        assert back.values[case].dtype == dtype
    assert back.tokens == data.tokens and back.query_tokens == data.tokens
    assert back.raw_tokens == data.raw_tokens
    assert back.meta["model"] == "tiny" and back.meta["text"] == ["abcd", "uvwxyz"]
    assert back.meta["note"] == "first try" and back.meta["step"] == 3
    with np.load(path, allow_pickle=False) as archive:  # readable by numpy alone, no pickle
        assert sorted(archive.files) == ["c0_case0", "c0_case1", "manifest"]


def test_widgets_round_trip_with_their_components(tmp_path: pathlib.Path) -> None:
    encoder = AttentionData(softmax_rows((2, 2, 5, 5)), list("abcde"))
    decoder = AttentionData(softmax_rows((2, 2, 3, 3), 1), list("xyz"))
    cross = AttentionData(softmax_rows((2, 2, 3, 5), 2), list("abcde"), target_tokens=list("xyz"))
    w = aw.AttentionWidget.from_components({"encoder": encoder, "decoder": decoder, "cross": cross})
    aw.save(w, tmp_path / "seq2seq.npz")
    again = aw.load(tmp_path / "seq2seq.npz")
    assert isinstance(again, aw.AttentionWidget)
    assert list(again.components) == ["encoder", "decoder", "cross"]
    back = again.components["cross"]
    assert back.is_cross and back.tokens[0] == list("abcde") and back.query_tokens[0] == list("xyz")
    np.testing.assert_array_equal(back.values[0], cross.values[0])
    assert not again.components["decoder"].is_cross


def test_lazy_attention_is_saved_as_its_weights(tmp_path: pathlib.Path) -> None:
    torch = pytest.importorskip("torch")
    from attn_widget.lazy import LazyAttention

    gen = torch.Generator().manual_seed(0)
    queries = [[torch.randn(4, 6, 8, generator=gen) for _ in range(2)]]
    keys = [[torch.randn(2, 6, 8, generator=gen) for _ in range(2)]]
    lazy = LazyAttention(queries, keys, [list("abcdef")], scaling=8**-0.5, causal=True)
    (back,) = read(aw.save(lazy, tmp_path / "lazy.npz")).values()
    assert back.values[0].shape == (2, 4, 6, 6)
    np.testing.assert_allclose(back.values[0][1, 3], lazy.matrix(1, 3), atol=1e-7)


def test_to_json_writes_one_case_without_padding_and_load_reads_it(tmp_path: pathlib.Path) -> None:
    data = two_cases()
    w = aw.AttentionWidget(data, case=1)
    path = w.to_json(tmp_path / "case.json")  # the widget's current case
    document = json.loads(path.read_text())
    assert set(document) >= {"tokens", "text", "layers"}
    assert document["tokens"] == ["u", "v", "w", "x", "y", "z"] and document["text"] == "uvwxyz"
    assert [layer["layer_idx"] for layer in document["layers"]] == [0, 1]
    head = document["layers"][1]["heads"][2]
    assert head["head_idx"] == 2
    np.testing.assert_allclose(head["attention"], data.values[1][1, 2], atol=1e-7)
    (back,) = read(path).values()
    np.testing.assert_allclose(back.values[0], data.values[1], atol=1e-7)
    assert back.meta["text"] == "uvwxyz"


def test_to_json_of_cross_attention_names_both_axes(tmp_path: pathlib.Path) -> None:
    cross = AttentionData(softmax_rows((1, 2, 3, 5)), list("abcde"), target_tokens=list("xyz"))
    document = json.loads(to_json({"cross": cross}, tmp_path / "x.json").read_text())
    assert document["tokens"] == list("abcde") and document["query_tokens"] == list("xyz")
    (back,) = read(tmp_path / "x.json").values()
    assert back.is_cross and back.shape(0) == (3, 5)
    with pytest.raises(ValueError, match="component: expected one of"):
        to_json({"cross": cross}, tmp_path / "y.json", component="encoder")


# ------------------------------------------------------------ other layouts
def _padded(n: int = 4, pad: int = 2) -> tuple[np.ndarray, list[str]]:
    """[layer][head][q][k] with `pad` masked keys at the end, as a padded batch gives."""
    side = n + pad
    scores = np.random.default_rng(0).normal(size=(2, 3, side, side))
    scores[..., n:] = -np.inf
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True), ["[CLS]", "hi", "there", "[SEP]"] + ["[PAD]"] * pad


def test_json_attention_matrices_with_a_batch_of_one_and_padding(tmp_path: pathlib.Path) -> None:
    matrices, tokens = _padded()
    layout = matrices[:, None]  # [layer][1][head][q][k], as outputs.attentions gives
    path = tmp_path / "legacy.json"
    document = {"tokens": [tokens], "text": "hi there", "attention_matrices": layout.tolist()}
    path.write_text(json.dumps(document))
    (data,) = read(path).values()
    assert data.tokens[0] == ["[CLS]", "hi", "there", "[SEP]"]  # padding cropped
    np.testing.assert_allclose(data.values[0], matrices[:, :, :4, :4], atol=1e-6)
    assert data.meta["text"] == "hi there"


def test_json_padding_is_cropped_by_an_attention_mask_when_given(tmp_path: pathlib.Path) -> None:
    matrices, tokens = _padded()
    document = {
        "tokens": tokens,
        "attention_mask": [1, 1, 1, 1, 0, 0],
        "attention_matrices": matrices[None].tolist(),  # [1][layer][head][q][k]
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    (data,) = read(tmp_path / "m.json").values()
    assert data.shape(0) == (4, 4)


def test_pt_files_load_through_weights_only(tmp_path: pathlib.Path) -> None:
    torch = pytest.importorskip("torch")
    matrices, tokens = _padded()
    scores = tuple(torch.tensor(layer[None], dtype=torch.float32) for layer in matrices)
    torch.save({"attention_scores": scores, "tokens_list": tokens}, tmp_path / "scores.pt")
    w = aw.load(tmp_path / "scores.pt")
    assert w.data.tokens[0] == ["[CLS]", "hi", "there", "[SEP]"]
    np.testing.assert_allclose(w.data.values[0], matrices[:, :, :4, :4], atol=1e-6)
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="attention_scores"):
        read(tmp_path / "other.pt")


# -------------------------------------------------------------- refusals
def test_a_raw_pickle_is_refused_and_nothing_runs(tmp_path: pathlib.Path) -> None:
    planted = tmp_path / "ran"
    for name in ("run.npz", "run.pt", "run.json", "run.pkl"):
        (tmp_path / name).write_bytes(pickle.dumps(Planted(planted)))
        with pytest.raises(ValueError, match="never unpickles"):
            aw.load(tmp_path / name)
    (tmp_path / "proto0.npz").write_bytes(pickle.dumps(Planted(planted), protocol=0))
    with pytest.raises(ValueError, match="never unpickles"):
        read(tmp_path / "proto0.npz")
    assert not planted.exists()


def test_a_crafted_npz_object_array_is_refused_and_nothing_runs(tmp_path: pathlib.Path) -> None:
    planted = tmp_path / "ran"
    manifest = {
        "format": "attn_widget/1",
        "meta": {},
        "components": [
            {"name": "attention", "cases": 1, "is_cross": False, "tokens": [["a"]],
             "query_tokens": [["a"]]}
        ],
    }  # fmt: skip
    buffer = io.BytesIO()
    np.savez(
        buffer,
        manifest=np.array(json.dumps(manifest)),
        c0_case0=np.array([Planted(planted)], dtype=object),
    )
    (tmp_path / "evil.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="allow_pickle"):
        aw.load(tmp_path / "evil.npz")
    assert not planted.exists()


def test_a_crafted_pt_file_is_refused_by_weights_only_and_nothing_runs(
    tmp_path: pathlib.Path,
) -> None:
    torch = pytest.importorskip("torch")
    planted = tmp_path / "ran"
    torch.save({"attention_scores": Planted(planted), "tokens_list": ["a"]}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights_only"):
        aw.load(tmp_path / "evil.pt")
    assert not planted.exists()


def test_unknown_files_get_an_error_naming_the_formats(tmp_path: pathlib.Path) -> None:
    (tmp_path / "notes.txt").write_text("just some notes")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    (tmp_path / "other.json").write_text(json.dumps({"weights": [1, 2]}))
    (tmp_path / "broken.json").write_text("{not json")
    with zipfile.ZipFile(tmp_path / "some.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    for name in ("notes.txt", "blob.bin", "other.json", "broken.json", "some.zip", "plain.npz"):
        with pytest.raises(ValueError, match=r"expected an attn_widget \.npz"):
            read(tmp_path / name)
    with pytest.raises(ValueError, match="existing file"):
        read(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="AttentionWidget, an AttentionData"):
        aw.save([1, 2, 3], tmp_path / "x.npz")
