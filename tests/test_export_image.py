"""The image figures: the image with one token's attention over its patches, one head or all."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

import attn_widget as aw
from attn_widget.export import render_pdf
from attn_widget.export.common import get_cmap
from attn_widget.export.image import overlay_rgb
from attn_widget.media import Media

GREY = 100


def planted() -> aw.AttentionData:
    """4 x 4 patches of 2 x 2 pixels; p(2,3) (token 12) attends only to p(0,0) (token 1)."""
    n = 17
    a = np.full((1, 2, n, n), 1 / n, np.float32)  # layers, heads, q, k
    a[0, :, 12] = 0
    a[0, 0, 12, 1] = 1.0
    a[0, 1, 12, 16] = 1.0  # head 1: p(3,3)
    data = aw.AttentionData(a, ["[CLS]"] + [f"p({r},{c})" for r in range(4) for c in range(4)])
    data.meta["media"] = {
        "kind": "image", "axes": ["query", "key"], "size": [8, 8],
        "grid": {"rows": 4, "cols": 4, "patch": [2, 2]}, "patches": [list(range(1, 17))],
        "query": [0],
    }  # fmt: skip
    data.media = Media(images=[np.full((8, 8, 3), GREY, np.uint8)])
    return data


def images(pdf: bytes) -> list[np.ndarray]:
    """The 8 x 8 pictures the page embeds (the PDF stores them bottom row first)."""
    found = [
        np.asarray(i.image.convert("RGB"))[::-1] for i in PdfReader(io.BytesIO(pdf)).pages[0].images
    ]
    return [a for a in found if a.shape == (8, 8, 3)]


def embedded(pdf: bytes) -> np.ndarray:
    (image,) = images(pdf)
    return image


def test_the_overlay_tints_exactly_the_attended_patch() -> None:
    pdf = render_pdf(planted(), "image", selection={"kind": "query", "index": 12})
    pixels = embedded(pdf)
    assert pixels.shape == (8, 8, 3)  # one pixel a processed pixel
    top = np.array(get_cmap("viridis")(1.0)[:3]) * 255
    np.testing.assert_allclose(
        pixels[:2, :2], np.broadcast_to(0.8 * top + 0.2 * GREY, (2, 2, 3)), atol=1.5
    )
    assert (pixels[2:, :] == GREY).all() and (pixels[:, 2:] == GREY).all()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "attention of p(2,3) (query 12)" in text


def test_the_default_query_is_the_models_own_and_none_means_the_mean() -> None:
    data = planted()
    cls = embedded(render_pdf(data, "image"))
    assert (cls == cls[0, 0]).all()  # [CLS] attends uniformly: every patch tinted alike
    data.meta["media"]["query"] = [None]
    text = PdfReader(io.BytesIO(render_pdf(data, "image", format="pdf"))).pages[0].extract_text()
    assert "every query, averaged" in text


def test_the_grid_draws_every_head_of_the_layer() -> None:
    pdf = render_pdf(planted(), "image_grid", selection={"kind": "query", "index": 12})
    head0, head1 = images(pdf)
    assert not (head0[:2, :2] == GREY).all() and (head0[6:, 6:] == GREY).all()
    assert (head1[:2, :2] == GREY).all() and not (head1[6:, 6:] == GREY).all()


def test_overlay_rgb_follows_gamma_and_leaves_unweighted_cells_alone() -> None:
    image = np.full((2, 4, 3), 50, np.uint8)
    grid = {"rows": 1, "cols": 2, "patch": [2, 2]}
    rgb, vmax = overlay_rgb(image, np.array([0.0, 0.5]), grid, 2.0, get_cmap("viridis"))
    assert vmax == 0.5 and (rgb[:, :2] == 50).all() and not (rgb[:, 2:] == 50).all()


def test_text_models_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"kind: 'image' draws the attention over an input image"):
        render_pdf(aw.AttentionData(np.full((2, 2), 0.5)), "image")
    with pytest.raises(ValueError, match=r"query: expected an integer 0\.\.16"):
        render_pdf(planted(), "image", query=40)


LONG_NAME = "a-vision-transformer-with-a-rather-long-checkpoint-name"


@pytest.mark.parametrize("kind", ["image", "image_grid"])
@pytest.mark.parametrize("name", ["a-vit", LONG_NAME])
def test_a_long_title_wraps_inside_the_page_never_cut(kind: str, name: str) -> None:
    from attn_widget.export.common import MARGIN, TITLE_FONT, text_width
    from attn_widget.export.image import image_figures
    from attn_widget.state import ViewState

    data = planted()
    data.meta["model"] = name
    state = ViewState(layer=0, head=0, case=0, gamma=1.0, selection={"kind": "query", "index": 12})
    figures, title, texts = image_figures(data, kind, state, {})
    width_pt = figures[0].get_figwidth() * 72
    # The title's lines come first among the texts shown: every part, in order, none cut.
    lines = next(texts[:n] for n in range(1, len(texts) + 1) if " · ".join(texts[:n]) == title)
    assert name in title
    if len(name) > 20:
        assert len(lines) > 1  # too long for one line at this width
    for line in lines:
        assert text_width([line], TITLE_FONT) <= width_pt - 2 * MARGIN + 1e-6
    pdf = render_pdf(data, kind, layer=0, head=0, case=0, gamma=1.0, selection=None)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert name in text and "attention of" in text
