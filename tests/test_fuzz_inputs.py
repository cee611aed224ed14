"""Fuzzing (hypothesis): construction from random inputs, and ``read`` of mutated files.

Only ``ValueError`` may come out, with a message; whatever is accepted saves
and loads back unchanged (nothing saved may be unloadable). The examples are
derandomised, so CI runs the same few hundred every time and a failure
reproduces; set ``ATTN_FUZZ_EXAMPLES`` (and ``ATTN_FUZZ_RANDOM=1``) for a
longer, fresh run locally.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import tempfile
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import attn_widget as aw
from attn_widget.io import read, save, to_json

EXAMPLES = int(os.environ.get("ATTN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("ATTN_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------- construction
FLOATS = st.one_of(
    st.floats(0, 1, width=32),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e300, 1e5, 65504.0, 70000.0, 1e-45, -1.0, 3.5e38]),
)
DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int64", "uint8", "bool"])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=4)
TEXT = st.text(alphabet=st.characters(codec=None), max_size=12)
TOKEN = st.one_of(TEXT, st.binary(max_size=6), st.integers(-3, 300), st.none(), st.floats())


@st.composite
def arrays(draw: st.DrawFn) -> Any:
    dtype = draw(DTYPES)
    shape = draw(SHAPES)
    if dtype == "bool":
        return draw(hnp.arrays(np.bool_, shape))
    if dtype.startswith(("int", "uint")):
        return draw(hnp.arrays(dtype, shape, elements=st.integers(0, 3)))
    values = draw(hnp.arrays(np.float64, shape, elements=FLOATS))
    with np.errstate(over="ignore"):
        return values.astype(dtype)  # 1e300 as float16 is inf: refused, as it should be


@st.composite
def plausible(draw: st.DrawFn, stacked: bool = False) -> Any:
    """An input of one of the documented layouts, values mostly fine, some edge values."""
    side = st.integers(1, 4)
    q, k = draw(side), draw(side)
    if draw(st.booleans()):
        k = q  # self-attention most of the time
    layouts = ["qk", "lhqk", "lchqk"] + ([] if stacked else ["per-layer", "per-layer-cases"])
    layout = draw(st.sampled_from(layouts))
    layers, cases, heads = draw(side), draw(side), draw(side)
    shape = {
        "qk": (q, k),
        "lhqk": (layers, heads, q, k),
        "lchqk": (layers, cases, heads, q, k),
        "per-layer": (heads, q, k),
        "per-layer-cases": (cases, heads, q, k),
    }[layout]
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int64"]))
    good = st.floats(0, 1, width=32)
    elements = draw(st.sampled_from([good, good, FLOATS]))
    if dtype == "int64":
        values = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 2)))
    else:
        values = draw(hnp.arrays(np.float64, shape, elements=elements))
        with np.errstate(over="ignore"):
            values = values.astype(dtype)
    if layout.startswith("per-layer"):
        return [values * 1 for _ in range(layers)]
    return values


@st.composite
def attentions(draw: st.DrawFn) -> Any:
    kind = draw(
        st.sampled_from(["plausible"] * 5 + ["array", "layers", "nested", "tensor", "other"])
    )
    if kind == "plausible":
        return draw(plausible())
    if kind == "array":
        return draw(arrays())
    if kind == "layers":
        return [draw(arrays()) for _ in range(draw(st.integers(0, 3)))]
    if kind == "nested":
        leaf = st.one_of(FLOATS, st.integers(-2, 10**30), TEXT, st.none())
        return draw(st.recursive(st.lists(leaf, max_size=3), lambda x: st.lists(x, max_size=3)))
    if kind == "tensor":
        import torch

        array = draw(st.one_of(arrays(), plausible(stacked=True)))
        dtype = draw(st.sampled_from([torch.float32, torch.bfloat16, torch.float16, torch.int64]))
        if array.dtype == np.bool_:
            array = array.astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tensor = torch.as_tensor(np.ascontiguousarray(array, dtype=np.float64)).to(dtype)
        return tensor.to("meta") if draw(st.booleans()) and array.size < 8 else tensor
    return draw(st.sampled_from(["text", 5, None, {"a": 1}, b"bytes", object()]))


def tokens_for(draw: st.DrawFn, sides: list[int]) -> Any:
    side = draw(st.sampled_from(sides or [0]))
    kind = draw(
        st.sampled_from(["none", "exact", "exact", "exact", "short", "long", "per-case", "random"])
    )
    if kind == "none":
        return None
    if kind == "random":
        return draw(st.one_of(st.lists(TOKEN, max_size=5), TEXT, st.integers(), st.binary()))
    length = {"exact": side, "short": max(side - 1, 0), "long": side + 1}.get(kind, side)
    if kind == "per-case":
        cases = draw(st.integers(0, 3))
        return [draw(st.lists(TEXT, min_size=length, max_size=length)) for _ in range(cases)]
    return draw(st.lists(TEXT, min_size=length, max_size=length))


@st.composite
def constructions(draw: st.DrawFn) -> dict[str, Any]:
    values = draw(attentions())
    first = values[0] if isinstance(values, list) and values else values
    shape = tuple(getattr(first, "shape", ()))
    sides = [int(n) for n in shape[-1:]]
    options: dict[str, Any] = {"tokens": tokens_for(draw, sides)}
    if draw(st.booleans()):
        options["target_tokens"] = tokens_for(draw, [int(n) for n in shape[-2:-1]])
    if draw(st.booleans()):
        options["dtype"] = draw(
            st.sampled_from(["float32", "float16", np.float16, "float64", "nope"])
        )
    if draw(st.booleans()):
        options["padding_side"] = draw(st.sampled_from(["left", "right", "left", "up", 3]))
    if draw(st.booleans()):
        options["meta"] = draw(st.sampled_from([{"text": "\ud800"}, [1], "x", {"n": np.int64(3)}]))
    return {"attentions": values, **options}


def _round_trip(data: aw.AttentionData, folder: pathlib.Path) -> None:
    """Whatever was accepted saves and reads back unchanged (npz) and as JSON (one case)."""
    (back,) = read(save(data, folder / "run.npz")).values()
    assert back.tokens == data.tokens and back.query_tokens == data.query_tokens
    assert back.raw_tokens == data.raw_tokens or data.raw_tokens is None
    for case in range(data.n_cases):
        np.testing.assert_array_equal(back.values[case], data.values[case])
        assert back.values[case].dtype == data.values[case].dtype
    (again,) = read(to_json(data, folder / "run.json")).values()
    np.testing.assert_allclose(again.values[0], data.values[0], atol=1e-7, rtol=1e-6)
    assert again.tokens[0] == data.tokens[0]


@FUZZ
@given(constructions())
def test_construction_gives_data_or_a_value_error(case: dict[str, Any]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no overflow passes unseen
            data = aw.AttentionData(**case)
    except ValueError as error:
        assert str(error)
        event(f"refused: {str(error).split(':')[0]}")
        return
    event("accepted")
    with tempfile.TemporaryDirectory() as folder:
        _round_trip(data, pathlib.Path(folder))


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
@given(constructions())
def test_widget_construction_gives_a_widget_or_a_value_error(case: dict[str, Any]) -> None:
    options = {k: v for k, v in case.items() if k in ("attentions", "tokens")}
    try:
        widget = aw.AttentionWidget(options["attentions"], options.get("tokens"))
    except ValueError as error:
        assert str(error)
        return
    widget.close()


# ------------------------------------------------------------- mutated files
def _valid_files(folder: pathlib.Path) -> dict[str, bytes]:
    import torch

    rng = np.random.default_rng(0)
    x = rng.random((2, 2, 4, 4)).astype(np.float32)
    weights = x / x.sum(-1, keepdims=True)
    data = aw.AttentionData.from_cases(
        [weights, weights[:, :, :3, :3] / weights[:, :, :3, :3].sum(-1, keepdims=True)],
        [["a", "\ufeff", "c", "d"], ["x", "y", "z"]],
        meta={"text": ["abcd", "xyz"]},
    )
    files = {
        "plain.npz": save(data, folder / "plain.npz"),
        "compressed.npz": save(data, folder / "compressed.npz", compressed=True),
        "layers.json": to_json(data, folder / "layers.json"),
    }
    document = {"tokens": ["[CLS]", "hi", "[SEP]", "[PAD]"], "text": "hi"}
    document["attention_matrices"] = weights[:, :, None].tolist()  # EnsembleModel's layout
    (folder / "matrices.json").write_text(json.dumps(document))
    files["matrices.json"] = folder / "matrices.json"
    scores = tuple(torch.tensor(weights[i][None]) for i in range(2))
    torch.save({"attention_scores": scores, "tokens_list": ["a", "Ġb", "c", "d"]}, folder / "s.pt")
    files["scores.pt"] = folder / "s.pt"
    return {name: path.read_bytes() for name, path in files.items()}


_FOLDER = pathlib.Path(tempfile.mkdtemp(prefix="attn-fuzz-"))
VALID = _valid_files(_FOLDER) if __import__("importlib.util").util.find_spec("torch") else {}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[name])
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "digits"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "byte":
            data[at] = draw(st.integers(0, 255))
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:  # a number made huge, or nesting made deep, where the file is text
            data[at:at] = draw(st.sampled_from([b"9" * 400, b"[" * 2000, b"-1", b"1e999", b"null"]))
    return name, bytes(data)


@pytest.mark.skipif(not VALID, reason="needs torch for the .pt file")
@FUZZ
@given(mutated())
def test_read_of_a_mutated_file_gives_data_or_one_value_error(file: tuple[str, bytes]) -> None:
    name, content = file
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / name
        path.write_bytes(content)
        try:
            components = read(path)
        except ValueError as error:
            assert str(error).startswith(f"{path}") or str(error).startswith("path:"), error
            event(f"{name} refused")
            return
        event(f"{name} read")
        for data in components.values():
            assert isinstance(data, aw.AttentionData)
            for case in range(data.n_cases):
                q, k = data.shape(case)
                assert (len(data.query_tokens[case]), len(data.tokens[case])) == (q, k)
                assert np.isfinite(data.values[case]).all() and (data.values[case] >= 0).all()
            save(data, pathlib.Path(folder) / "again.npz")  # loaded is saveable, and back
            read(pathlib.Path(folder) / "again.npz")


def test_the_valid_files_read(tmp_path: pathlib.Path) -> None:
    """The fuzz starts from files that read; a mutation is what makes them fail."""
    pytest.importorskip("torch")
    for name, content in VALID.items():
        (tmp_path / name).write_bytes(content)
        assert read(tmp_path / name), name
    assert io  # the module's imports stay used
