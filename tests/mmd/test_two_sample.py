import torch

from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel
from gankit.mmd.two_sample import optimized_test, permutation_statistics, permutation_test


def draws(n, shift=0.0, seed=0):
    return torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def test_permutation_statistics_equal_the_estimator_on_each_split():
    X, Y = draws(6, seed=1), draws(5, 0.5, seed=2)
    Z = torch.cat([X, Y])
    kernel = GaussianKernel((1.0,))
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    assignment = torch.zeros(1, 11, dtype=torch.float64)
    assignment[0, perm[:6]] = 1
    stat = permutation_statistics(kernel(Z, Z), 6, assignment)[0]
    assert torch.isclose(stat, mmd2(Z[perm[:6]], Z[perm[6:]], kernel), rtol=1e-12)


def test_level_under_the_null_and_power_under_an_alternative():
    kernel = GaussianKernel((1.0,))
    null = [
        permutation_test(draws(30, seed=2 * r), draws(30, seed=2 * r + 1), kernel, 100, seed=r).p_value
        for r in range(200)
    ]
    rejections = sum(p <= 0.05 for p in null)
    # Binomial(200, 0.05): mean 10, sd 3.1; [2, 20] is beyond 3 sd on each side
    assert 2 <= rejections <= 20
    alt = [
        permutation_test(draws(30, seed=2 * r), draws(30, 1.0, seed=2 * r + 1), kernel, 100, seed=r).p_value
        for r in range(20)
    ]
    assert sum(p <= 0.05 for p in alt) >= 18


def test_optimized_test_picks_a_finite_bandwidth_and_rejects():
    result = optimized_test(draws(200, seed=3), draws(200, 0.6, seed=4), permutations=200)
    assert result.p_value < 0.01
    assert 0 < result.kernel.bandwidths[0] < 100
