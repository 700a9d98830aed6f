"""Cluttered backgrounds: a deterministic function of the seed, of the requested size, uint8 RGB."""

from __future__ import annotations

import numpy as np

from hybridlib.data.backgrounds import cluttered_background


def test_a_background_is_a_function_of_its_seed():
    first = cluttered_background(120, 90, np.random.default_rng(3))
    again = cluttered_background(120, 90, np.random.default_rng(3))
    other = cluttered_background(120, 90, np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_background_has_the_requested_size_and_is_cluttered_uint8_rgb():
    for width, height in ((120, 90), (64, 200), (300, 41)):  # width ≠ height: (height, width, 3), not transposed
        for seed in range(5):
            image = cluttered_background(width, height, np.random.default_rng(seed))
            assert image.shape == (height, width, 3) and image.dtype == np.uint8, (width, height, seed)
            assert image.std() > 3.0, (width, height, seed)  # not a flat colour: at least the grain varies
