"""PDF, SVG and PNG from one figure: the extension chooses, the bytes are what they claim.

Each format is checked by its magic bytes and its content: PDF pages and
text (pypdf), SVG ``<text>`` elements holding the tokens, PNG pixel size at
its dpi (Pillow).
"""

from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

import attn_widget as aw
from attn_widget.data import AttentionData
from attn_widget.export import default_filename, format_of, render_pdf

TOKENS = ["The", "cat", "sat", "on", "the", "mat", "."]
MAGIC = {"pdf": b"%PDF-", "svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n"}


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def small() -> AttentionData:
    rng = np.random.default_rng(0)
    return AttentionData(softmax(rng.normal(size=(3, 4, 7, 7)) * 2), TOKENS)


def svg_texts(svg: bytes) -> list[str]:
    """The text of every ``<text>`` element (token labels are text, not outlines)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("kind", ["heatmap", "lines", "grid", "lines_grid"])
@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_every_kind_in_every_format_has_its_magic_bytes_and_text(
    small: AttentionData, kind: str, fmt: str
) -> None:
    data = render_pdf(small, kind, layer=1, head=2, format=fmt)
    assert data.startswith(MAGIC[fmt])
    if fmt == "svg":
        texts = svg_texts(data)
        for token in ("cat", "sat", "mat"):
            assert token in texts, (kind, token)
    elif fmt == "pdf":
        text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
        assert "cat" in text and "mat" in text
    else:
        assert Image.open(io.BytesIO(data)).format == "PNG"


def test_same_input_same_bytes_in_every_format(small: AttentionData) -> None:
    for fmt in ("pdf", "svg", "png"):
        options = {"top_n": 2, "regions": [(0, 0, 2, 2, "r")], "format": fmt}
        first = render_pdf(small, "heatmap", layer=1, head=0, **options)
        assert render_pdf(small, "heatmap", layer=1, head=0, **options) == first, fmt


def test_svg_bytes_do_not_depend_on_the_process() -> None:
    script = (
        "import sys, numpy as np\n"
        "from attn_widget.data import AttentionData\n"
        "from attn_widget.export import render_pdf\n"
        "d = AttentionData(np.eye(5) * 0.5 + 0.1, ['a', 'b', 'café', 'x', 'y'])\n"
        "sys.stdout.buffer.write(render_pdf(d, 'heatmap', top_n=2, format='svg'))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4321"}
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, env=env
    ).stdout
    data = AttentionData(np.eye(5) * 0.5 + 0.1, ["a", "b", "café", "x", "y"])
    assert other == render_pdf(data, "heatmap", top_n=2, format="svg")


def test_png_follows_dpi_and_vector_formats_refuse_it(small: AttentionData) -> None:
    pdf = render_pdf(small, "heatmap")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    width_in = float(page.mediabox.width) / 72
    for dpi in (100, 300):
        png = Image.open(io.BytesIO(render_pdf(small, "heatmap", format="png", dpi=dpi)))
        assert abs(png.size[0] - width_in * dpi) <= 1
    with pytest.raises(ValueError, match="dpi: sets a PNG's resolution; PDF is vector"):
        render_pdf(small, "heatmap", dpi=300)
    with pytest.raises(ValueError, match=r"dpi: expected a number in 50\.\.1200"):
        render_pdf(small, "heatmap", format="png", dpi=5)
    with pytest.raises(ValueError, match="format: expected one of pdf, svg, png"):
        render_pdf(small, "heatmap", format="jpeg")


def test_the_extension_chooses_and_an_unknown_one_is_refused(
    tmp_path: pathlib.Path, small: AttentionData
) -> None:
    w = aw.AttentionWidget(small, layer=1, head=2)
    for name, magic in (("f.pdf", MAGIC["pdf"]), ("f.SVG", MAGIC["svg"]), ("f.png", MAGIC["png"])):
        path = w.export_pdf(tmp_path / name)
        assert pathlib.Path(path).read_bytes().startswith(magic), name
    assert w.export_pdf(tmp_path / "hi.png", dpi=72).exists()
    for bad in ("f.jpg", "f.eps", "figure"):
        with pytest.raises(ValueError, match=r"figures are written as \.pdf, \.svg, \.png"):
            w.export_pdf(tmp_path / bad)
        assert not (tmp_path / bad).exists()
    assert format_of("a/b.PNG") == "png"


def test_one_rendering_path_the_svg_and_png_show_what_the_pdf_shows(
    small: AttentionData, tmp_path: pathlib.Path
) -> None:
    """The PNG equals the PDF rasterised by poppler at the same dpi, to antialiasing."""
    import shutil

    if shutil.which("pdftoppm") is None:
        pytest.skip("needs poppler")
    pdf = render_pdf(small, "heatmap", top_n=2)
    png = np.asarray(
        Image.open(io.BytesIO(render_pdf(small, "heatmap", top_n=2, format="png", dpi=72))).convert(
            "RGB"
        )
    ).astype(int)
    (tmp_path / "f.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-png",
            "-singlefile",
            str(tmp_path / "f.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    poppler = np.asarray(Image.open(tmp_path / "p.png").convert("RGB")).astype(int)
    h = min(png.shape[0], poppler.shape[0])
    w = min(png.shape[1], poppler.shape[1])
    assert abs(png.shape[0] - poppler.shape[0]) <= 1 and abs(png.shape[1] - poppler.shape[1]) <= 1
    # Cells are the same colours; text and cell edges differ by antialiasing only
    # (a different layout or colour would differ almost everywhere).
    diff = np.abs(png[:h, :w] - poppler[:h, :w]).max(axis=2)
    assert np.median(diff) <= 2 and (diff <= 40).mean() > 0.9
    svg_text = svg_texts(render_pdf(small, "heatmap", top_n=2, format="svg"))
    pdf_text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split()
    assert {t for t in svg_text if t in TOKENS} == {t for t in pdf_text if t in TOKENS}


def test_export_requests_take_a_format_and_name_its_file() -> None:
    """The view's PNG button: ``{"type": "export", "format": "png"}`` gets a PNG and its name."""
    rng = np.random.default_rng(1)
    w = aw.AttentionWidget(softmax(rng.normal(size=(2, 3, 6, 6))), list("abcdef"), layer=1)
    sent: list[tuple[dict, list[bytes]]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))  # type: ignore[method-assign]
    w._on_message(w, {"type": "export", "id": 1, "kind": "heatmap", "format": "png"}, [])
    content, buffers = sent[-1]
    assert content["ok"] and content["format"] == "png" and content["mime"] == "image/png"
    assert content["filename"] == "attention_L1_H0_case0_heatmap.png"
    assert buffers[0].startswith(MAGIC["png"])
    w._on_message(w, {"type": "export", "id": 2, "kind": "lines"}, [])  # no format: PDF
    assert sent[-1][0]["mime"] == "application/pdf" and sent[-1][1][0].startswith(MAGIC["pdf"])
    w._on_message(w, {"type": "export", "id": 3, "kind": "heatmap", "format": "gif"}, [])
    assert (
        sent[-1][0]["ok"] is False
        and "format: expected one of pdf, svg, png" in sent[-1][0]["error"]
    )
    assert default_filename("grid", 0, None, 1, format="svg") == "attention_case1_grid_mean.svg"


def test_per_token_is_one_pdf_page_per_query_token(small: AttentionData) -> None:
    """trans_attention_vis' "one picture per token": each page shows one query's lines."""
    pdf = render_pdf(small, "lines", layer=1, head=2, per_token=True)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == len(TOKENS)
    for i, page in enumerate(reader.pages):
        assert f"query {i}: {TOKENS[i]}" in page.extract_text()
    with pytest.raises(ValueError, match="per_token: one page per query token needs a PDF"):
        render_pdf(small, "lines", per_token=True, format="png")


def test_per_token_pages_hold_only_that_tokens_lines(small: AttentionData) -> None:
    from matplotlib.patches import PathPatch

    from attn_widget.export import _figures
    from attn_widget.export.common import style
    from attn_widget.state import ViewState

    with style():
        figures, _, _ = _figures(
            small, "lines", ViewState(layer=1, head=2).check(small), {"per_token": True}
        )
    matrix = small.matrix(1, 2)
    for i, fig in enumerate(figures):
        starts = np.concatenate(
            [
                p.get_path().vertices[0::2]
                for p in fig.axes[0].get_children()
                if isinstance(p, PathPatch)
            ]
        )
        assert np.ptp(starts[:, 1]) == 0  # every line leaves the same query row
        visible = int((matrix[i] / matrix.max() >= 1 / 255).sum())  # the view's faintest line
        assert len(starts) == visible


def test_a_kernel_warms_the_pdf_backend_up_in_the_background_and_a_script_does_not() -> None:
    """The first PDF's extra cost is the backend's start-up; a kernel pays it ahead."""
    script = (
        "import sys, types\n"
        "{fake}"
        "import matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "import attn_widget.export as e\n"
        "if e._warming:\n"
        "    e._warming[0].join(60)\n"
        "print('backend_pdf' in ' '.join(sys.modules), len(e._warming),"
        " dict(matplotlib.rcParams) == before)\n"
    )
    kernel = "sys.modules['ipykernel'] = types.ModuleType('ipykernel')\n"
    for fake, expected in ((kernel, "True 1 True"), ("", "False 0 True")):
        done = subprocess.run(
            [sys.executable, "-c", script.format(fake=fake)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[-2] == expected, (fake, done.stdout, done.stderr)
        assert "FFTM" not in done.stderr  # fontTools' notes are not printed
