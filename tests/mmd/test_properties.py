"""Laws that hold for every input (Hypothesis): kernels give symmetric positive semi-definite Gram matrices; the
biased MMD^2 of a set with itself is 0; averaged over every equal split of one pooled sample the unbiased MMD^2 is
exactly 0 (its expectation under exchangeability, Gretton et al., JMLR 2012, Lemma 6 and eq. 3)."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import (
    DistanceKernel,
    GaussianKernel,
    LinearKernel,
    PolynomialKernel,
    RationalQuadraticKernel,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True)
KERNELS = pytest.mark.parametrize(
    "kernel",
    [
        GaussianKernel((0.5, 2.0)),
        RationalQuadraticKernel(),
        PolynomialKernel(degree=3, gamma=None, coef0=1.0),
        PolynomialKernel(degree=2, gamma=0.3, coef0=0.0),
        LinearKernel(),
        DistanceKernel(),
    ],
    ids=["gaussian", "rq", "kid", "poly2", "linear", "distance"],
)
COORD = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


def samples(rows):
    return st.integers(1, 4).flatmap(lambda d: arrays(np.float64, (rows, d), elements=COORD)).map(torch.from_numpy)


@KERNELS
@FAST
@given(X=samples(7))
def test_gram_matrices_are_symmetric_and_positive_semidefinite(kernel, X):
    K = kernel(X, X)
    torch.testing.assert_close(K, K.T, rtol=1e-12, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(K)
    assert eigenvalues.min() >= -1e-9 * max(1.0, float(eigenvalues.abs().max()))
    Y = X.flip(0) + 0.5
    torch.testing.assert_close(kernel.paired(X, Y), kernel(X, Y).diagonal(), rtol=1e-10, atol=1e-10)


@KERNELS
@FAST
@given(X=samples(6), block=st.sampled_from([None, 2, 4]))
def test_biased_mmd2_of_a_set_with_itself_is_zero(kernel, X, block):
    scale = max(1.0, float(kernel(X, X).abs().max()))
    assert abs(float(mmd2(X, X, kernel, "biased", block_size=block))) <= 1e-10 * scale


@KERNELS
@FAST
@given(Z=samples(6))
def test_unbiased_mmd2_averages_to_zero_over_all_splits_of_one_sample(kernel, Z):
    values = []
    for chosen in itertools.combinations(range(6), 3):
        rest = [i for i in range(6) if i not in chosen]
        values.append(float(mmd2(Z[list(chosen)], Z[rest], kernel)))
    scale = max(1.0, float(kernel(Z, Z).abs().max()))
    assert abs(np.mean(values)) <= 1e-10 * scale
    # the biased estimate, in contrast, averages to more than zero unless every point is the same
    biased = np.mean(
        [
            float(mmd2(Z[list(c)], Z[[i for i in range(6) if i not in c]], kernel, "biased"))
            for c in itertools.combinations(range(6), 3)
        ]
    )
    assert biased >= -1e-10 * scale
