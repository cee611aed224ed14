"""The binary encoding of values on their way to the browser."""

from __future__ import annotations

import numpy as np

from attn_widget import wire


def test_attention_weights_travel_as_half_floats_within_the_error_bound() -> None:
    rng = np.random.default_rng(1)
    values = rng.random((64, 64)) ** 8  # many tiny values
    values /= values.sum(-1, keepdims=True)
    values[0, :4] = [1e-6, 2.5e-6, 1e-5, 0.0]
    encoded = wire.encode(values)
    assert encoded.dtype == "float16"
    assert len(encoded.data) == values.size * 2
    back = wire.decode(encoded.data, encoded.dtype, encoded.scale).reshape(values.shape)
    big = values >= wire.RELATIVE_ERROR_FLOOR
    rel = np.abs(back[big] - values[big]) / values[big]
    assert rel.max() <= 1e-3
    assert back[0, 3] == 0.0


def test_scale_is_a_power_of_two() -> None:
    encoded = wire.encode(np.array([0.3, 0.7]))
    assert np.log2(encoded.scale) == int(np.log2(encoded.scale))


def test_huge_dynamic_range_falls_back_to_float32() -> None:
    values = np.array([1e-6, 1e4], dtype=np.float32)
    encoded = wire.encode(values)
    assert encoded.dtype == "float32"
    np.testing.assert_array_equal(wire.decode(encoded.data, "float32", 1.0), values)


def test_float32_on_request() -> None:
    values = np.array([[0.25, 0.75]], dtype=np.float32)
    encoded = wire.encode(values, allow_half=False)
    assert (encoded.dtype, len(encoded.data)) == ("float32", 8)
