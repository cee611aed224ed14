"""PDF export: every figure and option renders, parses back with its text, and is exact.

PDFs are read back with pypdf (pages, text, embedded images) and rendered to
PNG with poppler's pdftoppm to check pixels.
"""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from pypdf import PdfReader

from attn_widget.data import AttentionData
from attn_widget.export import default_filename, render_pdf, write_atomic
from attn_widget.export.common import pick_labels, visible_token
from attn_widget.export.heatmap import top_cells_of

TOKENS = ["The", "cat", "sat", "on", "the", "mat", "."]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def small() -> AttentionData:
    """3 layers, 4 heads, 7 tokens, one case; not causal."""
    rng = np.random.default_rng(0)
    return AttentionData(softmax(rng.normal(size=(3, 4, 7, 7)) * 2), TOKENS)


@pytest.fixture(scope="module")
def causal() -> AttentionData:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 2, 7, 7))
    logits[..., np.triu(np.ones((7, 7), bool), 1)] = -np.inf
    return AttentionData(softmax(logits), TOKENS)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    reader = read(pdf)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    return [image.image.size for image in read(pdf).pages[0].images]


# ----------------------------------------------------------------- every kind and option
CASES = [
    ("heatmap", {}),
    ("heatmap", {"head": None}),
    ("heatmap", {"gamma": 0.4, "cmap": "magma"}),
    ("heatmap", {"top_n": 3}),
    ("heatmap", {"top_n": 3, "enlarge": True}),
    ("heatmap", {"top_n": 2, "enlarge": 2.5}),
    ("heatmap", {"regions": [(0, 0, 3, 3, "subject"), (4, 2, 7, 6)]}),
    ("heatmap", {"split": 3}),
    ("heatmap", {"split": 3, "split_panels": True, "split_names": ("question", "context")}),
    ("heatmap", {"causal": True, "size": 3.0, "title": "custom"}),
    ("heatmap", {"selection": {"kind": "query", "index": 2}}),
    ("heatmap", {"selection": {"kind": "key", "index": 5}}),
    ("heatmap", {"selection": {"kind": "cell", "q": 1, "k": 4}, "top_n": 1}),
    ("lines", {}),
    ("lines", {"head": None, "gamma": 2.0, "top_k": 2, "threshold": 0.1, "color": "black"}),
    ("lines", {"selection": {"kind": "query", "index": 2}}),
    ("lines", {"selection": {"kind": "key", "index": 0}}),
    ("lines", {"selection": {"kind": "cell", "q": 1, "k": 4}}),
    ("grid", {}),
    ("grid", {"heads": "mean"}),
    ("grid", {"layers": "current", "layer": 2, "per_row": 3}),
    ("grid", {"heads": "mean", "layers": "current", "cmap": "Blues", "gamma": 0.5}),
]


@pytest.mark.parametrize(("kind", "options"), CASES, ids=[f"{k}-{o}" for k, o in CASES])
def test_every_kind_and_option_renders_one_page_with_its_text(
    small: AttentionData, kind: str, options: dict
) -> None:
    options = dict(options)
    layer = options.pop("layer", 1)
    head = options.pop("head", 2)
    text = text_of(render_pdf(small, kind, layer=layer, head=head, **options))
    for token in ("cat", "sat", "mat"):
        assert token in text
    if "title" in options:
        assert options["title"] in text
    elif kind != "grid":
        # One case: the title names layer and head, not "case 0".
        head_part = "head mean" if head is None else f"head {head}"
        assert f"layer {layer} · {head_part}" in text and "case" not in text
    else:
        assert "every" in text or "head mean" in text


def test_grid_panels_follow_the_options(small: AttentionData) -> None:
    text = text_of(render_pdf(small, "grid"))
    assert all(f"L{lay} · H{h}" in text for lay in range(3) for h in range(4))
    text = text_of(render_pdf(small, "grid", heads="mean"))
    assert all(f"layer {lay}" in text for lay in range(3))
    # The view on the head mean: the grid of head means, unless told otherwise.
    assert render_pdf(small, "grid", head=None) == render_pdf(small, "grid", heads="mean")
    assert "L2 · H3" in text_of(render_pdf(small, "grid", head=None, heads="all"))
    text = text_of(render_pdf(small, "grid", layer=1, layers="current"))
    assert "layer 1 · every head" in text
    assert all(f"head {h}" in text for h in range(4))


def test_grid_hides_empty_cells_and_draws_one_colour_bar(small: AttentionData) -> None:
    # 4 heads, 3 per row: a row of 3 and a row of 1, the two empty places not drawn.
    pdf = render_pdf(small, "grid", layers="current", per_row=3)
    sizes = image_sizes(pdf)
    assert sizes.count((7, 7)) == 4  # one unsampled image per panel, nothing for empty places
    assert len(sizes) == 5  # and one colour bar
    single_row = render_pdf(small, "grid", heads="mean", per_row=8)
    assert image_sizes(single_row).count((7, 7)) == 3


def test_lines_figure_draws_weakest_first_and_only_the_locked_tokens_lines(
    small: AttentionData,
) -> None:
    from matplotlib.patches import PathPatch

    from attn_widget.export.common import style
    from attn_widget.export.lines import lines_figure, parse_lines_options

    # Every weight at least 1/10 of the maximum: no line is too faint to draw.
    matrix = np.random.default_rng(3).uniform(0.1, 1.0, (7, 7)).astype(np.float32)
    opts = parse_lines_options({}, 7, 7)

    def drawn(selection: dict | None) -> list[PathPatch]:
        with style():
            fig = lines_figure(
                matrix, TOKENS, TOKENS, title="t", gamma=1.0, selection=selection, opts=opts
            )
        return [a for a in fig.axes[0].get_children() if isinstance(a, PathPatch)]

    patches = drawn(None)
    alphas = [p.get_edgecolor()[3] for p in patches]
    assert alphas == sorted(alphas) and len(alphas) > 1
    assert sum(len(p.get_path().vertices) // 2 for p in patches) == 49  # every link of 7 x 7
    locked = drawn({"kind": "query", "index": 3})
    starts = np.concatenate([p.get_path().vertices[0::2] for p in locked])
    assert len(starts) == 7  # one query's lines only
    assert np.ptp(starts[:, 1]) == 0  # all leave from the same row


# ----------------------------------------------------------------- exact and deterministic
def test_same_state_gives_identical_bytes(small: AttentionData) -> None:
    for kind, options in (
        ("heatmap", {"top_n": 2, "regions": [(0, 0, 2, 2, "r")], "gamma": 0.7}),
        ("lines", {"selection": {"kind": "cell", "q": 1, "k": 2}}),
        ("grid", {"heads": "mean"}),
    ):
        first = render_pdf(small, kind, layer=1, head=0, **options)
        assert render_pdf(small, kind, layer=1, head=0, **options) == first
        assert b"CreationDate" not in first


def test_bytes_do_not_depend_on_the_process(tmp_path: pathlib.Path) -> None:
    """Another interpreter, another hash seed: the same bytes (font subset names, ids)."""
    script = (
        "import sys, numpy as np\n"
        "from attn_widget.data import AttentionData\n"
        "from attn_widget.export import render_pdf\n"
        "d = AttentionData(np.eye(5) * 0.5 + 0.1, ['a', 'b', 'café', '中', 'x'])\n"
        "sys.stdout.buffer.write(render_pdf(d, 'heatmap', top_n=2))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, env=env
    ).stdout
    data = AttentionData(np.eye(5) * 0.5 + 0.1, ["a", "b", "café", "中", "x"])
    assert other == render_pdf(data, "heatmap", top_n=2)


def test_an_all_zero_matrix_renders() -> None:
    data = AttentionData(np.zeros((2, 1, 4, 4)), list("abcd"))
    for kind in ("heatmap", "lines", "grid"):
        assert "layer" in text_of(
            render_pdf(data, kind, top_n=2) if kind == "heatmap" else render_pdf(data, kind)
        )


def test_the_users_rcparams_neither_change_the_pdf_nor_get_changed(small: AttentionData) -> None:
    before = render_pdf(small, "heatmap", top_n=1)
    saved = dict(matplotlib.rcParams)
    with matplotlib.rc_context({"font.size": 20, "axes.facecolor": "black", "pdf.fonttype": 3}):
        assert render_pdf(small, "heatmap", top_n=1) == before
    assert dict(matplotlib.rcParams) == saved


def test_top_n_marks_exactly_n_cells_even_when_values_tie() -> None:
    flat = np.full((6, 6), 0.37)
    data = AttentionData(flat, [f"w{i}" for i in range(6)])
    for n in (1, 4, 7):
        text = text_of(render_pdf(data, "heatmap", top_n=n))
        assert text.count("0.37") == n
    # Ties go by row-major position: the first n cells.
    assert top_cells_of(flat, 4) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    # Masked (causal) cells are never picked; more than there are gives all there are.
    mask = np.triu(np.ones((6, 6), bool), 1)
    assert top_cells_of(flat, 50, mask) == [(i, j) for i in range(6) for j in range(i + 1)]


def test_top_n_on_small_cells_lists_every_top_cell_in_a_table() -> None:
    n = 200
    matrix = np.full((n, n), 0.25, dtype=np.float32)
    data = AttentionData(matrix, [f"w{i}" for i in range(n)])
    text = text_of(render_pdf(data, "heatmap", top_n=5))
    assert "top cells" in text
    for i, j in top_cells_of(matrix, 5):
        assert f"w{i} ({i}) → w{j} ({j})" in text


def test_embedded_image_keeps_every_cell_at_512() -> None:
    rng = np.random.default_rng(2)
    n = 512
    data = AttentionData(softmax(rng.normal(size=(n, n)).astype(np.float32)), None)
    pdf = render_pdf(data, "heatmap")
    assert (n, n) in image_sizes(pdf)
    assert len(pdf) < 1.5e6


def test_enlarge_repeats_whole_pixels() -> None:
    data = AttentionData(np.eye(10) * 0.5 + 0.05, [f"t{i}" for i in range(10)])
    sizes = image_sizes(render_pdf(data, "heatmap", top_n=2, enlarge=3))
    # 8 normal rows of 1 pixel and 2 enlarged rows of 3: 14 pixels each way.
    assert (14, 14) in sizes


# ----------------------------------------------------------------- pixels
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler")


def rasterise(pdf: bytes, tmp_path: pathlib.Path, dpi: int = 72) -> np.ndarray:
    source = tmp_path / "figure.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
    )
    from PIL import Image

    return np.asarray(Image.open(tmp_path / "page.png").convert("RGB")).astype(int)


def matrix_box(
    pixels: np.ndarray, colours: list[tuple[int, int, int]]
) -> tuple[int, int, int, int]:
    """Bounding box (top, left, bottom, right) of the matrix: where ``colours`` fill columns.

    The colour bar holds those colours too, but only in a few of its rows,
    and antialiased text makes a few stray pixels: columns (then rows) are
    kept when they hold at least half as many such pixels as the fullest one.
    """
    near = np.zeros(pixels.shape[:2], dtype=int)
    for colour in colours:
        near |= np.abs(pixels - np.array(colour)).max(axis=2) <= 6
    columns = near.sum(axis=0)
    cols = np.flatnonzero(columns >= columns.max() / 2)
    counts = near[:, cols].sum(axis=1)
    rows = np.flatnonzero(counts >= counts.max() / 2)
    return rows[0], cols[0], rows[-1] + 1, cols[-1] + 1


VIRIDIS_LOW = tuple(round(c * 255) for c in matplotlib.colormaps["viridis"](0.0)[:3])
VIRIDIS_HIGH = tuple(round(c * 255) for c in matplotlib.colormaps["viridis"](1.0)[:3])
MASK_GREY = (237, 237, 237)


def luminance(rgb: np.ndarray) -> float:
    return float(0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


@needs_pdftoppm
def test_a_diagonal_matrix_renders_a_bright_diagonal(tmp_path: pathlib.Path) -> None:
    n = 24
    data = AttentionData(np.eye(n), [f"t{i}" for i in range(n)])
    # The identity is causal (nothing above the diagonal), so it is masked by default.
    pixels = rasterise(render_pdf(data, "heatmap"), tmp_path)
    top, left, bottom, right = matrix_box(pixels, [VIRIDIS_LOW, VIRIDIS_HIGH, MASK_GREY])
    cell = (right - left) / n
    assert abs((bottom - top) - (right - left)) <= 2  # square cells
    assert cell > 5

    def at(i: int, j: int) -> np.ndarray:
        return pixels[int(top + (i + 0.5) * cell), int(left + (j + 0.5) * cell)]

    for i in range(n):
        assert luminance(at(i, i)) > 0.75  # viridis' yellow
        if i + 1 < n:
            assert luminance(at(i + 1, i)) < 0.15  # below: zero, viridis' dark
            assert np.abs(at(i, i + 1) - 237).max() <= 3  # above: the causal mask's grey


@needs_pdftoppm
def test_causal_mask_only_by_default_on_causal_data(
    tmp_path: pathlib.Path, small: AttentionData
) -> None:
    grey = np.array([237, 237, 237])
    for data, expected in ((small, False), (AttentionData(np.tril(np.ones((7, 7))) / 7), True)):
        pixels = rasterise(render_pdf(data, "heatmap"), tmp_path)
        # The upper triangle is ~10,000 pixels; antialiased text makes a few greys.
        masked = (np.abs(pixels - grey).max(axis=2) <= 3).sum()
        assert bool(masked > 2000) is expected
    pixels = rasterise(render_pdf(small, "heatmap", causal=True), tmp_path)
    assert (np.abs(pixels - grey).max(axis=2) <= 3).sum() > 2000


# ----------------------------------------------------------------- text and labels
def test_unusual_tokens_stay_text_and_never_crash() -> None:
    tokens = ["café", "中文", "🙂", "$x$", "", "a\nb", "\u202eevil", "x" * 40]
    n = len(tokens)
    data = AttentionData(np.full((n, n), 1 / n), tokens)
    for kind in ("heatmap", "lines", "grid"):
        text = text_of(render_pdf(data, kind))
        for shown in ("café", "中文", "$x$", "∅", "a␊b", "⟨U+202E⟩evil", "x" * 15 + "…"):
            assert shown in text, (kind, shown)
    assert visible_token("") == "∅" and visible_token("\t") == "␉"


def test_every_label_shows_while_7_pt_labels_fit_and_every_other_after() -> None:
    """At the default 7 in (a double column), 52 tokens get every label; 64 every other."""

    def labelled(n: int, **options: object) -> list[int]:
        tokens = [f"k{i}" for i in range(n)]
        pdf = render_pdf(AttentionData(np.full((n, n), 1 / n), tokens), "heatmap", **options)
        words = text_of(pdf).split()
        return sorted({int(w[1:]) for w in words if w[:1] == "k" and w[1:].isdigit()})

    assert labelled(52) == list(range(52))
    assert labelled(64) == list(range(0, 64, 2))
    assert labelled(64, width=9) == list(range(64))  # a wider page labels them all
    assert labelled(64, width=3.3) == list(range(0, 64, 4))


def test_long_inputs_thin_labels_without_overlap_keeping_priorities() -> None:
    centres = (np.arange(300) + 0.5) * 1.5  # 1.5 pt cells
    picked = pick_labels(centres, 8.0, priority=[101, 102, 7])
    assert 101 in picked and 7 in picked and 102 not in picked  # 102 would touch 101
    assert np.diff(centres[picked]).min() >= 8.0
    assert pick_labels(np.arange(10) * 9.0, 8.0) == list(range(10))
    n = 300
    tokens = [f"k{i}" for i in range(n)]
    matrix = np.full((n, n), 0.001)
    matrix[150, 201] = 0.9
    text = text_of(render_pdf(AttentionData(matrix, tokens), "heatmap", top_n=1)).split()
    assert "k201" in text and "k150" in text  # the top cell's tokens are labelled
    assert 20 < sum(t.startswith("k") for t in text) < 300


# ----------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("pie", {}, "expected one of 'heatmap', 'lines', 'grid'"),
        ("heatmap", {"colour": "red"}, "allowed: cmap, top_n"),
        ("lines", {"top_n": 3}, "allowed: top_k"),
        ("grid", {"split": 2}, "allowed: cmap, heads"),
        ("heatmap", {"top_n": -1}, "top_n: expected an integer >= 0"),
        ("heatmap", {"top_n": 1.5}, "top_n"),
        ("heatmap", {"regions": [(0, 0, 9, 2)]}, "outside the 7 x 7 matrix"),
        ("heatmap", {"regions": [(3, 3, 2, 5)]}, "0 <= top < bottom <= 7"),
        ("heatmap", {"regions": [(0, 0, 2)]}, "expected (top, left, bottom, right[, label])"),
        ("heatmap", {"split": 0}, "split: expected an integer 1..6"),
        ("heatmap", {"split": 7}, "split: expected an integer 1..6"),
        ("heatmap", {"split_panels": True}, "needs split="),
        ("heatmap", {"enlarge": True}, "needs top_n >= 1"),
        ("heatmap", {"enlarge": 0.5, "top_n": 1}, "enlarge: expected a number in 1..8"),
        ("heatmap", {"cmap": "nope"}, "unknown colour map 'nope'"),
        ("heatmap", {"gamma": 0}, "gamma: expected a finite number > 0"),
        ("heatmap", {"gamma": float("nan")}, "gamma"),
        ("heatmap", {"layer": 3}, "layer: expected 0..2"),
        ("heatmap", {"head": 4}, "head: expected 0..3"),
        ("heatmap", {"case": 1}, "case: expected 0..0"),
        ("heatmap", {"selection": {"kind": "query", "index": 7}}, "inside the 7 x 7 matrix"),
        ("heatmap", {"selection": {"kind": "row", "index": 1}}, "selection: expected None"),
        ("lines", {"top_k": 0}, "top_k: expected an integer >= 1"),
        ("grid", {"heads": "some"}, "heads: expected 'all'"),
        ("grid", {"per_row": 0}, "per_row: expected an integer 1..64"),
    ],
)
def test_bad_input_is_a_value_error_saying_what_is_allowed(
    small: AttentionData, kind: str, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        render_pdf(small, kind, **options)
    assert message in str(caught.value)


def test_cross_attention_refuses_square_only_options() -> None:
    data = AttentionData(
        np.full((3, 5), 0.2), ["a", "b", "c", "d", "e"], target_tokens=["x", "y", "z"]
    )
    assert "x" in text_of(render_pdf(data, "lines")) and "e" in text_of(render_pdf(data, "heatmap"))
    with pytest.raises(ValueError, match="split: needs a square"):
        render_pdf(data, "heatmap", split=1)
    with pytest.raises(ValueError, match="causal: masking needs a square matrix"):
        render_pdf(data, "heatmap", causal=True)


# ----------------------------------------------------------------- files
def test_default_filenames() -> None:
    assert default_filename("heatmap", 3, 5, 0) == "attention_L3_H5_case0_heatmap.pdf"
    assert default_filename("lines", 3, None, 0) == "attention_L3_mean_case0_lines.pdf"
    assert default_filename("grid", 3, 5, 1) == "attention_case1_grid.pdf"
    assert default_filename("grid", 3, 5, 1, layers="current") == "attention_L3_case1_grid.pdf"
    assert default_filename("grid", 3, 0, 0, heads="mean") == "attention_case0_grid_mean.pdf"
    # The button on the head mean exports the grid of head means, named so.
    assert default_filename("grid", 3, None, 0) == "attention_case0_grid_mean.pdf"
    assert default_filename("grid", 3, None, 0, heads="all") == "attention_case0_grid.pdf"
    with pytest.raises(ValueError, match="kind"):
        default_filename("png", 0, 0, 0)


def test_write_atomic_creates_folders_and_never_leaves_a_half_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, small: AttentionData
) -> None:
    pdf = render_pdf(small, "heatmap")
    target = tmp_path / "figs" / "sub" / default_filename("heatmap", 0, 0, 0)
    assert write_atomic(target, pdf) == target.resolve()
    assert target.read_bytes() == pdf

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"half")
    assert target.read_bytes() == pdf
    assert [p.name for p in target.parent.iterdir()] == [target.name]


# ----------------------------------------------------------------- a zoomed window
def test_window_exports_only_its_rows_and_columns(small: AttentionData) -> None:
    pdf = render_pdf(small, "heatmap", layer=1, head=2, window=(2, 5, 1, 6))
    assert image_sizes(pdf)[0] == (5, 3)  # one pixel per cell: 5 keys x 3 queries
    text = text_of(pdf)
    assert "queries 2–4, keys 1–5" in text
    # Only the window's tokens label the axes ("The" is query 0 and key 0 only).
    assert "The" not in text and "sat" in text and "on" in text


def test_window_keeps_matrix_positions_and_clips_marks() -> None:
    rng = np.random.default_rng(4)
    tokens = [f"w{i}" for i in range(300)]
    data = AttentionData(softmax(rng.normal(size=(1, 1, 300, 300)) * 3), tokens)
    window = (100, 260, 40, 200)
    pdf = render_pdf(
        data,
        "heatmap",
        top_n=2,
        window=window,
        regions=[(0, 0, 101, 41, "corner"), (150, 50, 160, 60, "kept"), (0, 0, 50, 50, "gone")],
        selection={"kind": "query", "index": 0},  # outside the window: not marked
    )
    text = text_of(pdf)
    assert image_sizes(pdf)[0] == (160, 160)
    # Cells this small print the top values in a table, at the matrix's positions.
    block = data.matrix(0, 0)[100:260, 40:200]
    i, j = np.unravel_index(np.argmax(block), block.shape)
    assert f"w{i + 100} ({i + 100}) → w{j + 40} ({j + 40})" in text
    assert "kept" in text and "corner" in text  # (0, 0, 101, 41) still covers cell (100, 40)
    assert "gone" not in text


def test_a_causal_window_masks_the_keys_after_each_query(causal: AttentionData) -> None:
    """Below the diagonal of the window is not below the matrix's diagonal."""
    from attn_widget.export.common import MASK_RGB

    pdf = render_pdf(causal, "heatmap", window=(1, 4, 2, 6))
    # The PDF stores the image bottom row first.
    pixels = np.asarray(read(pdf).pages[0].images[0].image.convert("RGB"))[::-1]
    assert pixels.shape == (3, 4, 3)
    for i in range(3):
        for j in range(4):
            hidden = j + 2 > i + 1
            masked = tuple(int(c) for c in pixels[i, j]) == tuple(int(c) for c in MASK_RGB)
            assert masked == hidden, (i, j)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ((0, 8, 0, 7), r"0 <= q0 < q1 <= 7"),
        ((3, 3, 0, 7), r"got \(3, 3, 0, 7\)"),
        ((0, 2, 0), r"expected \(q0, q1, k0, k1\)"),
        ((0.5, 2, 0, 3), r"expected \(q0, q1, k0, k1\)"),
        ("0:3", r"expected \(q0, q1, k0, k1\)"),
    ],
)
def test_bad_windows_say_what_is_expected(
    small: AttentionData, window: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_pdf(small, "heatmap", window=window)


def test_split_does_not_go_with_a_window(small: AttentionData) -> None:
    with pytest.raises(ValueError, match="cannot go with window"):
        render_pdf(small, "heatmap", split=3, window=(0, 3, 0, 3))


def test_a_window_names_the_file() -> None:
    assert (
        default_filename("heatmap", 3, 5, 0, window=(10, 26, 4, 20))
        == "attention_L3_H5_case0_q10-26_k4-20_heatmap.pdf"
    )
