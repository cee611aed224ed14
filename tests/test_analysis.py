"""attn_widget.analysis: hand-made matrices with known answers, and every refusal."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from attn_widget.analysis import (
    FLAT_LEVEL,
    MAX_RADIUS,
    Region,
    compare_cells,
    evolution_series,
    find_regions,
    stability_stats,
    top_cells,
)
from attn_widget.analysis.regions import _Scorer


def noisy_with_block(
    size: int, block: tuple[int, int, int, int], *, lift: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Uniform noise in [0, 0.5), ``lift`` added on the half-open (top, left, bottom, right)."""
    matrix = np.random.default_rng(seed).uniform(0.0, 0.5, (size, size))
    top, left, bottom, right = block
    matrix[top:bottom, left:right] += lift
    return matrix


def covers(region: Region, block: tuple[int, int, int, int]) -> bool:
    top, left, bottom, right = block
    return (
        region.top <= top
        and region.left <= left
        and region.bottom >= bottom
        and region.right >= right
    )


# --- top cells ---------------------------------------------------------------------------------


def test_top_cells_largest_first() -> None:
    matrix = np.array([[0.1, 0.9, 0.3], [0.7, 0.2, 0.8]])
    assert top_cells(matrix, 3) == [(0, 1), (1, 2), (1, 0)]


def test_top_cells_ties_break_in_row_major_order_and_count_is_exact() -> None:
    matrix = np.array([[1.0, 5.0, 5.0], [5.0, 2.0, 5.0]])
    assert top_cells(matrix, 2) == [(0, 1), (0, 2)]
    assert top_cells(matrix, 3) == [(0, 1), (0, 2), (1, 0)]
    # All equal: exactly n, first n positions in row-major order.
    flat = np.full((4, 4), 0.25)
    assert top_cells(flat, 5) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]


def test_top_cells_many_ties_at_the_cut() -> None:
    matrix = np.zeros((50, 50))
    matrix[49, 49] = 1.0
    got = top_cells(matrix, 4)
    assert got == [(49, 49), (0, 0), (0, 1), (0, 2)]


def test_top_cells_n_zero_and_n_beyond_size() -> None:
    matrix = np.array([[3.0, 1.0], [2.0, 3.0]])
    assert top_cells(matrix, 0) == []
    assert top_cells(matrix, 99) == [(0, 0), (1, 1), (1, 0), (0, 1)]


def test_top_cells_integer_and_torch_inputs() -> None:
    assert top_cells(np.array([[0, 255], [255, 7]], dtype=np.uint8), 3) == [(0, 1), (1, 0), (1, 1)]
    tensor = torch.tensor([[0.1, 0.4], [0.3, 0.2]], dtype=torch.bfloat16, requires_grad=True)
    assert top_cells(tensor, 2) == [(0, 1), (1, 0)]
    assert all(type(v) is int for cell in top_cells(tensor, 2) for v in cell)


@pytest.mark.parametrize("n", [-1, 1.5, True, "2"])
def test_top_cells_refuses_bad_n(n: object) -> None:
    with pytest.raises(ValueError, match="n: expected an int >= 0"):
        top_cells(np.eye(3), n)  # type: ignore[arg-type]


# --- compare -----------------------------------------------------------------------------------


def test_compare_largest_difference_gets_largest_circle_and_equal_cells_none() -> None:
    a = np.array([[0.5, 0.2], [0.1, 0.2]])
    b = np.array([[0.5, 0.6], [0.2, 0.1]])
    result = compare_cells(a, b)
    np.testing.assert_allclose(result.diff, a - b)
    assert result.radius[0, 0] == 0.0  # A == B: no circle
    assert result.radius[0, 1] == MAX_RADIUS  # |Δ| = 0.4 is the largest
    np.testing.assert_allclose(result.radius[1], [MAX_RADIUS / 4, MAX_RADIUS / 4])
    assert np.unravel_index(result.radius.argmax(), a.shape) == (0, 1)
    assert result.diff[0, 1] < 0 < result.diff[1, 1]  # signed: A - B
    assert result.max_abs_diff.item() == pytest.approx(0.4)


def test_compare_identical_inputs_have_no_circles() -> None:
    a = np.random.default_rng(0).random((5, 7))
    result = compare_cells(a, a.copy())
    assert not result.radius.any()
    assert not result.diff.any()


def test_compare_stack_scales_per_matrix_or_over_all() -> None:
    a = np.zeros((2, 2, 2))
    b = np.zeros((2, 2, 2))
    b[0, 0, 0] = 1.0  # first matrix: big difference
    b[1, 1, 1] = 0.1  # second matrix: small difference
    per_matrix = compare_cells(a, b).radius
    assert per_matrix[0, 0, 0] == MAX_RADIUS and per_matrix[1, 1, 1] == MAX_RADIUS
    overall = compare_cells(a, b, scope="all").radius
    assert overall[0, 0, 0] == MAX_RADIUS
    assert overall[1, 1, 1] == pytest.approx(MAX_RADIUS * 0.1)


def test_compare_keeps_float32_and_widens_float16() -> None:
    a32 = np.ones((3, 3), np.float32)
    assert compare_cells(a32, a32 * 0.5).radius.dtype == np.float32
    a16 = np.ones((3, 3), np.float16)
    assert compare_cells(a16, a16).diff.dtype == np.float32


def test_compare_refuses_different_shapes_naming_both() -> None:
    with pytest.raises(ValueError, match=r"a \(4, 5\) and b \(5, 4\)"):
        compare_cells(np.zeros((4, 5)), np.zeros((5, 4)))


def test_compare_accepts_torch() -> None:
    a = torch.tensor([[0.0, 1.0]])
    result = compare_cells(a, torch.zeros(1, 2))
    # float32 in, float32 out: the largest circle is float32(MAX_RADIUS) exactly.
    assert result.radius.dtype == np.float32
    np.testing.assert_array_equal(result.radius, np.array([[0.0, MAX_RADIUS]], np.float32))


# --- stability ---------------------------------------------------------------------------------


def test_stability_mean_spread_and_bounds_by_hand() -> None:
    # Cell (0, 0) varies over 4 runs (values 1, 2, 3, 4); cell (0, 1) does not.
    runs = np.zeros((4, 1, 2))
    runs[:, 0, 0] = [1.0, 2.0, 3.0, 4.0]
    runs[:, 0, 1] = 5.0
    std = np.std([1.0, 2.0, 3.0, 4.0], ddof=1)
    sem = stability_stats(runs)
    assert sem.n == 4 and sem.kind == "sem"
    np.testing.assert_allclose(sem.mean, [[2.5, 5.0]])
    np.testing.assert_allclose(sem.spread, [[std / 2, 0.0]])  # sqrt(4) = 2
    np.testing.assert_allclose(sem.low, [[2.5 - 2 * std / 2, 5.0]])
    np.testing.assert_allclose(sem.high, [[2.5 + 2 * std / 2, 5.0]])
    np.testing.assert_array_equal(sem.radius, [[MAX_RADIUS, 0.0]])


def test_stability_sem_versus_std() -> None:
    rng = np.random.default_rng(3)
    runs = rng.random((9, 6, 6))
    sem = stability_stats(runs, spread="sem", k=1.5)
    std = stability_stats(runs, spread="std", k=1.5)
    np.testing.assert_allclose(std.spread, runs.std(axis=0, ddof=1))
    np.testing.assert_allclose(sem.spread, std.spread / 3)  # sqrt(9)
    # Radii are relative to the largest spread, so both measures give the same circles...
    np.testing.assert_allclose(sem.radius, std.radius)
    assert std.radius.max() == MAX_RADIUS
    # ...while the gradient bounds are three times wider for std.
    np.testing.assert_allclose(std.high - std.low, 3 * (sem.high - sem.low))


def test_stability_largest_spread_gets_largest_circle() -> None:
    runs = np.zeros((3, 2, 2))
    runs[:, 1, 0] = [0.0, 0.5, 1.0]
    runs[:, 0, 1] = [0.0, 0.1, 0.2]
    result = stability_stats(runs)
    assert result.radius[1, 0] == MAX_RADIUS
    assert result.radius[0, 1] == pytest.approx(MAX_RADIUS / 5)
    assert result.radius[0, 0] == 0.0 and result.radius[1, 1] == 0.0


def test_stability_identical_runs_have_no_circles() -> None:
    runs = np.broadcast_to(np.random.default_rng(0).random((4, 4)), (3, 4, 4))
    result = stability_stats(runs)
    assert not result.radius.any()
    np.testing.assert_array_equal(result.low, result.high)


def test_stability_refuses_fewer_than_two_runs_and_bad_options() -> None:
    with pytest.raises(ValueError, match=r"at least 2 runs.*got 1"):
        stability_stats(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="spread: expected 'sem' or 'std'"):
        stability_stats(np.zeros((2, 3, 3)), spread="var")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k: expected a finite number >= 0"):
        stability_stats(np.zeros((2, 3, 3)), k=-1)
    with pytest.raises(ValueError, match="scope: expected 'matrix' or 'all'"):
        stability_stats(np.zeros((2, 3, 3)), scope="row")  # type: ignore[arg-type]


# --- evolution ---------------------------------------------------------------------------------


def rising_and_flat(steps: int = 5) -> np.ndarray:
    """Checkpoints (steps, 2, 2): (0, 0) rises 0.1 -> 0.3, (1, 1) 0 -> 1, (0, 1) flat at 0.6."""
    checkpoints = np.zeros((steps, 2, 2))
    checkpoints[:, 0, 0] = np.linspace(0.1, 0.3, steps)
    checkpoints[:, 1, 1] = np.linspace(0.0, 1.0, steps)
    checkpoints[:, 0, 1] = 0.6
    return checkpoints


@pytest.mark.parametrize("normalize", ["global", "cell"])
def test_evolution_rising_series_slopes_up(normalize: str) -> None:
    result = evolution_series(rising_and_flat(), normalize=normalize)  # type: ignore[arg-type]
    assert result.series.shape == (2, 2, 5)
    rising = result.series[0, 0]
    assert np.all(np.diff(rising) > 0)
    assert result.series.min() >= 0.0 and result.series.max() <= 1.0


def test_evolution_global_scale_by_hand() -> None:
    result = evolution_series(rising_and_flat(), normalize="global")
    # One scale for the matrix: 0 -> 0, 1 -> 1 (min and max over all cells and steps).
    np.testing.assert_allclose(result.series[0, 0], np.linspace(0.1, 0.3, 5))
    np.testing.assert_allclose(result.series[1, 1], np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(result.series[0, 1], 0.6)  # flat, at its own level
    np.testing.assert_allclose(result.mean, rising_and_flat().mean(axis=0))
    np.testing.assert_array_equal(result.values[0, 0], rising_and_flat()[:, 0, 0])


def test_evolution_cell_scale_uses_full_height_and_flat_is_mid_height() -> None:
    result = evolution_series(rising_and_flat(), normalize="cell")
    np.testing.assert_allclose(result.series[0, 0], np.linspace(0.0, 1.0, 5))
    np.testing.assert_array_equal(result.series[0, 1], FLAT_LEVEL)
    np.testing.assert_array_equal(result.series[1, 0], FLAT_LEVEL)  # all zeros: flat too
    assert result.steps == 5 and result.normalize == "cell"


def test_evolution_constant_input_is_flat_in_global_mode() -> None:
    result = evolution_series(np.full((3, 4, 4), 0.2))
    np.testing.assert_array_equal(result.series, FLAT_LEVEL)


def test_evolution_series_of_a_cell_is_contiguous() -> None:
    checkpoints = np.random.default_rng(0).random((4, 2, 3, 5)).astype(np.float32)
    result = evolution_series(checkpoints)
    assert result.series.shape == (2, 3, 5, 4) and result.series.flags.c_contiguous
    assert result.series.dtype == np.float32


def test_evolution_refuses_fewer_than_two_checkpoints_and_bad_mode() -> None:
    with pytest.raises(ValueError, match=r"at least 2 checkpoints.*got 1"):
        evolution_series(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="normalize: expected 'global' or 'cell'"):
        evolution_series(np.zeros((2, 3, 3)), normalize="row")  # type: ignore[arg-type]


# --- regions -----------------------------------------------------------------------------------


def test_summed_area_scores_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.random((9, 11))
    scorer = _Scorer(matrix, ring=2)
    for rect in [(0, 0, 1, 1), (2, 3, 5, 9), (0, 0, 9, 10), (4, 0, 9, 11), (8, 10, 9, 11)]:
        top, left, bottom, right = rect
        inside = matrix[top:bottom, left:right]
        outer = matrix[max(0, top - 2) : bottom + 2, max(0, left - 2) : right + 2]
        n_in, n_ring = inside.size, outer.size - inside.size
        d = inside.mean() - (outer.sum() - inside.sum()) / n_ring
        expected = d * abs(d) * n_in * n_ring / (n_in + n_ring)
        got_d, got = scorer.contrast_and_score(rect)
        assert got_d == pytest.approx(d) and got == pytest.approx(expected)
        assert scorer.mean(rect) == pytest.approx(inside.mean())
    assert scorer.score((0, 0, 9, 11)) == -np.inf  # the whole matrix has no ring


def test_planted_block_in_noisy_64() -> None:
    block = (20, 30, 30, 42)
    for seed in range(5):
        regions = find_regions(noisy_with_block(64, block, seed=seed))
        assert regions[0] == Region(*block)
        # No other region overlaps the block: it came back as one rectangle.
        assert not any(covers(r, (20, 30, 21, 31)) for r in regions[1:])


def test_planted_block_in_noisy_512_within_a_second() -> None:
    block = (100, 200, 160, 300)
    matrix = noisy_with_block(512, block, lift=0.5)
    find_regions(matrix)  # warm up imports and caches
    start = time.perf_counter()
    regions = find_regions(matrix)
    elapsed = time.perf_counter() - start
    assert covers(regions[0], block)
    assert regions[0] == Region(*block)
    assert elapsed < 1.0, f"find_regions took {elapsed:.3f} s at 512 x 512"


def test_large_plateau_is_found_from_its_edge() -> None:
    # Wider than twice the ring: seeds deep inside see no contrast, one near an edge does.
    block = (10, 10, 490, 490)
    regions = find_regions(noisy_with_block(512, block, seed=1))
    assert regions[0] == Region(*block)


def test_strongest_region_first_and_at_most_n() -> None:
    matrix = np.zeros((40, 40))
    matrix[2:6, 2:6] = 0.5  # weaker
    matrix[20:30, 20:30] = 1.0  # stronger and larger
    matrix[34, 5] = 0.8
    regions = find_regions(matrix, n_regions=2)
    assert regions == [Region(20, 20, 30, 30), Region(2, 2, 6, 6)]
    assert len(find_regions(matrix, n_regions=1)) == 1


def test_single_bright_cell_is_a_half_open_one_by_one_region() -> None:
    matrix = np.zeros((16, 16))
    matrix[3, 7] = 1.0
    (region,) = find_regions(matrix)
    assert region == Region(3, 7, 4, 8)
    assert (region.height, region.width) == (1, 1)
    assert matrix[region.slices].sum() == 1.0


def test_touching_alike_regions_merge_into_one() -> None:
    # An L: two bars of equal value sharing a corner come back as one box covering both.
    for seed in range(3):
        matrix = np.random.default_rng(seed).uniform(0.0, 0.3, (64, 64))
        matrix[10:14, 10:50] += 1.0
        matrix[10:50, 10:14] += 1.0
        regions = find_regions(matrix)
        assert covers(regions[0], (10, 10, 50, 50))
        assert not any(covers(r, (10, 10, 14, 14)) for r in regions[1:])


def test_regions_are_deterministic_with_ties() -> None:
    matrix = np.zeros((32, 32))
    spikes = [(20, 20), (8, 20), (20, 8), (8, 8)]
    for i, j in spikes:
        matrix[i, j] = 1.0  # equal spikes, each with a full ring of its own: equal scores
    first = find_regions(matrix, ring=4)
    assert first == find_regions(matrix.copy(), ring=4)
    assert first == [Region(i, j, i + 1, j + 1) for i, j in sorted(spikes)]


def test_constant_and_tiny_matrices_have_no_regions() -> None:
    assert find_regions(np.full((20, 20), 0.3)) == []
    assert find_regions(np.array([[1.0]])) == []


def test_regions_accept_torch_and_negative_values() -> None:
    matrix = torch.zeros(24, 24) - 1.0
    matrix[4:8, 10:16] = 0.5
    assert find_regions(matrix)[0] == Region(4, 10, 8, 16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_regions": 0}, "n_regions: expected an int >= 1"),
        ({"min_distance": 0}, "min_distance: expected an int >= 1"),
        ({"ring": 2.5}, "ring: expected an int >= 1"),
        ({"similarity": -0.1}, "similarity: expected a number >= 0"),
        ({"patience": -1}, "patience: expected an int >= 0"),
    ],
)
def test_regions_refuse_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_regions(np.eye(8), **kwargs)  # type: ignore[arg-type]


# --- validation shared by all ------------------------------------------------------------------

CALLS = {
    "top_cells": lambda x: top_cells(x, 1),
    "compare_cells": lambda x: compare_cells(x, x),
    "stability_stats": stability_stats,
    "evolution_series": evolution_series,
    "find_regions": find_regions,
}
GOOD_SHAPES = {
    "top_cells": (3, 3),
    "compare_cells": (3, 3),
    "stability_stats": (2, 3, 3),
    "evolution_series": (2, 3, 3),
    "find_regions": (3, 3),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(("bad", "found"), [(np.nan, "1 NaN"), (np.inf, "1 infinite")])
def test_every_function_refuses_nan_and_inf(name: str, bad: float, found: str) -> None:
    values = np.zeros(GOOD_SHAPES[name])
    values.flat[-1] = bad
    with pytest.raises(ValueError, match=f"expected finite values, got .*{found}"):
        CALLS[name](values)


@pytest.mark.parametrize("name", list(CALLS))
def test_every_function_refuses_wrong_rank_saying_what_came(name: str) -> None:
    with pytest.raises(ValueError, match=r"expected .*(D|dimensions).*got 1-D shape \(4,\)"):
        CALLS[name](np.zeros(4))


@pytest.mark.parametrize("name", list(CALLS))
def test_every_function_refuses_empty_and_non_numeric(name: str) -> None:
    empty = np.zeros((*GOOD_SHAPES[name][:-1], 0))
    with pytest.raises(ValueError, match="expected a non-empty array"):
        CALLS[name](empty)
    with pytest.raises(ValueError, match="expected float values, got dtype"):
        CALLS[name](np.full(GOOD_SHAPES[name], "x"))


def test_rank_errors_name_the_expected_layout() -> None:
    with pytest.raises(ValueError, match=r"matrix: expected a 2-D array \(q, k\), got 3-D"):
        top_cells(np.zeros((2, 3, 3)), 1)
    with pytest.raises(ValueError, match=r"runs: expected .*at least 3 dimensions \(runs, q, k\)"):
        stability_stats(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"checkpoints: expected .*\(steps, q, k\)"):
        evolution_series(np.zeros((3, 3)))
