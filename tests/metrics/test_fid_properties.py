"""Laws of the Frechet distance (Dowson & Landau 1982; Heusel et al., NeurIPS 2017, eq. 6) for every input
(Hypothesis): symmetric, zero for equal statistics, and equal to the formula evaluated with scipy's sqrtm."""

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gankit.metrics.fid import frechet_distance

FAST = settings(max_examples=30, deadline=None, derandomize=True)
VALUES = st.floats(-2, 2, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def gaussian_statistics(draw, d):
    """A mean and a covariance A A^T / k (positive semi-definite; rank-deficient when k < d)."""
    k = draw(st.integers(1, d + 2))
    mu = draw(arrays(np.float64, (d,), elements=VALUES))
    a = draw(arrays(np.float64, (d, k), elements=VALUES))
    return torch.from_numpy(mu), torch.from_numpy(a @ a.T / k)


def pairs():
    return st.integers(1, 5).flatmap(lambda d: st.tuples(gaussian_statistics(d), gaussian_statistics(d)))


def scipy_fid(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy())
    return float(((mu1 - mu2) ** 2).sum() + s1.trace() + s2.trace() - 2 * np.real(np.trace(root)))


@FAST
@given(pairs())
def test_symmetric_and_zero_for_equal_statistics(pair):
    (mu1, s1), (mu2, s2) = pair
    # square roots of singular covariances turn rounding of size eps into errors of size sqrt(eps) ~ 1.5e-8
    scale = 1.0 + float(s1.trace() + s2.trace() + ((mu1 - mu2) ** 2).sum())
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), abs=1e-6 * scale)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6 * scale)
    assert frechet_distance(mu1, s1, mu2, s2) >= 0


@FAST
@given(pairs())
def test_equals_the_formula_with_scipy_sqrtm_on_positive_definite_covariances(pair):
    (mu1, s1), (mu2, s2) = pair
    d = len(mu1)
    s1, s2 = s1 + 0.1 * torch.eye(d, dtype=torch.float64), s2 + 0.1 * torch.eye(d, dtype=torch.float64)
    expected = scipy_fid(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7, abs=1e-9)
