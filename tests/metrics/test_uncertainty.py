import warnings

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm
from scipy.stats import binom

from gankit.errors import GankitError
from gankit.metrics.fid import fid
from gankit.metrics.uncertainty import fid_bootstrap, fid_infinity


def gaussian(n, d, seed, shift=0.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_infinity_removes_most_of_the_finite_sample_bias():
    """N(0, I) vs N(mu, I) in 32-d: the population FID is ||mu||^2 = 32 * 0.1^2 = 0.32."""
    reference, generated = gaussian(20_000, 32, 0), gaussian(1_000, 32, 1, shift=0.1)
    finite = fid(reference, generated)
    result = fid_infinity(reference, generated, points=10, min_n=200)
    assert abs(result["fid_infinity"] - 0.32) < 0.5 * abs(finite - 0.32)
    assert result["fid_slope"] > 0  # fewer samples, larger FID


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_n():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = fid_bootstrap(gaussian(100, 4, 2), gaussian(100, 4, 3, shift=0.5), resamples=40)
        large = fid_bootstrap(gaussian(1600, 4, 4), gaussian(1600, 4, 5, shift=0.5), resamples=40)
    estimate = fid(gaussian(1600, 4, 4), gaussian(1600, 4, 5, shift=0.5))
    assert large[0] < estimate < large[1]
    assert large[1] - large[0] < 0.5 * (small[1] - small[0])


@pytest.mark.parametrize("level", [0.9, 0.5])
def test_bootstrap_interval_covers_the_expected_fid_at_its_nominal_level(level):
    """Over 100 independent pairs of samples the interval contains E[FID_n] (from 1000 draws) in a fraction
    within the central 99.9% binomial range around ``level``: two-sided, so an interval that is too wide (it
    covers always, or ignores ``level``) fails as surely as one that is too narrow. Measured: 88 and 48 of 100."""
    n, d, shift, trials = 100, 2, 0.3, 100

    def pair(seed):
        return gaussian(n, d, 2 * seed), gaussian(n, d, 2 * seed + 1, shift=shift)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sum(fid(*pair(10_000 + i)) for i in range(1000)) / 1000
        hits = 0
        for i in range(trials):
            low, high = fid_bootstrap(*pair(i), resamples=40, level=level, seed=i)
            hits += low <= expected <= high
    lowest, highest = binom.ppf([0.0005, 0.9995], trials, level)
    assert lowest <= hits <= highest, (hits, lowest, highest)


def test_fid_infinity_needs_a_range_of_sizes():
    with pytest.raises(GankitError, match="at least 2 sizes"):
        fid_infinity(gaussian(100, 2, 6), gaussian(10, 2, 7), min_n=10)


def test_bootstrap_interval_is_recentred_on_the_estimate_where_resampling_inflates_fid():
    """In 16-d with 60 samples a resample (~63% distinct points) has a much larger FID than the sample itself;
    the re-centred interval still contains the estimate, for every seed."""
    x, y = gaussian(60, 16, 20), gaussian(60, 16, 21, shift=0.2)
    estimate = fid(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(5):
            low, high = fid_bootstrap(x, y, resamples=30, level=0.8, seed=seed)
            assert low <= estimate <= high


def scipy_fid(a, b):
    """FID from numpy.cov and scipy.linalg.sqrtm (Heusel et al. 2017, eq. 6), the formula of the reference code."""
    a, b = np.atleast_2d(a.numpy()), np.atleast_2d(b.numpy())
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def explicit_bootstrap(x, y, resamples, level, seed):
    """Efron's bootstrap written out: resample each set with replacement (the indices from a generator seeded
    with ``seed``, x then y in every round), the percentile interval shifted by estimate - mean(resamples)."""
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(resamples):
        i = torch.randint(len(x), (len(x),), generator=generator)
        j = torch.randint(len(y), (len(y),), generator=generator)
        values.append(scipy_fid(x[i], y[j]))
    shift = scipy_fid(x, y) - np.mean(values)
    alpha = (1 - level) / 2
    return np.quantile(values, alpha) + shift, np.quantile(values, 1 - alpha) + shift


def test_bootstrap_equals_the_explicit_procedure_with_its_defaults_and_its_own_generator():
    x, y = gaussian(30, 2, 30), gaussian(25, 2, 31, shift=0.4)
    torch.manual_seed(0)
    default = fid_bootstrap(x, y)  # 50 resamples, level 0.95, seed 0
    torch.manual_seed(1)  # the global generator is not used: the same interval after it moved
    assert fid_bootstrap(x, y) == default
    assert default == pytest.approx(explicit_bootstrap(x, y, 50, 0.95, 0), rel=1e-9)
    assert fid_bootstrap(x, y, resamples=20, level=0.6, seed=3) == pytest.approx(
        explicit_bootstrap(x, y, 20, 0.6, 3), rel=1e-9
    )


def explicit_fid_infinity(reference, generated, points, min_n, seed):
    """Chong & Forsyth 2020, Sec. 3: FID of random subsets of ``points`` sizes from min_n to N against the whole
    reference set, and the least-squares line FID_N = FID_inf + slope / N in closed form."""
    generator = torch.Generator().manual_seed(seed)
    sizes = np.linspace(min_n, len(generated), points).astype(int)
    fids = np.array(
        [scipy_fid(reference, generated[torch.randperm(len(generated), generator=generator)[:n]]) for n in sizes]
    )
    u = 1.0 / sizes
    slope = ((u - u.mean()) * (fids - fids.mean())).sum() / ((u - u.mean()) ** 2).sum()
    return fids.mean() - slope * u.mean(), slope


@pytest.mark.parametrize(("n_max", "d", "min_n"), [(33, 2, 6), (14, 1, 2)])
def test_fid_infinity_equals_the_explicit_fit_with_its_defaults(n_max, d, min_n):
    # 15 sizes from max(2, N // 5) (6 of 33; 2 of 14) to N, seed 0
    reference, generated = gaussian(200, d, 40), gaussian(n_max, d, 41, shift=0.3)
    default = fid_infinity(reference, generated)
    intercept, slope = explicit_fid_infinity(reference, generated, 15, min_n, 0)
    assert default["fid_infinity"] == pytest.approx(intercept, rel=1e-7, abs=1e-9)
    assert default["fid_slope"] == pytest.approx(slope, rel=1e-7, abs=1e-9)


def test_fid_infinity_fits_two_sizes_and_uses_its_own_generator():
    reference, generated = gaussian(300, 3, 42), gaussian(60, 3, 43, shift=0.2)
    torch.manual_seed(5)
    two = fid_infinity(reference, generated, points=2, min_n=20, seed=4)
    torch.manual_seed(6)
    assert fid_infinity(reference, generated, points=2, min_n=20, seed=4) == two
    intercept, slope = explicit_fid_infinity(reference, generated, 2, 20, 4)
    assert (two["fid_infinity"], two["fid_slope"]) == pytest.approx((intercept, slope), rel=1e-7, abs=1e-9)
