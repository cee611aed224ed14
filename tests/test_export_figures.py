"""Figures that say what they show, at the sizes papers use.

Titles from the source's meta (model, component, the model's layer and
head), axis titles, widths of 3.3 and 7 inches with no text under 7 pt and
no two labels overlapping, regions="auto", show_values, label_every, the
stability circles' outline on dark cells, and the fonts: CJK and emoji drawn
by installed fallbacks, a warning naming a package where no font has a glyph.
"""

from __future__ import annotations

import io
import itertools
import pathlib
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from pypdf import PdfReader

import attn_widget as aw
from attn_widget.analysis import find_regions
from attn_widget.data import AttentionData
from attn_widget.export import _figures, render_pdf
from attn_widget.export import fonts as fonts_module
from attn_widget.export.common import MIN_FONT, style
from attn_widget.state import ViewState

TOKENS = [
    "[CLS]",
    "where",
    "is",
    "the",
    "eiffel",
    "tower",
    "?",
    "[SEP]",
    "the",
    "tower",
    "is",
    "in",
    "paris",
    ",",
    "france",
    ".",
    "[SEP]",
]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def bert() -> AttentionData:
    rng = np.random.default_rng(0)
    n = len(TOKENS)
    meta = {"model": "/checkpoints/bert-base-uncased", "component": "encoder"}
    return AttentionData(softmax(rng.normal(size=(3, 4, n, n)) * 2), TOKENS, meta=meta)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def page_width_in(pdf: bytes) -> float:
    return float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width) / 72


# ----------------------------------------------------------------- titles
def test_titles_name_the_model_the_component_the_layer_and_the_head(bert: AttentionData) -> None:
    text = text_of(render_pdf(bert, "heatmap", layer=2, head=3))
    assert "bert-base-uncased · encoder · layer 2 · head 3" in text
    assert "/checkpoints" not in text  # a checkpoint folder is named by its last part
    assert "bert-base-uncased · encoder · head mean of every layer" in text_of(
        render_pdf(bert, "grid", head=None)
    )
    single = AttentionData(
        np.full((1, 1, 3, 3), 1 / 3), list("abc"), meta={"component": "attention"}
    )
    assert text_of(render_pdf(single, "heatmap")).splitlines()[-3:] != []
    assert "layer" not in text_of(render_pdf(single, "heatmap"))  # a bare matrix: no "layer 0"
    assert "attention" in text_of(render_pdf(single, "heatmap"))


def test_a_slice_of_a_model_is_titled_by_the_models_layer_and_head() -> None:
    """What the data says it came from (meta layers/heads), not "layer 0 · head 0"."""
    a = softmax(np.random.default_rng(1).normal(size=(1, 1, 5, 5)))
    sliced = AttentionData(a, list("abcde"), meta={"layers": [2], "heads": [3], "model": "gpt2"})
    assert "gpt2 · layer 2 · head 3" in text_of(render_pdf(sliced, "heatmap"))
    runs = [AttentionData(a * s / (a * s).sum(-1, keepdims=True), list("abcde")) for s in (1, 2)]
    compared = aw.compare(sliced, runs[1], list("abcde"))
    pdf = compared._render()
    assert "gpt2 · compare · layer 2 · head 3" in text_of(pdf)
    named = AttentionData(a, list("abcde"), meta={"names": ["L8 H9", "L9 H9"]})
    assert "A (L8 H9)" in text_of(aw.compare(named, runs[1])._render())


def test_heatmaps_have_axis_titles_that_can_be_changed_or_hidden(bert: AttentionData) -> None:
    words = text_of(render_pdf(bert, "heatmap")).split("\n")
    assert "key" in words and "query" in words
    text = text_of(render_pdf(bert, "heatmap", xlabel="Tokens Attended to", ylabel="Attending"))
    assert "Tokens Attended to" in text and "Attending" in text and "query" not in text
    assert "query" not in text_of(render_pdf(bert, "heatmap", ylabel="")).split("\n")
    compare = aw.compare(bert, bert, TOKENS)
    assert "key" in text_of(compare._render()).split("\n")


# ----------------------------------------------------------------- paper sizes
KINDS = [
    ("heatmap", {"top_n": 3}),
    ("heatmap", {"split": 8, "split_panels": True, "top_n": 2}),
    ("lines", {}),
    ("grid", {}),
    ("lines_grid", {"heads": "mean"}),
]


@pytest.mark.parametrize("width", [3.3, 7.0])
@pytest.mark.parametrize(("kind", "options"), KINDS, ids=[f"{k}-{o}" for k, o in KINDS])
def test_a_width_is_the_pages_width_and_no_text_is_under_7_pt(
    bert: AttentionData, kind: str, options: dict, width: float
) -> None:
    assert abs(page_width_in(render_pdf(bert, kind, width=width, **options)) - width) < 0.01
    with style():
        figures, _, _ = _figures(bert, kind, ViewState().check(bert), {"width": width, **options})
        for fig in figures:
            texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
            sizes = {round(t.get_fontsize(), 2) for t in texts}
            assert min(sizes) >= MIN_FONT, (kind, width, sorted(sizes))


@pytest.mark.parametrize("width", [3.3, 7.0])
@pytest.mark.parametrize("kind", ["heatmap", "grid", "lines"])
def test_token_labels_never_overlap(bert: AttentionData, kind: str, width: float) -> None:
    n = 120  # more tokens than fit: labels are thinned
    tokens = [f"tok{i}" for i in range(n)]
    data = AttentionData(np.full((1, 2, n, n), 1 / n), tokens)
    with style():
        figures, _, _ = _figures(data, kind, ViewState().check(data), {"width": width})
        fig = figures[0]
        renderer = FigureCanvasAgg(fig).get_renderer()
        labels = [t for t in fig.texts if t.get_text().startswith("tok")]
        assert labels
        boxes = [t.get_window_extent(renderer) for t in labels]
    for (a, box_a), (b, box_b) in itertools.combinations(zip(labels, boxes, strict=True), 2):
        if a.get_rotation() != b.get_rotation():
            continue
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_w <= 0.5 or overlap_h <= 0.5, (a.get_text(), b.get_text())


def test_the_default_is_at_most_a_double_column_and_size_still_sets_the_matrix(
    bert: AttentionData,
) -> None:
    assert page_width_in(render_pdf(bert, "heatmap")) <= 7.0 + 1e-6
    long = AttentionData(np.full((100, 100), 0.01), [f"t{i}" for i in range(100)])
    assert page_width_in(render_pdf(long, "heatmap")) <= 7.0 + 1e-6
    assert page_width_in(render_pdf(long, "heatmap", size=9)) > 9  # the matrix alone is 9 in
    with pytest.raises(ValueError, match="not both"):
        render_pdf(bert, "heatmap", size=5, width=7)
    with pytest.raises(ValueError, match=r"width: expected a number in 1.5..40"):
        render_pdf(bert, "heatmap", width=0.5)


# ----------------------------------------------------------------- marks
def test_regions_auto_draws_what_find_regions_finds() -> None:
    n = 24
    rng = np.random.default_rng(2)
    matrix = rng.uniform(0.0, 0.02, (n, n))
    matrix[5:9, 12:18] += 0.5  # a planted block
    data = AttentionData(matrix, [f"t{i}" for i in range(n)])
    found = find_regions(matrix, n_regions=2, min_distance=3)
    assert (found[0].top, found[0].left, found[0].bottom, found[0].right) == (5, 12, 9, 18)
    explicit = [(r.top, r.left, r.bottom, r.right) for r in found]
    auto = render_pdf(
        data, "heatmap", regions="auto", region_options={"n_regions": 2, "min_distance": 3}
    )
    assert auto == render_pdf(data, "heatmap", regions=explicit)
    with pytest.raises(ValueError, match="region_options: unknown threshold"):
        render_pdf(data, "heatmap", regions="auto", region_options={"threshold": 1})
    with pytest.raises(ValueError, match="regions: expected 'auto'"):
        render_pdf(data, "heatmap", regions="all")


def test_show_values_false_prints_no_values_and_label_every_thins_labels(
    bert: AttentionData,
) -> None:
    shown = text_of(render_pdf(bert, "heatmap", top_n=2))
    value = f"{bert.matrix(0, 0).max():.2f}"
    assert value in shown
    hidden = text_of(render_pdf(bert, "heatmap", top_n=2, show_values=False))
    assert value not in hidden.replace("0.2", "").split("\n")  # the colour bar's ticks stay
    words = text_of(render_pdf(bert, "heatmap", label_every=4)).split("\n")
    # Tokens 0, 4, 8, 12, 16 are labelled, on the rows and on the columns.
    assert words.count("[CLS]") == 2 and words.count("eiffel") == 2 and words.count("paris") == 2
    assert words.count("where") == 0 and words.count("tower") == 0


needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler")


@needs_pdftoppm
def test_stability_circles_have_an_outline_that_shows_on_dark_cells(
    tmp_path: pathlib.Path,
) -> None:
    """A circle whose fill matches its dark cell still shows: its ring is light."""
    from PIL import Image

    from attn_widget.export.analysis import MAX_CELL_PT

    mean = np.array([[0.01, 0.9], [0.9, 0.01]], dtype=np.float32)
    runs = [mean, mean.copy(), mean.copy()]
    runs[0] = runs[0] + np.array([[0.004, 0.0], [0.0, 0.0]], dtype=np.float32)
    w = aw.stability([r[None, None] for r in runs], ["a", "b"])
    pdf = w._render(width=4)
    (tmp_path / "s.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-png",
            "-singlefile",
            str(tmp_path / "s.pdf"),
            str(tmp_path / "s"),
        ],
        check=True,
    )
    pixels = np.asarray(Image.open(tmp_path / "s.png").convert("RGB")).astype(int)
    dark = pixels.sum(axis=2) < 200
    # The matrix's dark top-left cell: find the first dark run of a cell's width.
    ys, xs = np.nonzero(dark)
    y0, x0 = ys.min(), xs[ys == ys.min()].min()
    cell = MAX_CELL_PT
    ring_y = int(y0 + cell / 2)
    row = pixels[ring_y, int(x0) : int(x0 + cell)]
    # Only cell (0, 0) varies: its circle is the largest, 0.45 of the cell side.
    light = row.min(axis=1) > 200
    assert light.any(), "no light outline across the dark cell's circle"


# ----------------------------------------------------------------- fonts
def test_cjk_and_emoji_are_drawn_by_installed_fonts_and_stay_text() -> None:
    families = fonts_module.families()
    if "Noto Sans CJK JP" not in families or "Symbola" not in families:
        pytest.skip("needs fonts-noto-cjk and fonts-symbola (scripts/setup installs them)")
    assert fonts_module.missing_glyphs(["猫 🙂 日本語 한국어"]) == []
    data = AttentionData(np.full((3, 3), 1 / 3), ["猫", "🙂", "日本"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-glyph warning of any kind
        pdf = render_pdf(data, "heatmap")
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {
        str(font["/BaseFont"])
        for font in reader.pages[0]["/Resources"]["/Font"].values()
        if "/BaseFont" in font.get_object()
    }
    assert any("NotoSansCJK" in f for f in fonts) and any("Symbola" in f for f in fonts), fonts
    text = reader.pages[0].extract_text()
    assert "猫" in text and "🙂" in text and "日本" in text


def test_a_glyph_no_font_has_warns_once_naming_a_package_and_stays_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fonts_module, "_warned", set())
    private = "\U00017000"  # Tangut: no installed font draws it (a private-use one is a stand-in)
    data = AttentionData(np.full((2, 2), 0.5), [f"x{private}", "y"])
    with pytest.warns(
        UserWarning,
        match=r"no installed font has a glyph for .*U\+17000.*apt-get install fonts-noto-core",
    ):
        pdf = render_pdf(data, "heatmap")
    assert private in text_of(pdf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_pdf(data, "lines")  # once per process and package
