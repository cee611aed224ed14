"""PDFs of the analysis views (compare, stability, evolution), parsed back and rendered.

PDFs are read with pypdf (pages, text) and rendered with poppler's pdftoppm
to check pixels of 3 x 3 matrices drawn with big (48 pt) cells.
"""

from __future__ import annotations

import io
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
from pypdf import PdfReader

from attn_widget import api as views
from attn_widget.export import render_analysis_pdf
from attn_widget.export.analysis import MAX_CELL_PT

TOKENS = ["alpha", "beta", "gamma"]
DPI = 72  # one pixel a point

needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm")


def attention(rows: list[list[float]]) -> np.ndarray:
    """One layer, one head: shape (1, 1, q, k)."""
    return np.array(rows, dtype=np.float32)[None, None]


A = attention([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def pixels(pdf: bytes, tmp_path: pathlib.Path, name: str) -> np.ndarray:
    """The page as an RGB array at 72 dpi (one pixel a point)."""
    from PIL import Image

    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(source), str(tmp_path / name)],
        check=True,
    )
    return np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB")).astype(int)


def matrix_box(image: np.ndarray, q: int = 3, k: int = 3) -> tuple[int, int]:
    """Top-left pixel ``(y, x)`` of the matrix: the first row with a run of ``k`` cells of
    coloured pixels whose left column runs down ``q`` cells."""
    cell = int(MAX_CELL_PT)
    non_white = (image < 245).any(axis=2)
    for y in range(image.shape[0]):
        row = non_white[y]
        runs = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        for start, stop in zip(runs[::2], runs[1::2], strict=True):
            if abs((stop - start) - k * cell) <= 2:
                column = non_white[y:, start + 2]  # left of any sparkline
                height = np.flatnonzero(~column)
                if height.size and abs(int(height[0]) - q * cell) <= 2:
                    return y, int(start)
    raise AssertionError("matrix not found on the page")


def cell_pixel(image: np.ndarray, origin: tuple[int, int], i: int, j: int, fx: float, fy: float):
    """The pixel at fraction ``fx, fy`` across cell ``(i, j)``."""
    cell = MAX_CELL_PT
    y = origin[0] + int((i + fy) * cell)
    x = origin[1] + int((j + fx) * cell)
    return image[y, x]


def test_each_kind_exports_one_page_with_tokens_and_title(tmp_path: pathlib.Path) -> None:
    b = attention([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    rng = np.random.default_rng(0)
    runs = np.abs(A[None] + rng.normal(size=(4, *A.shape)).astype(np.float32) * 0.05)
    steps = np.stack([A * (1 + i) for i in range(5)])
    widgets = {
        # Bare matrices (one layer, one head, no origin in meta): no "layer 0 · head 0".
        "compare": (views.compare(A, b, TOKENS), "compare"),
        "stability": (
            views.stability(runs, TOKENS, spread="std", k=1.0),
            "stability · mean ± spread over 4 runs",
        ),
        "evolution": (
            views.evolution(steps, TOKENS, normalize="cell"),
            "evolution over 5 checkpoints",
        ),
    }
    for kind, (widget, title) in widgets.items():
        path = widget.export_pdf(tmp_path / f"{kind}.pdf")
        pdf = pathlib.Path(path).read_bytes()
        text = text_of(pdf)
        assert title in text and "layer" not in text, (kind, text)
        for token in TOKENS:
            assert token in text
        assert "attention" in text  # the colour bar's label
        # Same state, same bytes.
        assert widget._render(kind) == pdf
    # The widgets still export their plain figures.
    assert text_of(widgets["compare"][0]._render("heatmap"))


def test_compare_signed_mode_renders_a_diverging_scale() -> None:
    b = attention([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    pdf = views.compare(A, b, TOKENS)._render("compare", mode="signed")
    text = text_of(pdf)
    assert "compare (A − B)" in text and "layer 0" not in text
    assert "A − B" in text and "-0.4" in text and "0.4" in text  # ticks both sides of 0


@needs_pdftoppm
def test_compare_draws_circles_only_where_a_and_b_differ(tmp_path: pathlib.Path) -> None:
    same = views.compare(A, A.copy(), TOKENS)._render("compare")
    b = A.copy()
    b[0, 0, 0, 0] = 0.8  # cell (0, 0): A 0.2, B 0.8, the largest (only) difference
    differ = views.compare(A, b, TOKENS)._render("compare")
    img_same = pixels(same, tmp_path, "same")
    img_diff = pixels(differ, tmp_path, "differ")
    origin = matrix_box(img_same)
    assert matrix_box(img_diff) == origin
    for i in range(3):
        for j in range(3):
            centre = cell_pixel(img_same, origin, i, j, 0.5, 0.5)
            corner = cell_pixel(img_same, origin, i, j, 0.1, 0.1)
            assert np.abs(centre - corner).max() <= 6, (i, j)  # no circle: one colour
    # The changed cell: centre has B's (bright) colour, the corner A's (dark) one.
    centre = cell_pixel(img_diff, origin, 0, 0, 0.5, 0.5)
    corner = cell_pixel(img_diff, origin, 0, 0, 0.05, 0.05)
    assert centre.sum() > corner.sum() + 150
    # Other cells: no circles (radius 0), so centre and corner agree.
    other = cell_pixel(img_diff, origin, 1, 1, 0.5, 0.5)
    assert np.abs(other - cell_pixel(img_diff, origin, 1, 1, 0.1, 0.1)).max() <= 6


@needs_pdftoppm
def test_evolution_sparkline_rises_with_a_rising_series(tmp_path: pathlib.Path) -> None:
    # Cell (1, 1) rises from 0 to 0.9; the rest stays where it is.
    steps = np.stack([A.copy() for _ in range(6)])
    steps[:, 0, 0, 1, 1] = np.linspace(0.0, 0.9, 6)
    pdf = views.evolution(steps, TOKENS)._render("evolution")
    image = pixels(pdf, tmp_path, "evolution")
    origin = matrix_box(image)
    cell = MAX_CELL_PT
    top, left = origin[0] + int(1 * cell), origin[1] + int(1 * cell)
    block = image[top + 2 : top + int(cell) - 2, left + 2 : left + int(cell) - 2]
    background = np.median(block.reshape(-1, 3), axis=0)
    line = np.abs(block - background).max(axis=2) > 60
    cols = np.flatnonzero(line.any(axis=0))
    assert cols.size > cell / 2  # a line across the cell
    start_y = np.flatnonzero(line[:, cols[0]]).mean()
    end_y = np.flatnonzero(line[:, cols[-1]]).mean()
    assert end_y < start_y - cell / 3  # image y grows down: the end is higher


@needs_pdftoppm
def test_stability_circle_runs_from_low_at_the_centre_to_high_at_the_edge(
    tmp_path: pathlib.Path,
) -> None:
    # Cell (0, 0) varies across runs (0.1 .. 0.5); every other cell is the same in each run.
    runs = np.stack([A.copy() for _ in range(4)])
    runs[:, 0, 0, 0, 0] = [0.1, 0.5, 0.1, 0.5]
    pdf = views.stability(runs, TOKENS, spread="std", k=1.0)._render("stability")
    image = pixels(pdf, tmp_path, "stability")
    origin = matrix_box(image)
    centre = cell_pixel(image, origin, 0, 0, 0.5, 0.5)  # colour(low): darker (viridis)
    edge = cell_pixel(image, origin, 0, 0, 0.5, 0.5 + 0.4)  # near the edge: colour(high)
    assert edge.sum() > centre.sum() + 60
    # A cell without spread has no circle.
    assert (
        np.abs(
            cell_pixel(image, origin, 1, 1, 0.5, 0.5) - cell_pixel(image, origin, 1, 1, 0.1, 0.1)
        ).max()
        <= 6
    )


def test_bad_kind_options_and_channels_raise() -> None:
    w = views.compare(A, A * 0.5, TOKENS)
    channels, scale_max, _ = w._overlay.channels(0, 0, 0)
    with pytest.raises(ValueError, match="'compare', 'stability', 'evolution'"):
        render_analysis_pdf(w.data, "bogus", channels, scale_max=scale_max)
    with pytest.raises(ValueError, match="evolution needs base, series; missing series"):
        render_analysis_pdf(w.data, "evolution", channels, scale_max=scale_max)
    with pytest.raises(ValueError, match="allowed: cmap"):
        render_analysis_pdf(w.data, "compare", channels, scale_max=scale_max, rings=3)
    with pytest.raises(ValueError, match="mode: expected 'circles' or 'signed'"):
        w.export_pdf("unused.pdf", mode="both")
    bad = {**channels, "b": np.zeros((2, 2), dtype=np.float32)}
    with pytest.raises(ValueError, match=r"channels\['b'\]: expected shape \(3, 3\)"):
        render_analysis_pdf(w.data, "compare", bad, scale_max=scale_max)
