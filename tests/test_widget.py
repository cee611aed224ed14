"""AttentionWidget's Python side: synced state, validation, tiers, kernel replies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import attn_widget as aw
from attn_widget import wire


def pattern(n: int = 6, layers: int = 2, heads: int = 3, cases: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.random((layers, cases, heads, n, n)).astype(np.float32)
    return a / a.sum(-1, keepdims=True)


def padded(n: int = 5, cases: int = 2, length: int = 3) -> np.ndarray:
    """Case 0 padded after `length` tokens: its queries give the pad keys no weight."""
    a = pattern(n=n, cases=cases)
    a[:, 0, :, :, length:] = 0
    a[:, 0] /= a[:, 0].sum(-1, keepdims=True)
    return a


class Recorder:
    """Stands in for the comm: keeps what the widget sends to the browser."""

    def __init__(self, widget: aw.AttentionWidget) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        widget.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def last(self) -> tuple[dict[str, Any], list[bytes]]:
        return self.sent[-1]


def test_small_data_is_sent_once_as_exact_binary_cube() -> None:
    a = pattern()
    w = aw.AttentionWidget(a, list("abcdef"))
    meta = w._meta
    assert meta["tier"] == "cube"
    assert meta["encoding"]["dtype"] == "float32"
    assert (meta["n_layers"], meta["n_heads"], meta["n_cases"]) == (2, 3, 1)
    assert isinstance(w._cube, bytes)
    # layers x (heads + mean) x q x k, 4 bytes a value.
    assert len(w._cube) == 2 * 4 * 36 * 4
    cube = wire.decode(w._cube, "float32", 1.0).reshape(2, 4, 6, 6)
    np.testing.assert_array_equal(cube[1, 2], a[1, 0, 2])
    np.testing.assert_allclose(cube[0, 3], a[0, 0].mean(0), rtol=1e-6)


def test_medium_data_goes_as_half_floats_and_large_data_as_slices() -> None:
    a = pattern(n=16)
    values = 2 * 4 * 16 * 16
    half = aw.AttentionWidget(a, byte_budget=values * 3)
    assert half._meta["tier"] == "cube" and half._meta["encoding"]["dtype"] == "float16"
    assert len(half._cube) == values * 2
    sliced = aw.AttentionWidget(a, byte_budget=values)
    assert sliced._meta["tier"] == "slices"
    assert sliced._cube == b""


def test_no_value_crosses_as_json() -> None:
    w = aw.AttentionWidget(pattern(), list("abcdef"))
    state = w.get_state()
    json_part = {k: v for k, v in state.items() if k != "_payload"}
    assert "_meta" not in json_part and "0." not in repr(w._meta)


def test_cases_of_different_lengths_get_their_own_offsets() -> None:
    w = aw.AttentionWidget(padded(), [list("abc"), list("abcde")])
    cases = w._meta["cases"]
    assert cases[0] == {"q": 3, "k": 3, "offset": 0}
    assert cases[1]["offset"] == 2 * 4 * 9
    assert w._meta["tokens"] == [list("abc"), list("abcde")]


def test_traits_follow_python_and_refuse_out_of_range_values() -> None:
    w = aw.AttentionWidget(pattern(), list("abcdef"))
    w.layer, w.head, w.gamma = 1, 2, 0.5
    np.testing.assert_array_equal(w.current_matrix(), w.data.matrix(1, 2))
    w.head_mean = True
    np.testing.assert_allclose(w.current_matrix(), w.data.matrix(1, None))
    for name, value, message in [
        ("layer", 2, r"layer: expected 0..1, got 2"),
        ("head", -4, r"head: expected 0..2, got -4 \(or -3..-1, counting from the end\)"),
        ("case", 1, r"case: expected 0..0, got 1"),
        ("gamma", 0.0, r"gamma: expected a finite number > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            setattr(w, name, value)
    assert (w.layer, w.head, w.case, w.gamma) == (1, 2, 0, 0.5)


def test_initial_state_and_unknown_arguments() -> None:
    w = aw.AttentionWidget(pattern(), layer=1, head=2, gamma=2.0)
    assert (w.layer, w.head, w.gamma) == (1, 2, 2.0)
    with pytest.raises(ValueError, match=r"layer: expected 0..1"):
        aw.AttentionWidget(pattern(), layer=7)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        aw.AttentionWidget(pattern(), colour="red")
    with pytest.raises(ValueError, match="byte_budget: expected a positive number"):
        aw.AttentionWidget(pattern(), byte_budget=0)
    with pytest.raises(ValueError, match="got None"):
        aw.AttentionWidget(None)


def test_selection_is_validated_and_cleared_with_the_case() -> None:
    w = aw.AttentionWidget(pattern(cases=2), list("abcdef"))
    w.selection = {"kind": "cell", "q": 1, "k": 5}
    assert w.selection == {"kind": "cell", "q": 1, "k": 5}
    with pytest.raises(ValueError, match="inside the 6 x 6 matrix"):
        w.selection = {"kind": "query", "index": 6}
    w.case = 1
    assert w.selection is None


def test_tile_requests_get_binary_replies() -> None:
    a = pattern(n=8)
    w = aw.AttentionWidget(a, byte_budget=100)
    rec = Recorder(w)
    w._on_message(w, {"type": "tile", "id": "v1-1", "layer": 1, "head": 2, "case": 0}, [])
    content, buffers = rec.last()
    assert content["id"] == "v1-1" and (content["rows"], content["cols"]) == (8, 8)
    assert (content["fq"], content["fk"], content["component"]) == (1, 1, "attention")
    np.testing.assert_array_equal(
        wire.decode(buffers[0], content["dtype"], content["scale"]).reshape(8, 8), a[1, 0, 2]
    )
    w._on_message(w, {"type": "tile", "id": "v1-2", "layer": 0, "head": None, "case": 0}, [])
    content, buffers = rec.last()
    np.testing.assert_allclose(wire.decode(buffers[0], "float32", 1.0), a[0, 0].mean(0).ravel())
    w._on_message(w, {"type": "tile", "id": "v1-3", "layer": 9, "head": 0, "case": 0}, [])
    assert "layer: expected 0..1, got 9" in rec.last()[0]["error"]


def test_pooled_window_links_token_and_thumbnail_requests() -> None:
    a = pattern(n=8)
    w = aw.AttentionWidget(a, byte_budget=100)
    rec = Recorder(w)
    request = {"layer": 0, "head": 1, "case": 0}
    w._on_message(
        w,
        {
            "type": "tile",
            "id": 1,
            **request,
            "q0": 2,
            "q1": 8,
            "k0": 0,
            "k1": 8,
            "rows": 3,
            "cols": 4,
        },
        [],
    )
    content, buffers = rec.last()
    assert (content["rows"], content["cols"], content["fq"], content["fk"]) == (3, 4, 2, 2)
    pooled = wire.decode(buffers[0], content["dtype"], content["scale"]).reshape(3, 4)
    np.testing.assert_array_equal(pooled, a[0, 0, 1, 2:8].reshape(3, 2, 4, 2).max(axis=(1, 3)))
    w._on_message(w, {"type": "links", "id": 2, **request, "q0": 0, "q1": 2, "top": 3}, [])
    content, buffers = rec.last()
    order = np.frombuffer(buffers[0], "<i4").reshape(2, 3)
    np.testing.assert_array_equal(order[0], np.argsort(-a[0, 0, 1, 0], kind="stable")[:3])
    w._on_message(w, {"type": "token", "id": 3, **request, "kind": "key", "index": 5}, [])
    content, buffers = rec.last()
    np.testing.assert_array_equal(wire.decode(buffers[0], "float32", 1.0), a[0, 0, 1, :, 5])
    w._on_message(w, {"type": "thumbs", "id": 4, "layer": 1, "case": 0, "size": 4}, [])
    content, buffers = rec.last()
    thumbs = wire.decode(buffers[0], content["dtype"], content["scale"]).reshape(3, 4, 4)
    np.testing.assert_array_equal(thumbs[2], a[1, 0, 2].reshape(4, 2, 4, 2).max(axis=(1, 3)))
    w._on_message(w, {"type": "tile", "id": 5, **request, "q0": 4, "q1": 12}, [])
    assert "window: expected" in rec.last()[0]["error"]
    w._on_message(w, {"type": "links", "id": 6, **request, "q0": 0, "q1": 2, "top": 0}, [])
    assert "top: expected at least 1" in rec.last()[0]["error"]


def test_components_switch_data_and_keep_indices_in_range() -> None:
    enc = aw.AttentionData(pattern(n=4, layers=3, heads=2)[:, 0], list("abcd"))
    cross = aw.AttentionData(
        pattern(n=4, layers=1, heads=2)[:, 0, :, :3], list("abcd"), target_tokens=list("xyz")
    )
    w = aw.AttentionWidget.from_components({"encoder": enc, "cross": cross})
    assert w._meta["components"] == ["encoder", "cross"]
    w.layer = 2
    w.component = "cross"
    assert w.layer == 0
    assert w._meta["query_tokens"] == [list("xyz")] and w._meta["is_cross"]
    assert w._meta["component"] == "cross"
    with pytest.raises(ValueError, match=r"component: expected one of \['encoder', 'cross'\]"):
        w.component = "decoder"


def test_export_failure_reaches_the_browser_as_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    w = aw.AttentionWidget(pattern())
    rec = Recorder(w)

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr("attn_widget.export.render_pdf", broken)
    w._on_message(w, {"type": "export", "id": "e1", "kind": "heatmap"}, [])
    content, _ = rec.last()
    assert content["ok"] is False and "no fonts today" in content["error"]


def test_a_zoomed_view_exports_its_window() -> None:
    import io

    from pypdf import PdfReader

    w = aw.AttentionWidget(pattern(n=12), [f"t{i}" for i in range(12)], layer=1, head=2)
    rec = Recorder(w)
    w._on_message(w, {"type": "export", "id": "e1", "kind": "heatmap", "window": [2, 9, 4, 7]}, [])
    content, buffers = rec.last()
    assert content["ok"] is True
    assert content["filename"] == "attention_L1_H2_case0_q2-9_k4-7_heatmap.pdf"
    page = PdfReader(io.BytesIO(buffers[0])).pages[0]
    assert page.images[0].image.size == (3, 7)  # keys x queries of the window
    # The lines figure does not follow the heatmap's zoom; a bad window is an error message.
    w._on_message(w, {"type": "export", "id": "e2", "kind": "lines", "window": [2, 9, 4, 7]}, [])
    assert rec.last()[0]["filename"] == "attention_L1_H2_case0_lines.pdf"
    w._on_message(w, {"type": "export", "id": "e3", "kind": "heatmap", "window": [5, 2, 0, 3]}, [])
    assert rec.last()[0]["ok"] is False and "0 <= q0 < q1 <= 12" in rec.last()[0]["error"]


def test_to_json_writes_the_current_case_for_web_front_ends(tmp_path) -> None:
    import json

    w = aw.AttentionWidget(padded(), [list("abc"), list("abcde")], case=1)
    data = json.loads(w.to_json(tmp_path / "out.json").read_text())
    assert data["tokens"] == list("abcde")
    assert len(data["layers"]) == 2 and len(data["layers"][0]["heads"]) == 3
    np.testing.assert_allclose(
        data["layers"][1]["heads"][2]["attention"], padded()[1, 1, 2], atol=1e-6
    )
