import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.kid import kid


def gaussian(n, d, seed, shift=0.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def test_equals_torch_fidelity_subset_for_subset():
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x, y = gaussian(300, 32, 0), gaussian(250, 32, 1, shift=0.1)
    theirs = metric_kid.kid_features_to_metric(
        x,
        y,
        kid_subsets=20,
        kid_subset_size=100,
        rng_seed=2020,
        verbose=False,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
    )
    ours = kid(x, y, subsets=20, subset_size=100, seed=2020)
    assert ours["kid_mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)


def test_expectation_is_zero_for_one_distribution_and_positive_otherwise():
    same = [
        kid(gaussian(200, 16, 2 * r), gaussian(200, 16, 2 * r + 1), subsets=1, subset_size=200)["kid_mean"]
        for r in range(60)
    ]
    mean = sum(same) / len(same)
    spread = (sum((v - mean) ** 2 for v in same) / (len(same) - 1)) ** 0.5
    assert abs(mean) < 3 * spread / len(same) ** 0.5
    shifted = kid(gaussian(200, 16, 0), gaussian(200, 16, 1, shift=0.5), subsets=10, subset_size=100)
    assert shifted["kid_ci_low"] > 0


def test_subset_larger_than_sample_names_the_option():
    with pytest.raises(GankitError, match="--kid-subset-size"):
        kid(gaussian(50, 4, 0), gaussian(500, 4, 1), subset_size=100)
