"""What an export call says wins over the view, and the state's rules hold for every caller.

Overrides (``export_pdf(path, gamma=2, layer=-1)``), negative indices as in
numpy, one gamma range (0.1..5) for traits, figures and the command line,
the selection's dict format in its error, and a signature that lists every
option (what ``help(w.export_pdf)`` shows).
"""

from __future__ import annotations

import inspect
import pathlib
import pydoc

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.export import render_pdf
from attn_widget.export.analysis import ANALYSIS_OPTIONS
from attn_widget.export.grid import GRID_OPTIONS
from attn_widget.export.heatmap import HEATMAP_OPTIONS
from attn_widget.export.lines import LINES_OPTIONS
from attn_widget.export.lines_grid import LINES_GRID_OPTIONS
from attn_widget.state import GAMMA_MAX, GAMMA_MIN, ViewState, check_index


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def widget(**traits: object) -> aw.AttentionWidget:
    rng = np.random.default_rng(0)
    cube = softmax(rng.normal(size=(3, 2, 4, 6, 6)) * 2)  # layers, cases, heads, q, k
    return aw.AttentionWidget(list(cube), list("abcdef"), **traits)


def test_export_arguments_override_the_view_for_that_export_only(tmp_path: pathlib.Path) -> None:
    w = widget(layer=1, head=2, gamma=0.5)
    path = w.export_pdf(tmp_path / "g.pdf", gamma=2)  # was: "got multiple values for 'gamma'"
    expected = render_pdf(w.data, "heatmap", layer=1, head=2, gamma=2)
    assert pathlib.Path(path).read_bytes() == expected
    assert (w.layer, w.head, w.gamma) == (1, 2, 0.5)  # the view is left as it was
    last = w.export_pdf(tmp_path / "last.pdf", layer=-1, head=-1, case=-1)
    assert last.read_bytes() == render_pdf(w.data, "heatmap", layer=2, head=3, case=1, gamma=0.5)
    mean = w.export_pdf(tmp_path / "mean.pdf", "lines", head="mean")
    assert mean.read_bytes() == render_pdf(w.data, "lines", layer=1, head=None, gamma=0.5)
    # The view's selection belongs to its case: another case drops it unless given.
    w.selection = {"kind": "query", "index": 5}
    other = w.export_pdf(tmp_path / "other.pdf", case=1)
    assert other.read_bytes() == render_pdf(w.data, "heatmap", layer=1, head=2, case=1, gamma=0.5)
    mine = w.export_pdf(tmp_path / "mine.pdf", selection={"kind": "key", "index": 0})
    locked = {"kind": "key", "index": 0}
    assert mine.read_bytes() == render_pdf(
        w.data, "heatmap", layer=1, head=2, gamma=0.5, selection=locked
    )
    w.head_mean = True
    assert w.export_pdf(tmp_path / "h.pdf", head=0).read_bytes() == render_pdf(
        w.data, "heatmap", layer=1, head=0, gamma=0.5, selection={"kind": "query", "index": 5}
    )


def test_negative_indices_count_from_the_end_and_traits_keep_them_normalised() -> None:
    w = widget()
    w.layer, w.head, w.case = -1, -1, -2
    assert (w.layer, w.head, w.case) == (2, 3, 0)
    np.testing.assert_array_equal(w.current_matrix(), w.data.matrix(2, 3, 0))
    assert render_pdf(w.data, "heatmap", layer=-1, head=-4) == render_pdf(
        w.data, "heatmap", layer=2, head=0
    )
    with pytest.raises(ValueError, match=r"layer: expected 0..2, got -4 \(or -3..-1"):
        w.layer = -4
    assert ViewState(layer=-1, head=-1, case=-1).check(w.data) == ViewState(2, 3, 1)
    # The view never sends negatives: its requests are checked without them.
    with pytest.raises(ValueError, match=r"layer: expected 0..2, got -1$"):
        check_index("layer", -1, 3)


def test_one_gamma_range_for_traits_figures_and_the_slider() -> None:
    assert (GAMMA_MIN, GAMMA_MAX) == (0.1, 5.0)
    w = widget()
    w.gamma = 0.1
    w.gamma = 5
    for bad in (10, 0.01, 0, -1, float("nan")):
        with pytest.raises(ValueError, match=r"gamma: expected a finite number > 0 in 0.1..5"):
            w.gamma = bad
        with pytest.raises(ValueError, match=r"in 0.1..5"):
            render_pdf(w.data, "heatmap", gamma=bad)
    assert w.gamma == 5


def test_a_selection_that_is_not_a_dict_says_the_dict_format() -> None:
    w = widget()
    for bad in (3, 0, "query", (1, 2), {"kind": "query"}):
        with pytest.raises(ValueError, match=r"\{'kind': 'query'\|'key', 'index': i\}") as caught:
            w.selection = bad
        assert "{'kind': 'cell', 'q': i, 'k': j}" in str(caught.value)
    w.selection = {"kind": "cell", "q": 1, "k": 2}
    w.selection = {}  # nothing locked
    assert w.selection is None


def test_help_shows_every_export_option_with_its_type() -> None:
    w = widget()
    signature = inspect.signature(w.export_pdf)
    every = {
        *HEATMAP_OPTIONS,
        *LINES_OPTIONS,
        *GRID_OPTIONS,
        *LINES_GRID_OPTIONS,
        *(name for options in ANALYSIS_OPTIONS.values() for name in options),
        "layer",
        "head",
        "case",
        "gamma",
        "selection",
        "window",
        "dpi",
    }
    missing = every - set(signature.parameters)
    assert not missing, missing
    untyped = [p.name for p in signature.parameters.values() if p.annotation is p.empty]
    assert not untyped
    text = pydoc.render_doc(w.export_pdf)
    for name in ("top_n", "per_token", "regions", "width", "dpi", "white_center"):
        assert name in text
    assert "**options" not in str(signature)


def test_analysis_widgets_take_the_same_overrides_and_their_own_options(
    tmp_path: pathlib.Path,
) -> None:
    a = softmax(np.random.default_rng(1).normal(size=(2, 2, 5, 5)))
    runs = [a, a * 0.9 + 0.02, a * 1.1]
    w = aw.stability(runs, list("abcde"))
    path = w.export_pdf(tmp_path / "s.svg", gamma=2, layer=-1, white_center=True, max_radius=0.3)
    assert path.read_bytes().startswith(b"<?xml")
    assert "layer 1" in path.read_text(encoding="utf-8")
    assert w.gamma == 1.0
    with pytest.raises(ValueError, match="stability: unknown option"):
        w.export_pdf(tmp_path / "x.pdf", top_n=3)
    c = aw.compare(a, a[::-1].copy(), list("abcde"))
    assert c.export_pdf(tmp_path / "c.png", mode="signed", dpi=100).read_bytes()[:4] == b"\x89PNG"
