"""AttentionData's one-pass value check: every float width, every kind of bad value."""

from __future__ import annotations

import numpy as np
import pytest

from attn_widget.data import AttentionData


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    ("bad", "message"),
    [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-np.inf, "NaN or infinite"),
     (-1e-3, "non-negative")],
)  # fmt: skip
def test_bad_values_are_found_in_every_float_width(dtype: type, bad: float, message: str) -> None:
    cube = np.random.default_rng(0).random((2, 3, 5, 5)).astype(dtype)
    cube[1, 2, 4, 0] = bad
    with pytest.raises(ValueError, match=message):
        AttentionData(cube)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_valid_values_and_negative_zero_pass(dtype: type) -> None:
    cube = np.random.default_rng(0).random((2, 3, 5, 5)).astype(dtype)
    cube[0, 0, 0, 0] = -0.0  # equal to 0: allowed
    cube[0, 0, 0, 1] = 0.0
    assert AttentionData(cube[:, :, :, ::-1]).n_layers == 2  # strided input too
