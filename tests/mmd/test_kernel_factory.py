"""Kernels by name (the config's ``mmd.kernel``), the curvature constants of the Scaled MMD
(Arbel et al., NeurIPS 2018, eq. 5: c_k = -2 f'(0), here by autograd), the median heuristic of one sample
(Gretton et al., JMLR 2012, Sec. 8) against scipy, and the float32 inner products of the KID kernel."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import polynomial_kernel

from gankit.mmd.kernels import (
    DistanceKernel,
    GaussianKernel,
    LinearKernel,
    PolynomialKernel,
    RationalQuadraticKernel,
    make_kernel,
    median_heuristic,
)


def test_each_name_gives_its_kernel_with_its_parameters():
    assert make_kernel("gaussian", [0.5, 2]) == GaussianKernel((0.5, 2.0))
    assert make_kernel("gaussian", [0.5, 2]).bandwidths == (0.5, 2.0)
    assert make_kernel("rq") == RationalQuadraticKernel((0.2, 0.5, 1.0, 2.0, 5.0))
    assert make_kernel("rq", alphas=[0.7, 3.0]) == RationalQuadraticKernel((0.7, 3.0))
    assert make_kernel("polynomial") == PolynomialKernel(degree=3, gamma=None, coef0=1.0)
    assert make_kernel("linear") == LinearKernel()
    assert make_kernel("distance") == DistanceKernel()


@pytest.mark.parametrize("kernel", [GaussianKernel((0.5, 1.5, 4.0)), RationalQuadraticKernel((0.3, 2.0, 7.0))])
def test_curvature_is_minus_twice_the_slope_at_zero(kernel):
    d2 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(kernel.of_squared_distance(d2), d2)
    assert kernel.curvature() == pytest.approx(-2 * slope.item(), rel=1e-12)
    assert kernel.diagonal() == pytest.approx(len(getattr(kernel, "bandwidths", getattr(kernel, "alphas", ()))))


def test_median_heuristic_of_one_sample_and_of_the_first_points():
    # odd numbers of pairs (741, 105): torch's median is the lower middle value, numpy's the mean of both
    X = torch.randn(39, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert median_heuristic(X) == pytest.approx(float(np.median(pdist(X.numpy()))), rel=1e-12)
    assert median_heuristic(X, max_points=15) == pytest.approx(float(np.median(pdist(X[:15].numpy()))), rel=1e-12)


def test_float32_inner_products_with_float64_kernel_values():
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(5, 7, dtype=torch.float64, generator=generator)
    Y = torch.randn(4, 7, dtype=torch.float64, generator=generator)
    kernel = PolynomialKernel(degree=3, gamma=None, coef0=1.0, dot_dtype=torch.float32)
    values = kernel(X, Y)
    dot = (X.float() @ Y.float().T).double()
    assert values.dtype == torch.float64
    torch.testing.assert_close(values, (dot / 7 + 1) ** 3, rtol=1e-14, atol=0)
    exact = PolynomialKernel()(X, Y)  # float64 products: differ by float32 rounding, ~1e-7 relative
    assert 1e-9 < float(((values - exact) / exact).abs().max()) < 1e-5


def test_polynomial_kernel_with_its_own_gamma_matches_scikit_learn():
    generator = torch.Generator().manual_seed(2)
    X = torch.randn(6, 4, dtype=torch.float64, generator=generator)
    Y = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    expected = polynomial_kernel(X.numpy(), Y.numpy(), degree=2, gamma=0.3, coef0=0.5)
    np.testing.assert_allclose(PolynomialKernel(degree=2, gamma=0.3, coef0=0.5)(X, Y).numpy(), expected, rtol=1e-12)


def test_median_heuristic_uses_the_first_2000_points_by_default():
    """1022 zeros and 978 ones: 999,484 of the 1,999,000 distances are 0, so the (lower) median is 1; a 2001st
    point at 0 adds 1022 zero distances and moves the median to 0."""
    X = torch.cat([torch.zeros(1022, 1), torch.ones(978, 1), torch.zeros(1, 1)]).double()
    assert median_heuristic(X) == 1.0
    assert median_heuristic(X, max_points=2001) == 0.0
