"""Analysis widgets: compare, stability, evolution; and regions on the AttentionWidget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import attn_widget as aw
from attn_widget import api as views


def replies(widget: aw.AttentionWidget, request: dict[str, Any]) -> tuple[dict, list[np.ndarray]]:
    sent: list[tuple[dict, list[bytes]]] = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers or []))
    widget._on_message(widget, request, [])
    content, buffers = sent[-1]
    return content, [np.frombuffer(b, "<f4") for b in buffers]


def attention(seed: int = 0, shape: tuple[int, ...] = (2, 3, 6, 6)) -> np.ndarray:
    a = np.random.default_rng(seed).random(shape).astype(np.float32)
    return a / a.sum(-1, keepdims=True)


def channel(content: dict, buffers: list[np.ndarray], name: str) -> np.ndarray:
    values = buffers[content["channels"].index(name)]
    if content["steps"] and name in ("series", "values"):
        return values.reshape(content["q"], content["k"], content["steps"])
    return values.reshape(content["q"], content["k"])


def test_compare_overlay_sizes_circles_by_the_difference() -> None:
    a = attention()
    b = a.copy()
    b[1, 2, 3, 4] += 0.2
    b[1, 2, 0, 0] += 0.05
    w = views.compare(a, b, list("abcdef"))
    assert w._meta["analysis"]["kind"] == "compare"
    content, buffers = replies(w, {"type": "overlay", "id": 1, "layer": 1, "head": 2, "case": 0})
    radius = channel(content, buffers, "radius")
    assert radius[3, 4] == pytest.approx(0.45)
    assert 0 < radius[0, 0] < radius[3, 4]
    assert radius[2, 2] == 0
    np.testing.assert_allclose(channel(content, buffers, "delta")[3, 4], -0.2, atol=1e-6)
    np.testing.assert_allclose(channel(content, buffers, "b"), b[1, 2], atol=1e-7)


def test_stability_overlay_reports_mean_spread_and_n() -> None:
    runs = np.stack([attention(seed) for seed in range(4)])
    w = views.stability(runs, list("abcdef"), spread="std")
    content, buffers = replies(w, {"type": "overlay", "id": 1, "layer": 0, "head": None, "case": 0})
    mean_head = runs[:, 0].mean(1)
    np.testing.assert_allclose(channel(content, buffers, "base"), mean_head.mean(0), atol=1e-6)
    np.testing.assert_allclose(
        channel(content, buffers, "spread"), mean_head.std(0, ddof=1), rtol=1e-4
    )
    assert set(channel(content, buffers, "n").ravel()) == {4.0}
    np.testing.assert_allclose(w.current_matrix(), runs[:, 0, 0].mean(0), atol=1e-6)


def test_evolution_overlay_sends_each_cell_series() -> None:
    checkpoints = np.stack([attention(0) * (1 + step) for step in range(5)])
    w = views.evolution(checkpoints, list("abcdef"))
    content, buffers = replies(w, {"type": "overlay", "id": 1, "layer": 1, "head": 0, "case": 0})
    assert content["steps"] == 5
    series = channel(content, buffers, "series")
    assert np.all(np.diff(series[2, 3]) > 0)
    np.testing.assert_allclose(
        channel(content, buffers, "values")[2, 3], checkpoints[:, 1, 0, 2, 3]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: views.compare(attention(), attention(shape=(2, 3, 5, 5))),
            r"attentions\[1\]: expected the shape",
        ),
        (lambda: views.stability([attention()]), r"runs: expected at least 2, got 1"),
        (lambda: views.evolution(attention()[None]), r"checkpoints: expected at least 2, got 1"),
        (
            lambda: views.stability([attention()] * 2, spread="iqr"),
            r"spread: expected 'sem' or 'std'",
        ),
        (
            lambda: views.evolution([attention()] * 2, normalize="row"),
            r"normalize: expected 'global' or 'cell'",
        ),
        (
            lambda: views.compare(attention(), attention(), list("abc")),
            r"attentions\[0\]: tokens: got 3 tokens",
        ),
    ],
)
def test_bad_input_is_refused_with_what_was_expected(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_regions_request_finds_a_planted_block() -> None:
    rng = np.random.default_rng(0)
    m = rng.random((40, 40)).astype(np.float32) * 0.1
    m[5:12, 20:30] += 0.6
    w = aw.AttentionWidget(m)
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._on_message(w, {"type": "regions", "id": 1, "layer": 0, "head": 0, "case": 0}, [])
    top, left, bottom, right = sent[-1]["regions"][0]
    assert top <= 5 and left <= 20 and bottom >= 12 and right >= 30
    assert (bottom - top) * (right - left) <= 2 * 7 * 10


def test_the_pdf_button_of_an_analysis_view_exports_its_figure() -> None:
    a = attention()
    w = views.stability([a, a * 0.9, a * 1.1], list("abcdef"))
    sent: list[tuple[dict, list[bytes]]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    w._on_message(w, {"type": "export", "id": 1, "kind": "stability"}, [])
    content, buffers = sent[-1]
    assert content["ok"] and content["filename"] == "attention_L0_H0_case0_stability.pdf"
    assert buffers[0][:5] == b"%PDF-"
