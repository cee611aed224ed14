"""Swin: windowed attention as full matrices per stage, shifted windows mapped back to the image."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("PIL")

from transformers.models.swin.modeling_swin import window_partition  # noqa: E402

import attn_widget as aw  # noqa: E402
from attn_widget.extract import media  # noqa: E402
from attn_widget.extract.windows import window_positions  # noqa: E402
from attn_widget.media import media_of  # noqa: E402
from tests import media_models as mm  # noqa: E402

GRIDS = [16, 8, 4]  # 32x32 pixels, patch 2, two merges


@pytest.fixture(scope="module")
def swin() -> Any:
    return mm.swin_model().eval()


def _library_windows(grid: int, size: int, shift: int) -> np.ndarray:
    """The library's own cut: roll by -shift, then window_partition, on a grid of positions."""
    positions = torch.arange(grid * grid, dtype=torch.float32).view(1, grid, grid, 1)
    if shift:
        positions = torch.roll(positions, shifts=(-shift, -shift), dims=(1, 2))
    return window_partition(positions, size).reshape(-1, size * size).long().numpy()


@pytest.mark.parametrize("depths", [(2, 2, 2), (1, 1, 1)])
def test_each_stage_equals_eager_window_weights_placed_by_the_library(
    depths: tuple[int, ...],
) -> None:
    # Eager returns the last block of each stage: shifted with depth 2, unshifted with depth 1.
    model, processor = mm.swin_model(depths).eval(), mm.vit_processor(32, 32)
    images = [mm.image(32, 32, seed=1), mm.image(40, 36, seed=2)]
    found = media.extract_media(model, processor, images)
    assert list(found) == ["stage 0", "stage 1", "stage 2"]
    pixels = processor(images, return_tensors="pt")["pixel_values"]
    reference = mm.eager(model, pixel_values=pixels).attentions
    for stage, grid in enumerate(GRIDS):
        data = found[f"stage {stage}"]
        assert data.n_layers == depths[stage] and data.shape(0) == (grid * grid, grid * grid)
        shift = 2 if depths[stage] == 2 and grid > 4 else 0
        assert data.meta["media"]["windows"]["shifts"][-1] == shift
        windows = _library_windows(grid, 4, shift)
        for case in range(2):
            full = data.case_values(case)[-1]
            for w, place in enumerate(windows):
                expected = reference[stage][case * len(windows) + w].numpy()
                got = full[:, place[:, None], place[None, :]]
                np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
            # Outside its windows a block has exactly zero weight; rows sum to 1.
            inside = np.zeros((grid * grid, grid * grid), dtype=bool)
            for place in windows:
                inside[np.ix_(place, place)] = True
            assert not full[:, ~inside].any()
            np.testing.assert_allclose(full.sum(axis=-1), 1.0, atol=1e-5)


def test_the_window_formula_is_the_library_cut() -> None:
    for grid, shift in ((16, 0), (16, 2), (8, 2), (4, 0)):
        np.testing.assert_array_equal(
            window_positions(grid, grid, 4, shift), _library_windows(grid, 4, shift)
        )
    # A non-square grid: windows run row-major over (rows / 4) x (cols / 4).
    rows = window_positions(8, 12, 4, 2)
    assert rows.shape == (6, 16) and sorted(rows.reshape(-1)) == list(range(96))


def _changed_rows(before: Any, after: Any, layer: int) -> set[tuple[int, int]]:
    diff = np.abs(before.case_values(0)[layer] - after.case_values(0)[layer]).max(axis=(0, 2))
    return {divmod(int(i), 16) for i in np.flatnonzero(diff > 0)}


def test_a_planted_pixel_moves_its_window_then_the_shifted_windows_around_it(swin: Any) -> None:
    processor = mm.vit_processor(32, 32)
    picture = mm.image(32, 32, seed=3)
    planted = picture.copy()
    planted[11, 13] = 255 - planted[11, 13]  # patch (5, 6) at 2 pixels a patch
    before = media.extract_media(swin, processor, picture)["stage 0"]
    after = media.extract_media(swin, processor, planted)["stage 0"]
    # Block 0 (unshifted): only the rows of the 4x4 window holding patch (5, 6) change.
    window = {(r, c) for r in range(4, 8) for c in range(4, 8)}
    assert _changed_rows(before, after, 0) == window
    # Block 1 (shifted by 2): the windows [2, 6) and [6, 10) on each axis overlap that window.
    shifted = {(r, c) for r in range(2, 10) for c in range(2, 10)}
    assert _changed_rows(before, after, 1) == shifted
    assert before.tokens[0][5 * 16 + 6] == "p(5,6)"


def test_stage_meta_gives_each_grid_its_cell_size_and_windows(swin: Any) -> None:
    found = media.extract_media(swin, mm.vit_processor(32, 32), mm.image(32, 32))
    for stage, grid in enumerate(GRIDS):
        info = found[f"stage {stage}"].meta["media"]
        scale = 2 ** (stage + 1)
        assert info["grid"] == {"rows": grid, "cols": grid, "patch": [scale, scale]}
        assert info["size"] == [32, 32] and info["stage"] == stage
        assert info["first"] == [0] and info["special"] == {} and info["query"] == [None]
        shifts = [0, 2] if grid > 4 else [0, 0]  # a grid no larger than the window: no shift
        assert info["windows"] == {"size": 4, "shifts": shifts}
        assert found[f"stage {stage}"].tokens[0][grid + 1] == "p(1,1)"
    assert media_of(found["stage 2"]) is media_of(found["stage 0"])


def test_image_sizes_the_windows_cannot_take_are_refused_before_the_model_runs(swin: Any) -> None:
    calls = mm.count_forwards(swin)
    # 16x16 pixels: stage 2 would be 2x2, smaller than the 4x4 window (the model crashes).
    with pytest.raises(ValueError, match=r"SwinModel: stage 2 would have a 2x2 grid"):
        media.extract_media(swin, mm.vit_processor(16, 16), mm.image(16, 16))
    # 48x32: stage 2 is 6x4; 4x4 windows do not tile it (the model would attend to padding).
    with pytest.raises(ValueError, match=r"SwinModel: stage 2 has a 6x4 grid"):
        media.extract_media(swin, mm.vit_processor(48, 32), mm.image(48, 32))
    with pytest.raises(ValueError, match="lazy=True: SwinModel attends in windows"):
        media.extract_media(swin, mm.vit_processor(32, 32), mm.image(32, 32), lazy=True)
    assert calls == []


def test_swin_widget_offers_the_stages_and_saves_them(swin: Any, tmp_path: Any) -> None:
    widget = aw.from_model(swin, mm.vit_processor(32, 32), mm.image(32, 32), dtype="float16")
    assert list(widget.components) == ["stage 0", "stage 1", "stage 2"]
    widget.component = "stage 2"
    assert widget.data.n_heads == 4
    loaded = aw.load(aw.save(widget, tmp_path / "swin.npz"))
    assert loaded.components["stage 1"].meta["media"]["windows"]["shifts"] == [0, 2]
    np.testing.assert_array_equal(
        media_of(loaded.components["stage 1"]).images[0], media_of(widget.data).images[0]
    )
