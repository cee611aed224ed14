"""The golden buffers in js/tests/golden/ are exactly what attn_widget.wire writes today.

The JavaScript side (js/tests/golden.test.js) decodes the same files; together
the two tests keep the encoder and the one decoder in agreement. After a
deliberate change of a layout, rewrite them with ``python -m tests.golden_wire``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from attn_widget import wire
from tests.golden_wire import GOLDEN, cases, token_cases


@pytest.mark.parametrize("name", sorted(cases()))
def test_python_still_writes_the_golden_bytes(name: str) -> None:
    content, buffers, expected = cases()[name]
    document = json.loads((GOLDEN / f"{name}.json").read_text())
    assert document["content"] == json.loads(json.dumps(content))
    assert document["expected"] == json.loads(json.dumps(expected))
    for file, data in zip(document["buffers"], buffers, strict=True):
        assert (GOLDEN / file).read_bytes() == data, f"{file} differs from what wire writes now"


def test_the_payload_header_and_cube_round_trip() -> None:
    _, (payload,), expected = cases()["payload_cube"]
    header, cube = wire.unpack_payload(payload)
    assert header == expected["header"] and header["tier"] == "cube"
    assert header["tokens"][1][3] == "é中😀"  # travels as ASCII escapes
    assert payload[8 : len(payload) - len(cube)].isascii()  # the header is ASCII JSON
    assert (len(payload) - len(cube)) % 8 == 0  # the cube starts 8-byte aligned
    values = wire.decode(cube, header["encoding"]["dtype"], header["encoding"]["scale"])
    assert values.size == sum(2 * 3 * c["q"] * c["k"] for c in header["cases"])
    assert np.isfinite(values).all()
    half = cases()["payload_half"][2]["header"]
    assert half["tier"] == "cube" and half["encoding"]["dtype"] == "float16"
    assert cases()["payload_slices"][2]["header"]["tier"] == "slices"


def test_python_still_shows_every_hostile_token_as_the_golden_file_says() -> None:
    # js/tests/tokens.test.js checks the view's visibleToken against the same file.
    document = json.loads((GOLDEN / "tokens.text").read_text())
    assert document["tokens"] == json.loads(json.dumps(token_cases()))
