"""The atlas PDF: parsed back for its page, its labels, values, top heads and refusals."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

import attn_widget as aw
from attn_widget.analysis import ScoreAccumulator
from attn_widget.analysis.scores import CaseLayout
from attn_widget.export.atlas import render_atlas_pdf
from tests.test_head_scores import planted


def text_of(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def scores() -> aw.HeadScores:
    weights, tokens = planted()
    return aw.head_scores(aw.AttentionData(weights, tokens))


def test_the_atlas_page_has_the_grid_values_and_top_heads(scores: aw.HeadScores) -> None:
    pdf = render_atlas_pdf(scores, "previous_token", top=3)
    pages, text = text_of(pdf)
    assert pages == 1
    assert "previous_token per layer × head" in text
    assert "token just before it" in text  # the definition
    assert "head" in text and "layer" in text
    assert "1.00" in text  # the planted head's value, printed in its cell
    assert "#1 L1 H2: 1.00" in text
    ranked = scores.order("previous_token")
    for rank, (layer, head) in enumerate(ranked[:3], start=1):
        assert f"#{rank} L{layer} H{head}" in text
    assert "#4 " not in text
    assert f"{scores['previous_token'][3, 3]:.2f}" in text  # every cell is labelled
    assert render_atlas_pdf(scores, "previous_token", top=3) == pdf  # same input, same bytes


def test_values_can_be_left_out_and_thumbnails_too(scores: aw.HeadScores) -> None:
    _, text = text_of(render_atlas_pdf(scores, "induction", top=0, values=False))
    assert "induction per layer × head" in text
    assert "#1" not in text and "1.00" not in text


def test_scores_without_a_source_say_the_thumbnails_are_left_out() -> None:
    accumulator = ScoreAccumulator(["entropy"], 2, 3)
    layout = CaseLayout.build(4, 4, causal=False, cross=False, ids=list("abcd"))
    accumulator.add(0, {"entropy": np.arange(6.0).reshape(2, 3) / 10}, layout)
    result = accumulator.result()
    _, text = text_of(render_atlas_pdf(result, "entropy"))
    assert "thumbnails left out" in text
    assert "0.50" in text


def test_unknown_and_missing_scores_are_refused(scores: aw.HeadScores) -> None:
    with pytest.raises(ValueError, match="known scores: previous_token"):
        render_atlas_pdf(scores, "prev")
    with pytest.raises(ValueError, match="cls_sep: needs \\[CLS\\]/\\[SEP\\]"):
        render_atlas_pdf(scores, "cls_sep")
    with pytest.raises(ValueError, match=r"top: expected an integer 0\.\.24"):
        render_atlas_pdf(scores, "entropy", top=30)
