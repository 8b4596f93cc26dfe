import pytest
import torch

import gankit.metrics.kid as kid_module
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


@pytest.mark.parametrize("path", ["blas", "torch"])
def test_float32_features_give_the_float64_kid_subset_for_subset(path, monkeypatch):
    # oracle: torch-fidelity on the same numbers in float64 (same subsets); the float32 inner products keep
    # about 1e-7 (torch-fidelity's own float32 evaluation is off by ~1e-5 on such features)
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    if path == "torch":
        monkeypatch.setattr(kid_module, "BLAS_MIN_WORK", 2**62)
    x, y = gaussian(1100, 512, 3).abs().float(), (gaussian(1100, 512, 4, shift=0.05).abs() * 1.05).float()
    theirs = metric_kid.kid_features_to_metric(
        x.double(), y.double(), kid_subsets=3, kid_subset_size=1000, rng_seed=7, verbose=False
    )
    ours = kid(x, y, subsets=3, subset_size=1000, seed=7)
    assert ours["kid_mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-5)


def test_bad_features_give_one_line_errors():
    x = gaussian(50, 4, 0)
    with pytest.raises(GankitError, match="different dimensions"):
        kid(x, gaussian(50, 5, 1), subset_size=10)
    for bad_value in (float("nan"), float("inf")):
        bad = x.clone()
        bad[3, 2] = bad_value
        with pytest.raises(GankitError, match="NaN or Inf"):
            kid(bad, x, subset_size=10)
    with pytest.raises(GankitError, match="at least 2 samples"):
        kid(x[:1], x, subset_size=1)
    with pytest.raises(GankitError, match=r"shape \(N, d\)"):
        kid(x[0], x, subset_size=10)
