import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel

from gankit.errors import GankitError
from gankit.mmd.kernels import (
    DistanceKernel,
    GaussianKernel,
    LinearKernel,
    PolynomialKernel,
    RationalQuadraticKernel,
    make_kernel,
    median_heuristic,
)

X = torch.randn(13, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
Y = torch.randn(9, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.5


def test_gaussian_mixture_matches_scikit_learn():
    expected = sum(rbf_kernel(X.numpy(), Y.numpy(), gamma=1 / (2 * s * s)) for s in (0.5, 2.0))
    np.testing.assert_allclose(GaussianKernel((0.5, 2.0))(X, Y).numpy(), expected, rtol=1e-12)


def test_polynomial_is_the_kid_kernel_of_scikit_learn():
    expected = polynomial_kernel(X.numpy(), Y.numpy(), degree=3, gamma=1 / 4, coef0=1)
    np.testing.assert_allclose(PolynomialKernel()(X, Y).numpy(), expected, rtol=1e-12)


def test_rational_quadratic_closed_form():
    d2 = ((X[:, None] - Y[None]) ** 2).sum(-1)
    expected = sum((1 + d2 / (2 * a)) ** -a for a in (0.2, 0.5, 1.0, 2.0, 5.0))
    torch.testing.assert_close(RationalQuadraticKernel()(X, Y), expected, rtol=1e-12, atol=0)


def test_distance_kernel_closed_form():
    expected = 0.5 * (X.norm(dim=1)[:, None] + Y.norm(dim=1)[None] - torch.cdist(X, Y))
    torch.testing.assert_close(DistanceKernel()(X, Y), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "kernel",
    [GaussianKernel((0.7, 3.0)), RationalQuadraticKernel(), PolynomialKernel(), LinearKernel(), DistanceKernel()],
)
def test_paired_is_the_diagonal(kernel):
    torch.testing.assert_close(kernel.paired(X[:9], Y), kernel(X[:9], Y).diagonal(), rtol=1e-10, atol=1e-12)


def test_median_heuristic_matches_scipy():
    Z = torch.cat([X, Y])
    assert median_heuristic(X, Y) == pytest.approx(float(np.median(pdist(Z.numpy()))), rel=1e-12)


def test_unknown_kernel():
    with pytest.raises(GankitError, match="valid kernels: gaussian, rq"):
        make_kernel("laplace")
