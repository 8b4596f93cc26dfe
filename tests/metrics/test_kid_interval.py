"""The KID 95% interval against its formula: mean +- 1.96 std / sqrt(subsets), with the subset values recomputed
independently (numpy subsets in torch-fidelity's order, scikit-learn's polynomial kernel, float64)."""

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import polynomial_kernel

from gankit.metrics.kid import kid


def unbiased_mmd2(X, Y):
    d = X.shape[1]
    kxx, kyy, kxy = (polynomial_kernel(a, b, degree=3, gamma=1 / d, coef0=1) for a, b in ((X, X), (Y, Y), (X, Y)))
    m, n = len(X), len(Y)
    return (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()


@pytest.mark.parametrize("subsets", [4, 25])
def test_interval_is_mean_plus_minus_1_96_standard_errors_of_the_subset_values(subsets):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 8)).astype(np.float32)
    y = (rng.normal(size=(120, 8)) + 0.2).astype(np.float32)
    size = 60
    choice = np.random.RandomState(5)
    values = []
    for _ in range(subsets):
        i = choice.choice(len(x), size, replace=False)
        j = choice.choice(len(y), size, replace=False)
        values.append(unbiased_mmd2(x[i].astype(np.float64), y[j].astype(np.float64)))
    mean, std = np.mean(values), np.std(values)
    result = kid(torch.from_numpy(x), torch.from_numpy(y), subsets=subsets, subset_size=size, seed=5)
    assert result["kid_mean"] == pytest.approx(mean, rel=1e-5)
    assert result["kid_std"] == pytest.approx(std, rel=1e-4)
    half = 1.96 * std / np.sqrt(subsets)
    assert result["kid_ci_low"] == pytest.approx(mean - half, rel=1e-4)
    assert result["kid_ci_high"] == pytest.approx(mean + half, rel=1e-4)
    assert (result["kid_ci_high"] - result["kid_ci_low"]) / 2 == pytest.approx(half, rel=1e-4)
