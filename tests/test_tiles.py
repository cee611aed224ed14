"""Pooled tiles, top links and thumbnails computed in the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from attn_widget import AttentionData
from attn_widget.serve import tiles


def planted(n: int = 300, cell: tuple[int, int] = (123, 45)) -> AttentionData:
    rng = np.random.default_rng(3)
    m = rng.random((1, 2, n, n)).astype(np.float32) * 1e-3
    m[0, 1][cell] = 1.0
    return AttentionData(m)


def test_max_pool_keeps_a_single_strong_cell_visible() -> None:
    data = planted()
    t = tiles.tile(data, 0, 1, 0, max_rows=64, max_cols=64)
    assert (t.fq, t.fk) == (5, 5)
    assert t.values.shape == (60, 60)
    assert t.values[123 // 5, 45 // 5] == 1.0
    assert t.values.max() == 1.0 and np.sort(t.values.ravel())[-2] < 1e-2


def test_partial_edge_blocks_pool_what_they_have() -> None:
    block = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(tiles.max_pool(block, 2, 2), [[6, 8, 9]])


def test_window_at_full_resolution_equals_the_matrix() -> None:
    data = planted()
    t = tiles.tile(data, 0, 1, 0, (100, 140, 40, 50), max_rows=400, max_cols=400)
    assert (t.fq, t.fk) == (1, 1)
    np.testing.assert_array_equal(t.values, data.matrix(0, 1)[100:140, 40:50])


def test_tiles_read_rows_in_blocks_and_agree_with_pooling_the_whole() -> None:
    data = planted(n=257)
    whole = tiles.max_pool(data.matrix(0, None), 7, 7)
    t = tiles.tile(data, 0, None, 0, max_rows=37, max_cols=37)
    np.testing.assert_allclose(t.values, whole, rtol=1e-6)


@pytest.mark.parametrize("window", [(0, 301, 0, 10), (5, 5, 0, 10), (-1, 3, 0, 3), (0, 3, 7, 2)])
def test_windows_outside_the_matrix_are_refused(window: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="inside the 300 x 300 matrix"):
        tiles.tile(planted(), 0, 0, 0, window)


def test_top_links_are_strongest_first_with_ties_to_the_lower_index() -> None:
    m = np.array([[0.1, 0.4, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1]], dtype=np.float32)
    data = AttentionData(m[None, None], list("abcd"), target_tokens=["x", "y"])
    order, weights = tiles.top_links(data, 0, 0, 0, 0, 2, 3)
    np.testing.assert_array_equal(order, [[1, 2, 0], [0, 1, 2]])
    np.testing.assert_allclose(weights, [[0.4, 0.4, 0.1], [0.7, 0.1, 0.1]])
    with pytest.raises(ValueError, match="at least 1 link"):
        tiles.top_links(data, 0, 0, 0, 0, 2, 0)


def test_token_links_give_a_row_or_a_column() -> None:
    data = planted(n=50, cell=(7, 9))
    np.testing.assert_array_equal(
        tiles.token_links(data, 0, 1, 0, "query", 7), data.matrix(0, 1)[7]
    )
    np.testing.assert_array_equal(
        tiles.token_links(data, 0, 1, 0, "key", 9), data.matrix(0, 1)[:, 9]
    )
    with pytest.raises(ValueError, match="'query' or 'key'"):
        tiles.token_links(data, 0, 1, 0, "cell", 0)


def test_thumbnails_of_every_head() -> None:
    data = planted(n=64, cell=(10, 60))
    thumbs = tiles.thumbnails(data, 0, 0, 16)
    assert thumbs.shape == (2, 16, 16)
    assert thumbs[1, 10 // 4, 60 // 4] == 1.0
