"""The variance of the unbiased MMD^2 (Sutherland et al., ICLR 2017, eq. 5 / Appendix A) against the same
expression written as explicit sums over sample indices, up to O(n^4) terms, on a tiny sample.

The explicit sums are written from the paper's matrix notation (K~ the Gram matrix with its diagonal set to
zero, e the vector of ones), one term per loop, with no Gram-matrix reductions shared with the library, so a
wrong row/column sum, a missing diagonal removal or a blockwise accumulation error changes the number."""

import itertools

import pytest
import torch

from gankit.mmd.estimators import mmd2_and_variance
from gankit.mmd.kernels import GaussianKernel, PolynomialKernel


def variance_by_index_sums(X, Y, kernel):
    m = len(X)
    k = lambda A, B, i, j: float(kernel(A[i : i + 1], B[j : j + 1])[0, 0])  # noqa: E731
    kxx = [[k(X, X, i, j) if i != j else 0.0 for j in range(m)] for i in range(m)]
    kyy = [[k(Y, Y, i, j) if i != j else 0.0 for j in range(m)] for i in range(m)]
    kxy = [[k(X, Y, i, j) for j in range(m)] for i in range(m)]
    idx = range(m)
    pairs = list(itertools.product(idx, repeat=2))
    triples = list(itertools.product(idx, repeat=3))
    # ||K~ e||^2 = sum_i sum_j sum_t K~_ij K~_it
    row_sq = lambda K: sum(K[i][j] * K[i][t] for i, j, t in triples)  # noqa: E731
    col_sq = lambda K: sum(K[j][i] * K[t][i] for i, j, t in triples)  # noqa: E731
    frob = lambda K: sum(K[i][j] ** 2 for i, j in pairs)  # noqa: E731
    # (e' K e)^2 as a fourfold sum
    total_sq = lambda K: sum(K[i][j] * K[a][b] for i, j, a, b in itertools.product(idx, repeat=4))  # noqa: E731
    total = lambda K: sum(K[i][j] for i, j in pairs)  # noqa: E731
    # e' K~xx Kxy e = sum_i sum_j sum_t K~xx_ij Kxy_jt ; e' K~yy Kxy' e = sum_i sum_j sum_t K~yy_ij Kxy_tj
    xx_xy = sum(kxx[i][j] * kxy[j][t] for i, j, t in triples)
    yy_yx = sum(kyy[i][j] * kxy[t][j] for i, j, t in triples)
    return (
        2 / (m**2 * (m - 1) ** 2) * (2 * row_sq(kxx) - frob(kxx) + 2 * row_sq(kyy) - frob(kyy))
        - (4 * m - 6) / (m**3 * (m - 1) ** 3) * (total_sq(kxx) + total_sq(kyy))
        + 4 * (m - 2) / (m**3 * (m - 1) ** 2) * (row_sq(kxy) + col_sq(kxy))
        - 4 * (m - 3) / (m**3 * (m - 1) ** 2) * frob(kxy)
        - (8 * m - 12) / (m**5 * (m - 1)) * total_sq(kxy)
        + 8 / (m**3 * (m - 1)) * ((total(kxx) + total(kyy)) * total(kxy) / m - xx_xy - yy_yx)
    )


@pytest.mark.parametrize("block_size", [None, 2, 4])
@pytest.mark.parametrize("kernel", [GaussianKernel((0.8, 2.0)), PolynomialKernel(degree=2, gamma=0.5, coef0=1.0)])
def test_variance_equals_the_explicit_index_sums(kernel, block_size):
    generator = torch.Generator().manual_seed(3)
    X = torch.randn(7, 2, dtype=torch.float64, generator=generator)
    Y = torch.randn(7, 2, dtype=torch.float64, generator=generator) * 1.3 + 0.4
    _, variance = mmd2_and_variance(X, Y, kernel, block_size=block_size)
    assert variance.item() == pytest.approx(variance_by_index_sums(X, Y, kernel), rel=1e-10)
