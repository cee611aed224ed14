"""Inputs that passed the checks and broke later (issue 16): overflow, meta tensors, ragged lists,
bytes tokens, invalid UTF-8 on the command line; and save -> load of every accepted input.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np
import pytest
import torch

import attn_widget as aw
from attn_widget import cli
from attn_widget.io import read, save


def softmax(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------ overflow (16.5)
def test_a_value_finite_as_float64_but_not_as_float32_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fit in float32; got 1e\+300 at .* = \(0, 0, 0, 0\)"):
        aw.AttentionData(np.array([[1e300, 1], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"fit in float32"):
        aw.AttentionWidget(np.array([[1e300, 1], [0.5, 0.5]]))


def test_float16_storage_refuses_values_above_65504() -> None:
    with pytest.raises(ValueError, match=r"fit in float16 \(pass dtype=np.float32\); got 1e\+05"):
        aw.AttentionData(np.array([[1e5, 1], [0.5, 0.5]], np.float32), dtype=np.float16)
    with pytest.raises(ValueError, match=r"fit in float16"):
        aw.AttentionData(np.array([[70000, 1], [0, 1]], np.int64), dtype=np.float16)
    # 65504 is float16's largest: kept.
    assert aw.AttentionData(np.array([[65504.0, 1]] * 2), dtype=np.float16).values[0].max() == 65504


def test_tiny_values_that_become_zero_are_kept() -> None:
    data = aw.AttentionData(np.array([[1e-300, 1.0], [0.5, 0.5]]))
    assert data.values[0][0, 0, 0, 0] == 0.0


ACCEPTED: dict[str, Any] = {
    "matrix": lambda: aw.AttentionData(softmax((4, 4)), list("abcd")),
    "stacked": lambda: aw.AttentionData(softmax((2, 3, 4, 4)), list("abcd")),
    "stacked-cases": lambda: aw.AttentionData(softmax((2, 2, 3, 4, 4)), list("abcd")),
    "per-layer": lambda: aw.AttentionData([softmax((3, 4, 4), i) for i in range(2)], list("abcd")),
    "per-layer-cases": lambda: aw.AttentionData(
        [softmax((2, 3, 4, 4), i) for i in range(2)], [list("abcd"), list("wxyz")]
    ),
    "float16": lambda: aw.AttentionData(softmax((2, 3, 4, 4)), list("abcd"), dtype=np.float16),
    "float64-in": lambda: aw.AttentionData(softmax((1, 1, 4, 4)).astype(np.float64)),
    "int-in": lambda: aw.AttentionData(np.eye(3, dtype=np.int64)),
    "near-float32-max": lambda: aw.AttentionData(np.full((2, 2), 3e38)),
    "bfloat16-tensor": lambda: aw.AttentionData(torch.tensor(softmax((2, 3, 4, 4))).bfloat16()),
    "tensor-with-grad": lambda: aw.AttentionData(
        [torch.tensor(softmax((3, 4, 4)), requires_grad=True)] * 2
    ),
    "cross": lambda: aw.AttentionData(
        softmax((2, 1, 3, 5)), list("abcde"), target_tokens=list("xyz")
    ),
    "padded-cases": lambda: aw.AttentionData(
        np.concatenate([softmax((1, 1, 2, 4, 2)), np.zeros((1, 1, 2, 4, 2))], -1), list("ab")
    ),
    "hostile-tokens": lambda: aw.AttentionData(softmax((3, 3)), ["\ufeff", "\ud800", "\x00"]),
    "bytes-tokens": lambda: aw.AttentionData(softmax((2, 2)), [b"\xe4", b"ok"]),
    "from-cases": lambda: aw.AttentionData.from_cases(
        [softmax((1, 2, 2, 2)), softmax((1, 2, 3, 3))], [["a", "b"], ["\u202e", "y", "z"]]
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_every_accepted_input_saves_and_loads_back(tmp_path: pathlib.Path, name: str) -> None:
    data = ACCEPTED[name]()
    for compressed in (False, True):
        (back,) = read(save(data, tmp_path / f"{compressed}.npz", compressed=compressed)).values()
        assert back.tokens == data.tokens and back.query_tokens == data.query_tokens
        assert back.raw_tokens == data.raw_tokens and back.is_cross == data.is_cross
        for case in range(data.n_cases):
            np.testing.assert_array_equal(back.values[case], data.values[case])
            assert back.values[case].dtype == data.values[case].dtype


# ------------------------------------------------------------- smaller (16.9)
def test_a_meta_tensor_is_the_documented_value_error() -> None:
    with pytest.raises(ValueError, match=r"attentions: expected a tensor with values, got one on"):
        aw.AttentionData(torch.empty(2, 3, 4, 4, device="meta"))
    with pytest.raises(ValueError, match=r"attentions\[0\]: .*'meta' device"):
        aw.AttentionWidget([torch.empty(3, 4, 4, device="meta")])


def test_a_ragged_nested_list_names_where_the_lengths_differ() -> None:
    with pytest.raises(ValueError, match=r"attentions\[0\]\[0\] holds entries of lengths 2, 1"):
        aw.AttentionData([[[[0.5, 0.5], [1.0]], [[0.5, 0.5], [1.0, 0.0]]]])
    with pytest.raises(ValueError, match=r"rectangular array of numbers") as caught:
        aw.AttentionData([[[0.5, 0.5], [0.5]]])
    assert "inhomogeneous" not in str(caught.value)  # numpy's words are not ours


def test_bytes_tokens_are_decoded_and_kept_as_given() -> None:
    data = aw.AttentionData(softmax((3, 3)), [b"ab", b"\xe4\xb8", b"\xad"])
    # A character split over two tokens (tiktoken's bytes) shows its bytes, not ordinals.
    assert data.tokens == [["ab", "\\xe4\\xb8", "\\xad"]]
    with pytest.raises(ValueError, match=r"tokens: expected token strings \(or bytes\); got int 5"):
        aw.AttentionData(softmax((2, 2)), ["a", 5])
    with pytest.raises(ValueError, match=r"case 0, position 1"):
        aw.AttentionData(softmax((2, 2)), [["a", None]])


def test_invalid_utf8_on_the_command_line_is_named(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = os.fsdecode(b"caf\xe9")  # what Python makes of a Latin-1 argument
    assert cli.main(["figures", "--model", "x", "--text", bad, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--text: not UTF-8 text: byte 0xe9 at character 4" in err and err.count("\n") == 1
    lines = tmp_path / "texts.txt"
    lines.write_bytes("first line\nsecond \u00e9 ok\n".encode() + b"thi\xffrd\n")
    assert cli.main(["figures", "--model", "x", "--texts-file", str(lines), "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert f"--texts-file: {lines} is not UTF-8 text: byte 0xff at line 3, column 4" in err


def test_a_texts_file_with_a_byte_order_mark_does_not_pass_it_to_the_model(
    tmp_path: pathlib.Path,
) -> None:
    lines = tmp_path / "texts.txt"
    lines.write_bytes("\ufeffHello\nWorld\n".encode())
    args = cli.build_parser().parse_args(
        ["figures", "--model", "x", "--texts-file", str(lines), "--out", "o"]
    )
    assert cli._texts(args) == ["Hello", "World"]
