"""The notebooks in notebooks/ run top to bottom, offline."""

from __future__ import annotations

import pathlib
import sys

import pytest
from pypdf import PdfReader

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebook import run  # noqa: E402


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
def test_teaching_notebook_finds_the_famous_heads(tmp_path: pathlib.Path) -> None:
    executed = run(ROOT / "notebooks" / "teaching.ipynb", tmp_path, timeout=300)
    text = executed.read_text()
    assert '"output_type": "error"' not in text
    assert "previous-token head: layer" in text and "parking head: layer" in text
    for name in ("previous_token_head", "agreement_lines", "model_overview"):
        assert len(PdfReader(tmp_path / f"{name}.pdf").pages) == 1


@pytest.mark.slow
def test_colab_tutorial_runs_locally_without_installing(tmp_path: pathlib.Path) -> None:
    executed = run(ROOT / "notebooks" / "colab_tutorial.ipynb", tmp_path, timeout=600)
    text = executed.read_text()
    assert '"output_type": "error"' not in text
    assert "ready" in text  # the install cell ran and did nothing outside Colab
    assert (tmp_path / "tour.html").stat().st_size > 10_000
    assert len(PdfReader(tmp_path / "tour_grid.pdf").pages) == 1
