import warnings

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.fid import fid
from gankit.metrics.uncertainty import fid_bootstrap, fid_infinity


def gaussian(n, d, seed, shift=0.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_infinity_removes_most_of_the_finite_sample_bias():
    """N(0, I) vs N(mu, I) in 32-d: the population FID is ||mu||^2 = 32 * 0.1^2 = 0.32."""
    reference, generated = gaussian(20_000, 32, 0), gaussian(1_000, 32, 1, shift=0.1)
    finite = fid(reference, generated)
    result = fid_infinity(reference, generated, points=10, min_n=200)
    assert abs(result["fid_infinity"] - 0.32) < 0.5 * abs(finite - 0.32)
    assert result["fid_slope"] > 0  # fewer samples, larger FID


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_n():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = fid_bootstrap(gaussian(100, 4, 2), gaussian(100, 4, 3, shift=0.5), resamples=40)
        large = fid_bootstrap(gaussian(1600, 4, 4), gaussian(1600, 4, 5, shift=0.5), resamples=40)
    estimate = fid(gaussian(1600, 4, 4), gaussian(1600, 4, 5, shift=0.5))
    assert large[0] < estimate < large[1]
    assert large[1] - large[0] < 0.5 * (small[1] - small[0])


def test_bootstrap_interval_covers_the_expected_fid_at_this_sample_size():
    """Over 40 independent pairs of samples, the 90% interval contains E[FID_n] (from 300 draws) in
    about 90% of them (35 of 40 when this test was written)."""
    n, d, shift = 200, 3, 0.3

    def pair(seed):
        return gaussian(n, d, 2 * seed), gaussian(n, d, 2 * seed + 1, shift=shift)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sum(fid(*pair(1000 + i)) for i in range(300)) / 300
        hits = 0
        for i in range(40):
            low, high = fid_bootstrap(*pair(i), resamples=60, level=0.9, seed=i)
            hits += low <= expected <= high
    assert 30 <= hits <= 40


def test_fid_infinity_needs_a_range_of_sizes():
    with pytest.raises(GankitError, match="at least 2 sizes"):
        fid_infinity(gaussian(100, 2, 6), gaussian(10, 2, 7), min_n=10)
