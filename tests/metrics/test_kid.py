import time

import numpy as np
import pytest
import torch

import gankit.metrics.kid as kid_module
from gankit.errors import GankitError
from gankit.metrics.kid import kid


def gaussian(n, d, seed, shift=0.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def test_equals_torch_fidelity_subset_for_subset():
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x, y = gaussian(300, 32, 0), gaussian(250, 32, 1, shift=0.1)
    theirs = metric_kid.kid_features_to_metric(
        x,
        y,
        kid_subsets=20,
        kid_subset_size=100,
        rng_seed=2020,
        verbose=False,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
    )
    ours = kid(x, y, subsets=20, subset_size=100, seed=2020)
    assert ours["kid_mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)


def test_expectation_is_zero_for_one_distribution_and_positive_otherwise():
    same = [
        kid(gaussian(200, 16, 2 * r), gaussian(200, 16, 2 * r + 1), subsets=1, subset_size=200)["kid_mean"]
        for r in range(60)
    ]
    mean = sum(same) / len(same)
    spread = (sum((v - mean) ** 2 for v in same) / (len(same) - 1)) ** 0.5
    assert abs(mean) < 3 * spread / len(same) ** 0.5
    shifted = kid(gaussian(200, 16, 0), gaussian(200, 16, 1, shift=0.5), subsets=10, subset_size=100)
    assert shifted["kid_ci_low"] > 0


def test_subset_larger_than_sample_names_the_option():
    with pytest.raises(GankitError, match="--kid-subset-size"):
        kid(gaussian(50, 4, 0), gaussian(500, 4, 1), subset_size=100)


@pytest.mark.parametrize("path", ["numpy", "torch"])
def test_float32_features_give_the_float64_kid_subset_for_subset(path, monkeypatch):
    # oracle: torch-fidelity on the same numbers in float64 (same subsets); the float32 inner products keep
    # about 1e-7 (torch-fidelity's own float32 evaluation is off by ~1e-5 on such features)
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    if path == "torch":  # the path of tensors on a GPU, run on the CPU
        monkeypatch.setattr(kid_module, "CPU_IN_NUMPY", False)
    x, y = gaussian(1100, 512, 3).abs().float(), (gaussian(1100, 512, 4, shift=0.05).abs() * 1.05).float()
    theirs = metric_kid.kid_features_to_metric(
        x.double(), y.double(), kid_subsets=3, kid_subset_size=1000, rng_seed=7, verbose=False
    )
    ours = kid(x, y, subsets=3, subset_size=1000, seed=7)
    assert ours["kid_mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-5)


def test_bad_features_give_one_line_errors():
    x = gaussian(50, 4, 0)
    with pytest.raises(GankitError, match="different dimensions"):
        kid(x, gaussian(50, 5, 1), subset_size=10)
    for bad_value in (float("nan"), float("inf")):
        bad = x.clone()
        bad[3, 2] = bad_value
        with pytest.raises(GankitError, match="NaN or Inf"):
            kid(bad, x, subset_size=10)
    with pytest.raises(GankitError, match="at least 2 samples"):
        kid(x[:1], x, subset_size=1)
    with pytest.raises(GankitError, match=r"shape \(N, d\)"):
        kid(x[0], x, subset_size=10)


def sklearn_unbiased_mmd2(X, Y, degree, gamma, coef0):
    """Gretton et al. 2012, eq. 3 with scikit-learn's polynomial kernel, float64."""
    from sklearn.metrics.pairwise import polynomial_kernel

    X, Y = X.double().numpy(), Y.double().numpy()
    kxx, kyy, kxy = (
        polynomial_kernel(a, b, degree=degree, gamma=gamma, coef0=coef0) for a, b in ((X, X), (Y, Y), (X, Y))
    )
    m, n = len(X), len(Y)
    return (kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1)) - 2 * kxy.mean()


def test_subset_mmd2_and_kernel_sum_use_the_kernel_they_are_given():
    from gankit.mmd.kernels import PolynomialKernel

    X, Y = gaussian(9, 5, 10).float(), gaussian(7, 5, 11, shift=0.3).float()
    kernel = PolynomialKernel(degree=2, gamma=0.7, coef0=0.5, dot_dtype=torch.float32)
    expected = sklearn_unbiased_mmd2(X, Y, 2, 0.7, 0.5)
    assert kid_module.subset_mmd2(X, Y, kernel) == pytest.approx(expected, rel=1e-5)
    assert kid_module.subset_mmd2(X, Y) == pytest.approx(sklearn_unbiased_mmd2(X, Y, 3, 1 / 5, 1), rel=1e-5)
    dot = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    original = dot.clone()
    assert kid_module.kernel_sum(dot, 4, kernel) == pytest.approx(float(((0.7 * dot + 0.5) ** 2).sum()), rel=1e-12)
    assert kid_module.kernel_sum(dot, 4) == pytest.approx(float(((dot / 4 + 1) ** 3).sum()), rel=1e-12)
    assert torch.equal(dot, original)  # a float64 matrix is not overwritten with kernel values


def test_float64_samples_give_the_same_subset_estimate():
    # float64 samples keep float64 inner products (no conversion to float32): the estimate equals the float64
    # reference to rounding, and float32 samples to float32 rounding
    X, Y = gaussian(9, 5, 17), gaussian(7, 5, 18, shift=0.3)
    expected = sklearn_unbiased_mmd2(X, Y, 3, 1 / 5, 1)
    assert kid_module.subset_mmd2(X, Y) == pytest.approx(expected, rel=1e-12)
    assert kid_module.subset_mmd2(X.float(), Y.float()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_each_subset_is_estimated_once_by_a_single_threaded_blas_whatever_the_workers(threads, monkeypatch):
    """One worker per BLAS thread, each with its own subsets: the estimates come back in subset order, equal to the
    one-at-a-time PyTorch path, and every product runs with BLAS limited to one thread."""
    from threadpoolctl import threadpool_info

    x, y = gaussian(60, 6, 20).float(), gaussian(50, 6, 21, shift=0.2).float()
    monkeypatch.setattr(kid_module, "CPU_IN_NUMPY", False)
    sequential = kid(x, y, subsets=7, subset_size=20, seed=3)
    monkeypatch.setattr(kid_module, "CPU_IN_NUMPY", True)
    monkeypatch.setattr(kid_module, "blas_threads", lambda: threads)
    real_estimate, seen = kid_module.subset_mmd2, []

    def spy(X, Y, workspace=None):
        blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        seen.append((float(X[0, 0]), max(blas)))
        return real_estimate(X, Y, workspace=workspace)

    monkeypatch.setattr(kid_module, "subset_mmd2", spy)
    parallel = kid(x, y, subsets=7, subset_size=20, seed=3)
    assert len(seen) == 7 and {blas for _, blas in seen} == {1}
    assert len({first for first, _ in seen}) == 7  # seven different subsets, none twice
    assert parallel["kid_mean"] == pytest.approx(sequential["kid_mean"], rel=1e-6)
    assert parallel["kid_std"] == pytest.approx(sequential["kid_std"], rel=1e-5)


def test_a_worker_error_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(kid_module, "blas_threads", lambda: 2)

    calls = []

    def failing(X, Y, workspace=None):
        calls.append(1)
        time.sleep(0.01)  # the 200 subsets would take a second; the error is seen after the first
        raise MemoryError("no room for the kernel matrix")

    monkeypatch.setattr(kid_module, "subset_mmd2", failing)
    with pytest.raises(MemoryError, match="no room"):
        kid(gaussian(300, 4, 0), gaussian(300, 4, 1), subsets=200, subset_size=10)
    assert len(calls) < 200  # the subsets queued behind the error are dropped


def test_defaults_are_100_subsets_of_1000_with_seed_2020(monkeypatch):
    """The defaults of torch-fidelity (and Binkowski et al.'s code); the subset estimate is replaced by a cheap
    function of the rows so that only the sampling of the subsets is compared."""
    sizes = []

    def fingerprint(X, Y, workspace=None):
        sizes.append(len(X))
        return float((X * np.arange(1, len(X) + 1)[:, None]).sum() - (Y**2).sum())

    monkeypatch.setattr(kid_module, "subset_mmd2", fingerprint)
    x, y = gaussian(1100, 2, 13), gaussian(1050, 2, 14)
    default = kid(x, y)
    assert sizes == [1000] * 100
    assert default == kid(x, y, subsets=100, subset_size=1000, seed=2020)
    assert default != kid(x, y, subsets=100, subset_size=1000, seed=2021)


def test_two_samples_per_set_and_subset_are_enough():
    x, y = gaussian(2, 3, 15).float(), gaussian(2, 3, 16, shift=0.5).float()
    result = kid(x, y, subsets=2, subset_size=2)
    assert result["kid_mean"] == pytest.approx(sklearn_unbiased_mmd2(x, y, 3, 1 / 3, 1), rel=1e-5)


def test_small_sample_errors_in_full():
    x = gaussian(50, 4, 0)
    with pytest.raises(
        GankitError, match=r"^KID needs at least 2 samples per set and per subset; got 1, 50, subset 2$"
    ):
        kid(x[:1], x, subset_size=2)
    with pytest.raises(
        GankitError, match=r"^KID needs at least 2 samples per set and per subset; got 50, 50, subset 1$"
    ):
        kid(x, x, subset_size=1)
    with pytest.raises(
        GankitError,
        match=r"^KID subset size 100 is larger than the sample \(50 and 500\); "
        r"lower --kid-subset-size or provide more samples$",
    ):
        kid(x, gaussian(500, 4, 1), subset_size=100)
    with pytest.raises(
        GankitError,
        match=r"^KID of feature sets of different dimensions \(4 and 5\); extract both sets with the same feature "
        r"extractor$",
    ):
        kid(x, gaussian(50, 5, 1), subset_size=10)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(GankitError, match="^the first feature set: NaN or Inf"):
        kid(bad, x, subset_size=10)
    with pytest.raises(GankitError, match="^the second feature set: NaN or Inf"):
        kid(x, bad, subset_size=10)


@pytest.mark.parametrize("chunk", [1, 3, 10, 128])
def test_strict_lower_kernel_sum_reads_only_the_strict_lower_triangle(chunk):
    """Chunks of rows (a rectangle left of each diagonal block plus its strict lower part) add up to the sum over
    i > j; nothing on or above the diagonal, which syrk leaves unset, reaches the sum (NaN there changes nothing)."""
    dot = torch.randn(10, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = float(((dot / 4 + 1) ** 3).tril(-1).sum())
    poisoned = dot.tril(-1) + torch.full_like(dot, float("nan")).triu()
    assert kid_module.strict_lower_kernel_sum(poisoned, 4, chunk=chunk) == pytest.approx(expected, rel=1e-12)
    # the numpy path of the CPU (float32 products, as kid() hands them over), and its kernel values
    as_numpy = poisoned.float().numpy()
    expected32 = float(((dot.float().double() / 4 + 1) ** 3).tril(-1).sum())
    assert kid_module.strict_lower_kernel_sum(as_numpy, 4, chunk=chunk) == pytest.approx(expected32, rel=1e-12)
    assert np.isnan(as_numpy).sum() == 55  # the caller's array is left as it was


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_numpy_kernel_sum_equals_the_torch_kernel_values_summed(degree):
    from gankit.mmd.kernels import PolynomialKernel

    dot = torch.randn(6, 5, generator=torch.Generator().manual_seed(3))
    kernel = PolynomialKernel(degree=degree, gamma=0.3, coef0=0.5)
    values = kid_module.kernel_values(dot, 5, kernel)
    assert values.dtype == torch.float64
    torch.testing.assert_close(values, (0.3 * dot.double() + 0.5) ** degree, rtol=1e-14, atol=0)
    assert kid_module.kernel_sum(dot.numpy(), 5, kernel) == pytest.approx(float(values.sum()), rel=1e-13)
    with pytest.raises(GankitError, match="degree of at least 1"):
        kid_module.kernel_sum(dot.numpy(), 5, PolynomialKernel(degree=0))


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_kernel_sums_in_a_workspace_equal_the_closed_form(degree):
    """The CPU path sums (gamma dot + coef0)^degree as a dot product of a power with the values, in reused buffers:
    the sum of a float32 matrix and of a strict lower triangle equal the float64 closed form for every degree."""
    from gankit.mmd.kernels import PolynomialKernel

    kernel = PolynomialKernel(degree=degree, gamma=0.3, coef0=0.5)
    dot = torch.randn(9, 9, generator=torch.Generator().manual_seed(8)).float()
    exact = (0.3 * dot.double() + 0.5) ** degree
    workspace = kid_module.Workspace.for_subsets(9, 9, 3, np.float32, chunk=4)
    workspace.values.fill(np.nan)  # stale contents of the buffers must not reach a sum
    workspace.base.fill(np.nan)
    for rows in (dot.numpy()[:4], dot.numpy()[5:8, :5]):  # row chunks of at most the workspace's 4 rows
        expected = float(((0.3 * torch.from_numpy(rows).double() + 0.5) ** degree).sum())
        assert kid_module.kernel_sum(rows, 3, kernel, workspace) == pytest.approx(expected, rel=1e-12)
    lower = kid_module.strict_lower_kernel_sum(dot.numpy(), 3, kernel, chunk=4, workspace=workspace)
    assert lower == pytest.approx(float(exact.tril(-1).sum()), rel=1e-12)
    X, Y = dot[:, :3].numpy().copy(), dot[:7, 3:6].numpy().copy()
    expected = sklearn_unbiased_mmd2(torch.from_numpy(X), torch.from_numpy(Y), degree, 0.3, 0.5)
    assert kid_module.subset_mmd2(X, Y, kernel, workspace) == pytest.approx(expected, rel=1e-5)
