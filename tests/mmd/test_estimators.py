import itertools

import numpy as np
import pytest
import torch
from scipy.stats import energy_distance

from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2, mmd2_and_variance, mmd2_linear, t_statistic, witness
from gankit.mmd.kernels import DistanceKernel, GaussianKernel, LinearKernel, PolynomialKernel, RationalQuadraticKernel

KERNELS = [GaussianKernel((0.5, 2.0)), RationalQuadraticKernel(), PolynomialKernel(), LinearKernel(), DistanceKernel()]


def draws(n, d=3, shift=0.0, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def naive(X, Y, k, unbiased):
    """The textbook double sums (Gretton et al. 2012, eq. 3 and 5), one kernel evaluation at a time."""
    n, m = len(X), len(Y)
    kk = lambda a, b: float(k(a[None], b[None])[0, 0])  # noqa: E731
    pairs_x = [(i, j) for i, j in itertools.product(range(n), repeat=2) if not (unbiased and i == j)]
    pairs_y = [(i, j) for i, j in itertools.product(range(m), repeat=2) if not (unbiased and i == j)]
    xx = sum(kk(X[i], X[j]) for i, j in pairs_x) / len(pairs_x)
    yy = sum(kk(Y[i], Y[j]) for i, j in pairs_y) / len(pairs_y)
    xy = sum(kk(X[i], Y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
def test_estimators_equal_the_naive_double_loops(kernel):
    X, Y = draws(7, seed=1), draws(5, shift=0.4, seed=2)
    assert mmd2(X, Y, kernel).item() == pytest.approx(naive(X, Y, kernel, True), rel=1e-10, abs=1e-12)
    assert mmd2(X, Y, kernel, "biased").item() == pytest.approx(naive(X, Y, kernel, False), rel=1e-10, abs=1e-12)


def test_linear_kernel_biased_mmd_is_the_squared_mean_difference():
    X, Y = draws(40, seed=3), draws(25, shift=0.3, seed=4)
    expected = (X.mean(0) - Y.mean(0)).pow(2).sum()
    assert mmd2(X, Y, LinearKernel(), "biased").item() == pytest.approx(expected.item(), rel=1e-12)


def test_distance_kernel_gives_half_the_squared_energy_distance():
    x, y = draws(60, d=1, seed=5), draws(45, d=1, shift=0.5, seed=6)
    expected = 0.5 * energy_distance(x[:, 0].numpy(), y[:, 0].numpy()) ** 2
    assert mmd2(x, y, DistanceKernel(), "biased").item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
def test_blockwise_equals_direct(kernel):
    X, Y = draws(30, seed=7), draws(30, shift=0.2, seed=8)
    for estimator in ("unbiased", "biased"):
        direct = mmd2(X, Y, kernel, estimator)
        assert mmd2(X, Y, kernel, estimator, block_size=7).item() == pytest.approx(direct.item(), rel=1e-10, abs=1e-13)
    e1, v1 = mmd2_and_variance(X, Y, kernel)
    e2, v2 = mmd2_and_variance(X, Y, kernel, block_size=8)
    assert (e2.item(), v2.item()) == pytest.approx((e1.item(), v1.item()), rel=1e-10, abs=1e-13)


def test_unbiased_estimator_has_mean_zero_under_the_null_and_the_biased_one_does_not():
    kernel = GaussianKernel((1.0,))
    unbiased, biased = [], []
    for rep in range(300):
        X, Y = draws(30, seed=2 * rep), draws(30, seed=2 * rep + 1)
        unbiased.append(mmd2(X, Y, kernel).item())
        biased.append(mmd2(X, Y, kernel, "biased").item())
    standard_error = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * standard_error
    assert np.mean(biased) > 10 * standard_error


def test_variance_estimate_matches_the_spread_over_replications():
    kernel = GaussianKernel((1.5,))
    estimates, variances = [], []
    for rep in range(400):
        X, Y = draws(40, seed=1000 + 2 * rep), draws(40, shift=0.5, seed=1001 + 2 * rep)
        e, v = mmd2_and_variance(X, Y, kernel)
        estimates.append(e.item())
        variances.append(v.item())
    # the sample variance of 400 draws has relative standard error ~ sqrt(2/399) = 7%
    assert np.mean(variances) == pytest.approx(np.var(estimates, ddof=1), rel=0.25)


def test_linear_time_estimator_is_unbiased_for_the_linear_kernel():
    shift = 0.5  # MMD^2 with the linear kernel = ||mu_x - mu_y||^2 = 3 * 0.25
    values = [
        mmd2_linear(draws(200, seed=2 * r), draws(200, shift=shift, seed=2 * r + 1), LinearKernel()).item()
        for r in range(200)
    ]
    assert np.mean(values) == pytest.approx(3 * shift**2, abs=4 * np.std(values) / np.sqrt(len(values)))


def test_gradients_flow_through_every_estimator():
    X = draws(6, seed=9).requires_grad_(True)
    Y = draws(6, shift=0.3, seed=10)
    kernel = GaussianKernel((1.0, 2.0))
    for fn in (
        lambda a: mmd2(a, Y, kernel),
        lambda a: mmd2(a, Y, kernel, "biased", block_size=4),
        lambda a: mmd2_linear(a, Y, kernel),
        lambda a: t_statistic(*mmd2_and_variance(a, Y, kernel)),
    ):
        assert torch.autograd.gradcheck(fn, (X,))


def test_witness_is_positive_where_x_has_mass():
    X, Y = draws(200, d=1, shift=-2.0, seed=11), draws(200, d=1, shift=2.0, seed=12)
    values = witness(X, Y, GaussianKernel((1.0,)), torch.tensor([[-2.0], [0.0], [2.0]], dtype=torch.float64))
    assert values[0] > 0.3 and values[2] < -0.3 and abs(values[1]) < 0.1
    expected = np.mean(np.exp(-((X[:, 0].numpy() + 2) ** 2) / 2)) - np.mean(np.exp(-((Y[:, 0].numpy() + 2) ** 2) / 2))
    assert values[0].item() == pytest.approx(expected, rel=1e-12)


def test_bad_inputs():
    with pytest.raises(GankitError, match="at least 2 samples"):
        mmd2(draws(1), draws(5), LinearKernel())
    with pytest.raises(GankitError, match="same d"):
        mmd2(draws(5, d=2), draws(5, d=3), LinearKernel())
    with pytest.raises(GankitError, match="equal sample sizes"):
        mmd2_and_variance(draws(5), draws(6), LinearKernel())


@pytest.mark.parametrize("block_size", [None, 64])
def test_float32_estimate_keeps_float64_sums(block_size):
    # MMD^2 is a small difference of kernel means close to 1: summed in float32 it would lose ~1e-4 of
    # itself; the sums are float64 whatever the inputs, so a float32 estimate matches the float64 one.
    X, Y = draws(600, d=64, seed=13), draws(600, d=64, shift=0.03, seed=14)
    kernel = GaussianKernel((8.0, 16.0))
    expected = mmd2(X, Y, kernel, block_size=block_size).item()
    value = mmd2(X.float(), Y.float(), kernel, block_size=block_size)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, rel=1e-5)
    estimate, _ = mmd2_and_variance(X.float(), Y.float(), kernel, block_size=block_size)
    assert estimate.item() == pytest.approx(expected, rel=1e-5)
