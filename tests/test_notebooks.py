"""The notebooks in notebooks/ run top to bottom, offline, and their lessons' checks print.

The lessons' claims are checked by ``assert`` in their own cells (a failing
claim is an error output); here each check's printed line must be there, and
each hand-out figure in ``slides/`` must be a one-page PDF with its text and a
PNG at the resolution asked for.
"""

from __future__ import annotations

import pathlib
import re
import sys

import nbformat
import pytest
from PIL import Image
from pypdf import PdfReader

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebook import run  # noqa: E402


def printed(executed: pathlib.Path) -> str:
    """Everything the notebook's cells printed (stdout and stderr), in order."""
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{errors[0].ename}: {errors[0].evalue}"
    return "".join(
        o.text for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream"
    )


def pdf_text(path: pathlib.Path) -> str:
    reader = PdfReader(path)
    assert len(reader.pages) == 1, f"{path.name}: {len(reader.pages)} pages"
    return reader.pages[0].extract_text()


def check_png(path: pathlib.Path, dpi: float, min_side: int) -> tuple[int, int]:
    """A PNG at ``dpi`` dots per inch whose shorter side has at least ``min_side`` pixels."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.1)
        assert min(image.size) >= min_side, f"{path.name}: {image.size}"
        return image.size


def check_handout(folder: pathlib.Path, texts: dict[str, list[str]], min_side: int) -> None:
    """Each name has name.pdf (one page, holding ``texts[name]``) and name.png at 300 dpi."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.{ext}" for name in texts for ext in ("pdf", "png")
    )
    for name, words in texts.items():
        text = pdf_text(folder / f"{name}.pdf")
        for word in words:
            assert word in text, f"{name}.pdf lacks {word!r}"
        check_png(folder / f"{name}.png", 300, min_side)


@pytest.mark.slow
def test_quickstart_runs_offline_and_writes_its_figures(tmp_path: pathlib.Path) -> None:
    executed = run(ROOT / "notebooks" / "quickstart.ipynb", tmp_path, timeout=300)
    text = executed.read_text()
    assert '"output_type": "error"' not in text
    # The widget cell rendered a widget view, not an error.
    assert "application/vnd.jupyter.widget-view+json" in text
    for kind in ("heatmap", "lines", "grid"):
        pdf = PdfReader(tmp_path / f"quickstart_{kind}.pdf")
        assert len(pdf.pages) == 1
    assert "cat" in PdfReader(tmp_path / "quickstart_heatmap.pdf").pages[0].extract_text()
    assert (tmp_path / "quickstart_run.npz").stat().st_size > 0


@pytest.mark.slow
def test_teaching_notebook_finds_the_famous_heads_and_grows_an_induction_head(
    tmp_path: pathlib.Path,
) -> None:
    out = printed(run(ROOT / "notebooks" / "teaching.ipynb", tmp_path, timeout=300))
    # Part 1: MiniLM's famous heads.
    assert "previous-token head: layer" in out and "parking head: layer" in out
    check_handout(
        tmp_path / "slides" / "famous_heads",
        {
            "previous_token_head": ["keys", "cabinet"],
            "agreement_lines": ["are", "keys"],
            "model_overview": ["L5 · H11"],
        },
        min_side=1000,
    )
    # Part 2: each claim's check ran and printed (the asserts sit in the cells).
    plateau = re.search(
        r"check: the loss stayed above 3 nats for (\d+) steps, then fell under 0.1 in (\d+) more",
        out,
    )
    assert plateau and int(plateau[1]) >= 100 and int(plateau[2]) < int(plateau[1])
    ranked = re.search(
        r"check: induction head ranked first: layer 1 head (\d) \((0\.\d\d|1\.00)\); "
        r"previous-token head ranked first: layer 0 head (\d) \((0\.\d\d|1\.00)\)",
        out,
    )
    assert ranked and float(ranked[2]) > 0.8 and float(ranked[4]) > 0.5
    head = f"layer 1 head {ranked[1]}"
    titled = f"layer 1 · head {ranked[1]}"  # as the figures' titles name it
    assert "check: the second 'tu' looks at the token after the first 'tu': be" in out
    appeared = re.search(
        r"check: the induction head appeared with the loss drop \((\d+) vs (\d+)\)", out
    )
    assert appeared and abs(int(appeared[1]) - int(appeared[2])) <= 50
    assert (
        "check: the model copied tu be sa no pi du le and each step looked at what it copied" in out
    )
    check_handout(
        tmp_path / "slides" / "induction",
        {
            "loss_and_induction": ["training step", f"induction score of {head}"],
            "atlas_induction": ["induction per layer × head", f"#1 L1 H{ranked[1]}"],
            "induction_head": [titled, "ka", "tu"],
            "previous_token_head": [f"layer 0 · head {ranked[3]}"],
            "induction_head_evolution": ["evolution over 17 checkpoints", titled],
            "copying_step": ["step 1 of 7: writing 'tu'"],
        },
        min_side=500,
    )


@pytest.mark.slow
def test_vision_lesson_trains_a_vit_and_checks_where_cls_looks(tmp_path: pathlib.Path) -> None:
    out = printed(run(ROOT / "notebooks" / "vision_lesson.ipynb", tmp_path, timeout=300))
    accuracy = re.search(r"check: accuracy on the 200 held-out pictures (\d+\.\d)%", out)
    assert accuracy and float(accuracy[1]) >= 95
    peaks = re.search(
        r"check: \[CLS\] peaks on the square in layer 0 \((\d+)%\) and in rollout \((\d+)%\), "
        r"the last layer alone less often \((\d+)%\)",
        out,
    )
    assert peaks and int(peaks[1]) >= 90 and int(peaks[2]) >= 90
    assert int(peaks[3]) <= int(peaks[2]) - 20
    painted = re.search(r"\(a\) square painted over (\d+)%; \(b\) .* painted over (\d+)%", out)
    assert painted and int(painted[1]) <= 50 and int(painted[2]) >= 90
    assert (
        "check: the model needs the square, not the patches its last layer attends to most" in out
    )
    check_handout(
        tmp_path / "slides" / "vision",
        {
            "examples": ["top left", "bottom right"],
            "cls_layer0": ["[CLS], layer 0, mean of heads"],
            "cls_layer1": ["[CLS], layer 1, mean of heads"],
            "cls_rollout": ["[CLS], rollout to layer 1"],
            "heads_layer0": ["[CLS], layer 0, each head", "head 3"],
        },
        min_side=400,
    )


@pytest.mark.slow
def test_colab_tutorial_runs_locally_without_installing(tmp_path: pathlib.Path) -> None:
    executed = run(ROOT / "notebooks" / "colab_tutorial.ipynb", tmp_path, timeout=600)
    out = printed(executed)
    assert "ready" in out  # the install cell ran and did nothing outside Colab
    assert re.search(r"previous_token: layer \d head \d+ \d\.\d\d", out)  # the atlas cell
    assert (tmp_path / "tour.html").stat().st_size > 10_000
    assert len(PdfReader(tmp_path / "tour_grid.pdf").pages) == 1
    check_png(tmp_path / "tour_heatmap.png", 200, 800)
    check_png(tmp_path / "tour_image.png", 150, 300)
    svg = (tmp_path / "tour_heatmap.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<text" in svg and "animal" in svg
    # The generation and image cells rendered widgets (every cell after the install one shows one).
    nb = nbformat.read(executed, as_version=4)
    views = [
        c for c in nb.cells
        if c.cell_type == "code"
        and any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.outputs)
    ]  # fmt: skip
    assert any("aw.generate(" in c.source for c in views)
    assert any('derived=["rollout"]' in c.source for c in views)
