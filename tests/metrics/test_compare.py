import itertools

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from scipy.stats import binom
from sklearn.datasets import load_digits

from gankit.errors import GankitError
from gankit.metrics.compare import compare_lines, compare_models, comparison_lines, mmd_pair, relative_similarity
from gankit.metrics.evaluate import EvalOptions, cached_features
from gankit.metrics.features.extractors import PixelFeatures
from gankit.metrics.kid import KID_KERNEL
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import PolynomialKernel

# Two support points in R^2: every sample is described by how many of its points sit on the second one.
SUPPORT = torch.tensor([[0.3, 1.2], [1.6, -0.4]], dtype=torch.float64)
EXACT_KERNEL = PolynomialKernel(degree=3, gamma=None, coef0=1.0)  # float64 throughout for a sharp check


def sample(size, ones):
    return SUPPORT[torch.tensor([0] * (size - ones) + [1] * ones)]


def test_covariance_estimate_is_exactly_unbiased_by_enumeration():
    # Every possible (X, Y, Z) of sizes (4, 5, 6) from three distributions on two points, with its
    # probability: the mean of the covariance estimates must equal the covariance of the estimates.
    sizes, probs = (4, 5, 6), (0.5, 0.7, 0.2)
    K = EXACT_KERNEL(SUPPORT, SUPPORT).numpy()
    moments = np.zeros(9)  # E a, E b, E a^2, E b^2, E ab, E var_a, E var_b, E cov_ab, E var_difference
    for counts in itertools.product(*(range(s + 1) for s in sizes)):
        weight = np.prod([binom.pmf(c, s, p) for c, s, p in zip(counts, sizes, probs, strict=True)])
        pair = mmd_pair(*(sample(s, c) for s, c in zip(sizes, counts, strict=True)), kernel=EXACT_KERNEL)
        a, b = pair.mmd2_a, pair.mmd2_b
        values = (a, b, a * a, b * b, a * b, pair.var_a, pair.var_b, pair.cov_ab, pair.var_difference)
        moments += weight * np.asarray(values)
    ea, eb, eaa, ebb, eab, var_a, var_b, cov_ab, var_d = moments
    p = [np.array([1 - q, q]) for q in probs]
    population = lambda u, v: u @ K @ u + v @ K @ v - 2 * u @ K @ v  # noqa: E731
    assert ea == pytest.approx(population(p[0], p[1]), rel=1e-10)
    assert eb == pytest.approx(population(p[0], p[2]), rel=1e-10)
    assert var_a == pytest.approx(eaa - ea**2, rel=1e-9)
    assert var_b == pytest.approx(ebb - eb**2, rel=1e-9)
    assert cov_ab == pytest.approx(eab - ea * eb, rel=1e-9)
    assert var_d == pytest.approx((eaa - ea**2) + (ebb - eb**2) - 2 * (eab - ea * eb), rel=1e-9)


def gaussians(n, d, shift, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_estimates_are_the_unbiased_mmds_with_the_kid_kernel():
    X, Y, Z = gaussians(60, 5, 0.0, 1), gaussians(50, 5, 0.2, 2), gaussians(70, 5, 0.5, 3)
    result = relative_similarity(X, Y, Z, block_size=16)
    # float32 inner products (the KID kernel's) against float64 ones: about 1e-6 relative
    assert result.mmd2_a == pytest.approx(mmd2(X.double(), Y.double(), PolynomialKernel()).item(), rel=1e-5)
    assert result.mmd2_b == pytest.approx(mmd2(X.double(), Z.double(), PolynomialKernel()).item(), rel=1e-5)
    X, Y, Z, kernel = X.double(), Y.double(), Z.double(), PolynomialKernel()
    blocks, direct = relative_similarity(X, Y, Z, kernel, block_size=16), relative_similarity(X, Y, Z, kernel, None)
    assert (blocks.std, blocks.p_value) == pytest.approx((direct.std, direct.p_value), rel=1e-9)


def digits_pixels():
    images = load_digits().images  # (1797, 8, 8) in [0, 16]
    order = np.random.default_rng(0).permutation(len(images))
    return images[order]


def blurred(images, sigma):
    return np.stack([gaussian_filter(image, sigma) for image in images])


def flat(images):
    return torch.from_numpy(images.reshape(len(images), -1) / 16).float()


def test_prefers_real_digits_to_blurred_ones_in_both_orders():
    images = digits_pixels()
    real, held_out = images[:600], images[600:1200]
    sharp, blurry = flat(held_out), flat(blurred(held_out, 1.0))
    forward = relative_similarity(flat(real), sharp, blurry)
    assert forward.difference < 0 and forward.p_value < 1e-3
    backward = relative_similarity(flat(real), blurry, sharp)
    assert backward.p_value > 1 - 1e-3
    assert backward.difference == pytest.approx(-forward.difference, rel=1e-9)
    # a milder blur is still told apart from a stronger one
    graded = relative_similarity(flat(real), flat(blurred(held_out, 0.5)), flat(blurred(held_out, 1.0)))
    assert graded.p_value < 1e-3
    assert "A is closer to the real data" in comparison_lines(graded)[-1]


@pytest.mark.parametrize("real_mean", [0.0, 0.5], ids=["real-differs", "all-equal"])
def test_type_one_error_on_two_equal_sources_within_a_binomial_bound(real_mean):
    # A and B from one distribution: at level 0.05 the number of rejections over 200 repeats is
    # Binomial(200, 0.05) if the test is calibrated, and P(X >= 21) < 0.001. With real_mean 0.5 all three
    # are equal: the variance is of order 1/n^2 and the first-order fallback is used where the unbiased
    # estimate is not positive.
    repeats, p_values, methods = 200, [], set()
    for rep in range(repeats):
        g = torch.Generator().manual_seed(rep)
        real = torch.randn(40, 3, generator=g) + real_mean
        a, b = torch.randn(40, 3, generator=g) + 0.5, torch.randn(40, 3, generator=g) + 0.5
        result = relative_similarity(real, a, b, block_size=None)
        p_values.append(result.p_value)
        methods.add(result.variance_method)
    p_values = np.asarray(p_values)
    assert (p_values < 0.05).sum() <= 20 and (p_values > 0.95).sum() <= 20
    # and not vacuous: the p-values spread over (0, 1) (mean 1/2 +- 4 standard errors of a uniform)
    assert abs(p_values.mean() - 0.5) < 4 * np.sqrt(1 / 12 / repeats)
    assert methods == ({"unbiased"} if real_mean == 0.0 else {"unbiased", "first-order"})


def test_bad_inputs():
    X = gaussians(10, 3, 0.0, 0)
    with pytest.raises(GankitError, match="at least 4"):
        relative_similarity(X, X[:3], X)
    with pytest.raises(GankitError, match="dimensions differ"):
        relative_similarity(X, gaussians(10, 4, 0.0, 1), X)
    bad = X.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(GankitError, match="NaN or Inf"):
        relative_similarity(X, bad, X)
    with pytest.raises(GankitError, match="not positive"):
        relative_similarity(X, torch.ones(10, 3), torch.ones(10, 3))


def test_kid_kernel_is_the_default():
    X, Y, Z = gaussians(30, 4, 0.0, 4), gaussians(30, 4, 0.1, 5), gaussians(30, 4, 0.3, 6)
    assert relative_similarity(X, Y, Z).mmd2_a == relative_similarity(X, Y, Z, kernel=KID_KERNEL).mmd2_a


def test_compare_models_reports_both_models_and_the_test():
    images = digits_pixels()
    as_uint8 = lambda a: torch.from_numpy((a * 255 / 16).round().astype(np.uint8))[:, None]  # noqa: E731
    real, held_out = as_uint8(images[:600]), images[600:1200]
    sharp, blurry = as_uint8(held_out), as_uint8(blurred(held_out, 1.0))
    extractor = PixelFeatures((1, 8, 8))
    sets = [cached_features(extractor, x, cache=False) for x in (real, sharp, blurry)]
    options = EvalOptions(kid_subsets=5, kid_subset_size=200, fid_bootstrap=0, fid_infinity=False)
    result = compare_models(extractor, *sets, options, max_samples=500)
    assert result["a"]["fid"] < result["b"]["fid"] and result["a"]["kid_mean"] < result["b"]["kid_mean"]
    test = result["relative_similarity"]
    assert test["n_real"] == test["n_a"] == test["n_b"] == 500 and test["p_value"] < 1e-3
    lines = compare_lines(result, "sharp", "blurred")
    assert lines[0].startswith("sharp: 600 samples") and any(line.startswith("  FID") for line in lines)
    assert lines[-1] == f"  sharp is closer to the real data (p = {test['p_value']:.3g} < 0.05)"


def test_first_order_variances_agree_with_the_unbiased_ones_away_from_degeneracy():
    X, Y, Z = gaussians(400, 3, 0.0, 7), gaussians(300, 3, 0.4, 8), gaussians(350, 3, 0.8, 9)
    pair = mmd_pair(X, Y, Z, block_size=None)
    for first_order, unbiased in zip(pair.var_first_order, (pair.var_a, pair.var_b, pair.var_difference), strict=True):
        assert 0.8 < first_order / unbiased < 1.25
    # A drawn like the real data: MMD^2(real, A) is degenerate, its unbiased variance estimate may be <= 0,
    # and the reported one is then the (positive) first-order estimate
    result = relative_similarity(X, gaussians(300, 3, 0.0, 10), Z, block_size=None)
    assert result.var_a > 0 and result.var_b > 0
