import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from gankit.errors import GankitError
from gankit.mmd import two_sample
from gankit.mmd.estimators import mmd2, mmd2_and_variance, t_statistic
from gankit.mmd.kernels import GaussianKernel
from gankit.mmd.two_sample import (
    optimized_test,
    permutation_statistics,
    permutation_test,
    select_bandwidth,
)


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


def test_p_value_counts_every_permutation_whose_statistic_reaches_the_observed_one():
    # all points equal: every split of the pooled sample has MMD^2 exactly 0 (K = 1 everywhere), so each of the
    # permutations counts, p = (1 + P) / (1 + P) = 1, whatever the chunking (250 = 2 x 100 + 50)
    zeros = torch.zeros(4, 2, dtype=torch.float64)
    for permutations, chunk in ((250, 100), (7, 3), (5, 100)):
        result = permutation_test(zeros, zeros.clone(), GaussianKernel((1.0,)), permutations, chunk=chunk)
        assert result.p_value == 1.0 and result.permutations == permutations and result.statistic == 0.0


def test_result_fields_defaults_and_the_tests_own_generator():
    X, Y = draws(12, seed=20), draws(10, seed=21)  # one distribution: p = 0.40 with seed 0, 0.44 with seed 1
    kernel = GaussianKernel((1.0,))
    torch.manual_seed(0)
    default = permutation_test(X, Y, kernel)
    torch.manual_seed(1)  # the permutations come from the test's generator, not the global one
    assert permutation_test(X, Y, kernel, 500, 0, 100) == default
    assert default.permutations == 500 and default.kernel is kernel
    assert default.statistic == pytest.approx(mmd2(X, Y, kernel).item(), rel=1e-12)
    assert 0.05 < default.p_value < 0.95  # a p-value that a different draw of permutations would change
    assert permutation_test(X, Y, kernel, seed=1).p_value != default.p_value


def test_two_samples_per_side_are_enough_and_one_is_an_error():
    X, Y = draws(2, seed=7), draws(2, 1.0, seed=8)
    assert permutation_test(X, Y, GaussianKernel((1.0,)), 20).statistic == pytest.approx(
        mmd2(X, Y, GaussianKernel((1.0,))).item(), rel=1e-12
    )
    for a, b in ((1, 5), (5, 1)):
        with pytest.raises(
            GankitError, match=f"^a two-sample test needs at least 2 samples on each side; got {a} and {b}$"
        ):
            permutation_test(draws(a), draws(b), GaussianKernel())


def test_permutation_statistics_take_boolean_indicators():
    Z = draws(7, seed=9)
    K = GaussianKernel((1.0,))(Z, Z)
    indicators = torch.tensor([[1, 1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 0, 1, 0]], dtype=torch.bool)
    expected = [mmd2(Z[row], Z[~row], GaussianKernel((1.0,))).item() for row in indicators]
    assert permutation_statistics(K, 3, indicators).tolist() == pytest.approx(expected, rel=1e-12)


def test_bandwidth_selection_maximises_the_t_statistic_on_equal_halves():
    X, Y = draws(40, seed=10), draws(30, seed=11) * 2.5  # a wider Y: the best bandwidth is 3 (t = 2.9)
    bandwidths = [30.0, 3.0, 1.0, 0.3, 0.01]
    scores = [float(t_statistic(*mmd2_and_variance(X[:30], Y, GaussianKernel((s,))))) for s in bandwidths]
    best = max(range(len(scores)), key=scores.__getitem__)
    assert best not in (0, len(scores) - 1)  # neither the first nor the last candidate
    assert select_bandwidth(X, Y, bandwidths).bandwidths == (bandwidths[best],)


def test_optimized_test_candidates_and_halves(monkeypatch):
    """The default candidates are the median heuristic of the pooled first halves times 2^k, k = -4..4; the
    bandwidth is chosen on the first halves and the permutation test runs on the second halves."""
    X, Y = draws(31, seed=12), draws(22, 1.5, seed=13)  # halves of 15 and 11: 325 pairs, an odd number
    calls = {}
    real_select, real_test = two_sample.select_bandwidth, two_sample.permutation_test

    def select(a, b, bandwidths):
        calls["select"] = (a, b, list(bandwidths))
        return real_select(a, b, bandwidths)

    def test(a, b, kernel, permutations, seed):
        calls["test"] = (a, b, kernel, permutations, seed)
        return real_test(a, b, kernel, permutations, seed)

    monkeypatch.setattr(two_sample, "select_bandwidth", select)
    monkeypatch.setattr(two_sample, "permutation_test", test)
    result = optimized_test(X, Y)
    a, b, candidates = calls["select"]
    assert torch.equal(a, X[:15]) and torch.equal(b, Y[:11])
    median = float(np.median(pdist(torch.cat([X[:15], Y[:11]]).numpy())))
    assert candidates == pytest.approx([median * 2.0**k for k in range(-4, 5)], rel=1e-12)
    a, b, kernel, permutations, seed = calls["test"]
    assert torch.equal(a, X[15:]) and torch.equal(b, Y[11:]) and (permutations, seed) == (500, 0)
    assert result.kernel is kernel and kernel.bandwidths[0] in candidates
    optimized_test(X, Y, [1.0, 2.0], permutations=30, seed=4)
    assert calls["select"][2] == [1.0, 2.0] and calls["test"][3:] == (30, 4)


def test_p_value_equals_the_explicit_count_over_the_same_random_permutations():
    """Each permutation of the pooled sample is the ranking of N uniform draws (rows of 100 draws at a time from
    a generator seeded with ``seed``); the first n ranks form the X-sample. The count is written out with the
    estimator on each split."""
    X, Y = draws(7, seed=30), draws(6, 0.6, seed=31)
    Z, kernel, n = torch.cat([X, Y]), GaussianKernel((1.0,)), 7
    observed = mmd2(X, Y, kernel).item()
    generator = torch.Generator().manual_seed(3)
    exceed = 0
    for size in (100, 50):
        for row in torch.argsort(torch.rand(size, 13, generator=generator), dim=1):
            in_x = row < n
            exceed += mmd2(Z[in_x], Z[~in_x], kernel).item() >= observed - 1e-12
    result = permutation_test(X, Y, kernel, 150, seed=3)
    assert result.p_value == (1 + exceed) / 151
    assert 0.05 < result.p_value < 0.95
