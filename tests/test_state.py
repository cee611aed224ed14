"""ViewState.check: one check of layer, head or mean, case, gamma, selection and window."""

from __future__ import annotations

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.state import ViewState


def source() -> aw.AttentionData:
    a = np.full((3, 2, 2, 5, 5), 0.2, np.float32)  # layers, cases, heads, q, k
    a[:, 1, :, :, 3:] = 0  # case 1 is padded after 3 tokens
    a[:, 1] /= a[:, 1].sum(-1, keepdims=True)
    return aw.AttentionData(a, [list("abcde"), list("abc")])


def test_a_valid_state_comes_back_in_its_one_normal_form() -> None:
    data = source()
    state = ViewState(
        layer=np.int64(2),
        head=None,
        case=1,
        gamma=2,
        selection={"kind": "cell", "q": np.int32(1), "k": 2, "extra": "dropped"},
        window=[0, 2, 1, 3],
    ).check(data)
    assert state == ViewState(2, None, 1, 2.0, {"kind": "cell", "q": 1, "k": 2}, (0, 2, 1, 3))
    assert state.mean and type(state.layer) is int and type(state.gamma) is float


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (ViewState(layer=3), r"layer: expected 0\.\.2, got 3"),
        (ViewState(head=2), r"head: expected 0\.\.1, got 2"),
        (ViewState(head=-3), r"head: expected 0\.\.1, got -3"),  # -1 is the last, never the mean
        (ViewState(case=True), r"case: expected an integer, got True"),
        (ViewState(gamma=0), r"gamma: expected a finite number > 0 in 0\.1\.\.5 .*, got 0"),
        (ViewState(gamma=float("nan")), r"gamma: expected a finite number > 0"),
        (ViewState(selection={"kind": "query", "index": 5}), r"inside the 5 x 5 matrix"),
        (ViewState(case=1, selection={"kind": "key", "index": 3}), r"inside the 3 x 3 matrix"),
        (ViewState(selection={"kind": "row", "index": 0}), r"'kind': 'query'\|'key'"),
        (ViewState(selection=3), r"selection: expected None"),
        (ViewState(window=(2, 2, 0, 5)), r"window: expected \(q0, q1, k0, k1\)"),
        (ViewState(case=1, window=(0, 4, 0, 3)), r"0 <= q0 < q1 <= 3"),
    ],
)
def test_what_is_out_of_range_is_refused_with_what_was_expected(
    state: ViewState, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        state.check(source())


def test_the_widget_the_export_and_the_saved_page_share_the_check(tmp_path) -> None:
    data = source()
    w = aw.AttentionWidget(data)
    for attempt in (lambda: setattr(w, "gamma", -1.0), lambda: setattr(w, "selection", 3)):
        with pytest.raises(ValueError, match="expected"):
            attempt()
    from attn_widget.export import render_pdf
    from attn_widget.html import save_html

    with pytest.raises(ValueError, match=r"gamma: expected a finite number > 0"):
        render_pdf(data, "heatmap", gamma=-1)
    assert ViewState(head=-1).check(data).head == 1  # counted from the end, as numpy
    with pytest.raises(ValueError, match=r"layer: expected 0\.\.2, got 7"):
        save_html({"attention": data}, "attention", ViewState(layer=7), tmp_path / "p.html")
    w.head_mean, w.layer = True, 1
    assert w.state == ViewState(layer=1, head=None)
