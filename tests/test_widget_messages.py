"""Every message from the view is checked like a Python assignment; a bad one gets an error
reply and the widget goes on answering."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attn_widget as aw
from attn_widget import wire


class Sent:
    """Stands in for the comm: what the widget sends back."""

    def __init__(self, widget: aw.AttentionWidget) -> None:
        self.messages: list[tuple[Any, list[bytes]]] = []
        self.states: list[list[str]] = []
        widget.send = lambda content, buffers=None: self.messages.append((content, buffers or []))
        widget.send_state = lambda keys=None: self.states.append(list(keys or []))


def widget(budget: int = 100) -> aw.AttentionWidget:
    a = np.random.default_rng(0).random((2, 3, 6, 6)).astype(np.float32)
    return aw.AttentionWidget(a / a.sum(-1, keepdims=True), list("abcdef"), byte_budget=budget)


def update(w: aw.AttentionWidget, state: dict[str, Any]) -> None:
    """What ipywidgets does with a state update from the front end."""
    msg = {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}}
    w._handle_msg({**msg, "buffers": []})


OVERVIEW = {"type": "tile", "layer": 1, "head": 2, "case": 0, "rows": 6, "cols": 6}


def answers_a_valid_request(w: aw.AttentionWidget, sent: Sent) -> None:
    w._on_message(w, {**OVERVIEW, "id": "check"}, [])
    content, buffers = sent.messages[-1]
    assert content["id"] == "check" and "error" not in content, content
    values = wire.decode(buffers[0], content["dtype"], content["scale"]).reshape(6, 6)
    np.testing.assert_array_equal(values, w.data.matrix(1, 2, 0))


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"component": "nope"}, r"component: expected one of \['attention'\], got 'nope'"),
        ({"layer": 99}, r"layer: expected 0\.\.1, got 99"),
        ({"case": 5}, r"case: expected 0\.\.0, got 5"),
        ({"gamma": 0}, r"gamma: expected a finite number > 0 in 0\.1\.\.5 .*, got 0"),
        ({"selection": {"kind": "query", "index": 500}}, r"inside the 6 x 6 matrix"),
        ({"layer": "1"}, r"layer: expected an integer, got '1'"),
        ({"head_mean": "yes"}, r"head_mean: expected true or false"),
        ({"_payload": b""}, r"update: the view may set .*; got '_payload'"),
    ],
)
def test_a_bad_state_update_changes_nothing_and_the_view_is_told(
    state: dict[str, Any], message: str
) -> None:
    w = widget()
    sent = Sent(w)
    before = {name: getattr(w, name) for name in ("component", "layer", "case", "gamma")}
    payload = w._payload
    update(w, state)
    assert {name: getattr(w, name) for name in before} == before and w._payload == payload
    error = sent.messages[-1][0]
    assert error["type"] == "error"
    assert pytest.importorskip("re").search(message, error["error"]), error["error"]
    assert sent.states[-1] == [name for name in state if name in w.keys]  # values sent back
    answers_a_valid_request(w, sent)
    update(w, {"layer": 0, "gamma": 2.0})
    assert (w.layer, w.gamma) == (0, 2.0)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"type": "tile", "layer": None, "head": 0, "case": 0}, r"layer: expected an integer"),
        ({**OVERVIEW, "rows": float("inf")}, r"rows: expected an integer, got inf"),
        ({**OVERVIEW, "rows": 0}, r"rows: expected at least 1"),
        ({**OVERVIEW, "head": -1}, r"head: expected 0\.\.2, got -1"),
        ({"type": "nope", "layer": 0}, r"type: expected one of tile, links"),
        ({"type": "token", "layer": 0, "head": 0, "case": 0, "kind": "row"}, r"kind: expected"),
        ({"type": "links", "layer": 0, "head": 0, "case": 0}, r"links: expected q0, q1 and top"),
        ("not an object", r"request: expected an object"),
    ],
)
def test_a_bad_request_gets_an_error_reply(request_: Any, message: str) -> None:
    w = widget()
    sent = Sent(w)
    w._on_message(w, {**request_, "id": 7} if isinstance(request_, dict) else request_, [])
    content = sent.messages[-1][0]
    assert pytest.importorskip("re").search(message, content["error"]), content
    answers_a_valid_request(w, sent)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 10), max_size=5),
    st.dictionaries(st.sampled_from(["kind", "index", "q", "k"]), st.integers(-2, 9), max_size=3),
)
_fields = st.sampled_from(
    ["type", "id", "layer", "head", "case", "q0", "q1", "k0", "k1", "rows", "cols", "top",
     "kind", "index", "size", "n", "prefetch", "window"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["tile", "links", "token", "thumbs", "regions", "export", "nope", None]),
    fields=st.dictionaries(_fields, _values, max_size=8),
    state=st.dictionaries(
        st.sampled_from(["layer", "head", "case", "gamma", "component", "selection", "large"]),
        _values,
        max_size=3,
    ),
)
def test_fuzzed_messages_get_replies_and_the_widget_keeps_working(
    kind: Any, fields: dict[str, Any], state: dict[str, Any]
) -> None:
    w = WIDGET
    sent = Sent(w)
    w._on_message(w, {"type": kind, **fields} if kind is not None else fields, [])
    assert sent.messages, "every message gets a reply"
    assert isinstance(sent.messages[-1][0], dict)
    update(w, state)
    answers_a_valid_request(w, sent)
    update(w, {"layer": 0, "head": 0, "head_mean": False, "case": 0, "selection": None})


WIDGET = widget()
