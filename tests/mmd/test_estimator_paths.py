"""Every computational path of the MMD estimators against the direct formulas on the full Gram matrices.

``gram_stats`` takes a numpy (BLAS) product path for float32/float64 CPU inputs without gradients, a torch
``addmm`` path for other dtypes (float16 here), and the kernel's own call when gradients are needed; its sums
are accumulated from one block or from strips of rows against blocks of columns. Each path is compared with
the Gram matrix written out elementwise, exp(-||x - y||^2 / (2 s^2)) from explicit differences, in float64
(Gretton et al., JMLR 2012, eq. 3 and 5 for MMD^2; Lemma 14 for the linear-time estimate)."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.mmd.estimators import STRIP_ROWS, _accumulate, gram_stats, mmd2, mmd2_and_variance, mmd2_linear, t_statistic
from gankit.mmd.kernels import GaussianKernel, PolynomialKernel

BANDWIDTHS = (0.7, 2.0)


def draws(n, d=3, shift=0.0, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def gaussian_gram(A, B):
    """The Gaussian mixture kernel from explicit pairwise differences, in float64."""
    d2 = (A.double()[:, None, :] - B.double()[None, :, :]).pow(2).sum(-1)
    return sum(torch.exp(-d2 / (2 * s * s)) for s in BANDWIDTHS)


def direct_mmd2(X, Y, unbiased=True):
    kxx, kyy, kxy = gaussian_gram(X, X), gaussian_gram(Y, Y), gaussian_gram(X, Y)
    n, m = len(X), len(Y)
    if unbiased:
        return (kxx.sum() - kxx.trace()) / (n * (n - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean()
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def test_linear_time_estimate_is_the_mean_of_h_over_disjoint_pairs():
    X, Y = draws(9, seed=1), draws(12, shift=0.3, seed=2)  # min(n, m) = 9: four pairs, the ninth point unused
    k = lambda a, b: float(gaussian_gram(a[None], b[None])[0, 0])  # noqa: E731
    h = [
        k(X[2 * i], X[2 * i + 1]) + k(Y[2 * i], Y[2 * i + 1]) - k(X[2 * i], Y[2 * i + 1]) - k(X[2 * i + 1], Y[2 * i])
        for i in range(4)
    ]
    assert mmd2_linear(X, Y, GaussianKernel(BANDWIDTHS)).item() == pytest.approx(sum(h) / 4, rel=1e-12)


def test_t_statistic_divides_by_the_clamped_standard_deviation():
    estimate = torch.tensor(0.3, dtype=torch.float64)
    assert t_statistic(estimate, torch.tensor(0.04, dtype=torch.float64)).item() == pytest.approx(1.5, rel=1e-12)
    assert t_statistic(estimate, torch.tensor(-1.0, dtype=torch.float64)).item() == pytest.approx(3000.0, rel=1e-9)
    assert t_statistic(estimate, torch.tensor(0.01, dtype=torch.float64), 0.25).item() == pytest.approx(0.6, rel=1e-12)


@pytest.mark.parametrize("block_size", [None, 4])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=["numpy-product", "torch-addmm"])
def test_gram_stats_equal_the_sums_of_the_full_matrices(dtype, block_size):
    X, Y = draws(11, seed=3).to(dtype), draws(9, shift=0.4, seed=4).to(dtype)
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 2e-2, "atol": 2e-2}
    kernel = GaussianKernel(BANDWIDTHS)
    within = gram_stats(kernel, X, X, True, block_size)  # the diagonal kept apart
    K = gaussian_gram(X, X)
    off = K - torch.diag(K.diagonal())
    assert within.total.dtype == torch.float64 and within.row_sums.dtype == dtype
    torch.testing.assert_close(within.row_sums.double(), off.sum(1), **tol)
    torch.testing.assert_close(within.col_sums.double(), off.sum(0), **tol)
    torch.testing.assert_close(within.total, off.sum(), **tol)
    torch.testing.assert_close(within.total_sq, off.pow(2).sum(), **tol)
    torch.testing.assert_close(within.diagonal_sum.double(), K.trace(), **tol)
    between = gram_stats(kernel, X, Y, False, block_size)
    K = gaussian_gram(X, Y)
    torch.testing.assert_close(between.row_sums.double(), K.sum(1), **tol)
    torch.testing.assert_close(between.col_sums.double(), K.sum(0), **tol)
    torch.testing.assert_close(between.total, K.sum(), **tol)
    torch.testing.assert_close(between.total_sq, K.pow(2).sum(), **tol)
    totals = gram_stats(kernel, X, Y, False, block_size, totals_only=True)
    assert totals.row_sums is None and totals.total_sq is None
    torch.testing.assert_close(totals.total, K.sum(), **tol)


def test_half_precision_estimates_follow_the_float64_formula():
    X, Y = draws(40, seed=5).half(), draws(40, shift=1.0, seed=6).half()
    kernel = GaussianKernel(BANDWIDTHS)
    for block_size in (None, 16):
        value = mmd2(X, Y, kernel, block_size=block_size)
        assert value.dtype == torch.float16
        assert value.item() == pytest.approx(direct_mmd2(X, Y).item(), rel=2e-2)


@pytest.mark.parametrize("block_size", [None, 3])
def test_inputs_that_need_gradients_give_the_same_values_and_the_direct_gradient(block_size):
    X, Y = draws(8, seed=7), draws(8, shift=0.5, seed=8)
    kernel = GaussianKernel(BANDWIDTHS)
    with torch.no_grad():
        plain_estimate, plain_variance = mmd2_and_variance(X, Y, kernel)
    Xg = X.clone().requires_grad_(True)
    for unbiased in (True, False):
        value = mmd2(Xg, Y, kernel, "unbiased" if unbiased else "biased", block_size=block_size)
        (grad,) = torch.autograd.grad(value, Xg)
        Xd = X.clone().requires_grad_(True)
        expected = direct_mmd2(Xd, Y, unbiased)
        (expected_grad,) = torch.autograd.grad(expected, Xd)
        assert value.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-14)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-13)
    estimate, variance = mmd2_and_variance(Xg, Y, kernel, block_size=block_size)
    assert (estimate.item(), variance.item()) == pytest.approx(
        (plain_estimate.item(), plain_variance.item()), rel=1e-12, abs=1e-15
    )
    # the gradient of the variance through the accumulated row sums: the same with and without blocks
    (grad,) = torch.autograd.grad(variance, Xg)
    Xd = X.clone().requires_grad_(True)
    (expected_grad,) = torch.autograd.grad(mmd2_and_variance(Xd, Y, kernel)[1], Xd)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-14)


class RecordingKernel(GaussianKernel):
    """A Gaussian kernel that records the shape of every block of squared distances it is evaluated on."""

    def __init__(self):
        super().__init__(BANDWIDTHS)
        self.shapes = []

    def of_squared_distance(self, d2):
        if d2.ndim == 2:
            self.shapes.append(tuple(d2.shape))
        return super().of_squared_distance(d2)


def test_block_size_bounds_every_evaluated_block():
    # memory O(block_size^2): every kernel evaluation covers at most min(block_size, STRIP_ROWS) rows and
    # block_size columns; without block_size each Gram matrix is one evaluation
    X, Y = draws(30, seed=9), draws(30, shift=0.2, seed=10)
    kernel = RecordingKernel()
    mmd2(X, Y, kernel)
    assert kernel.shapes == [(30, 30)] * 3
    for estimator in (mmd2, mmd2_and_variance):
        kernel = RecordingKernel()
        estimator(X, Y, kernel, block_size=8)
        assert kernel.shapes and max(r for r, _ in kernel.shapes) <= 8 and max(c for _, c in kernel.shapes) <= 8
    n = STRIP_ROWS + 40
    X, Y = draws(n, d=2, seed=11), draws(n, d=2, seed=12)
    kernel = RecordingKernel()
    value = mmd2(X, Y, kernel, block_size=STRIP_ROWS + 20)
    assert max(r for r, _ in kernel.shapes) == STRIP_ROWS and max(c for _, c in kernel.shapes) == STRIP_ROWS + 20
    kernel = RecordingKernel()
    assert value.item() == pytest.approx(mmd2(X, Y, kernel).item(), rel=1e-9, abs=1e-12)
    assert kernel.shapes == [(n, n)] * 3


def test_float32_inputs_give_float32_estimate_and_variance():
    X, Y = draws(50, d=8, seed=13), draws(50, d=8, shift=0.3, seed=14)
    kernel = GaussianKernel((2.0, 4.0))
    expected = mmd2_and_variance(X, Y, kernel)
    got = mmd2_and_variance(X.float(), Y.float(), kernel)
    assert [t.dtype for t in got] == [torch.float32, torch.float32]
    assert [t.item() for t in got] == pytest.approx([t.item() for t in expected], rel=1e-4)


def test_row_sums_keep_the_kernel_dtype_when_it_differs_from_the_inputs():
    # the KID kernel: float32 features, float64 kernel values; blockwise row sums stay float64
    X = draws(10, d=4, seed=15).float()
    kernel = PolynomialKernel(dot_dtype=torch.float32)
    stats = gram_stats(kernel, X, X, True, block_size=4)
    K = kernel(X, X)
    assert K.dtype == torch.float64 and stats.row_sums.dtype == torch.float64
    # (float32 inner products of different blocks round differently: 1e-6)
    torch.testing.assert_close(stats.row_sums, K.sum(1) - K.diagonal(), rtol=1e-6, atol=0)


def test_accumulate_places_each_part_at_its_offset():
    like = torch.zeros(1, dtype=torch.float64)
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([10.0, 20.0, 30.0])
    torch.testing.assert_close(_accumulate([(0, a)], 5, like), torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(_accumulate([(2, a)], 5, like), torch.tensor([0.0, 0.0, 1.0, 2.0, 0.0]))
    torch.testing.assert_close(_accumulate([(1, a), (0, b)], 4, like), torch.tensor([10.0, 21.0, 32.0, 0.0]))
    grad_part = a.clone().requires_grad_(True)
    out = _accumulate([(1, grad_part), (0, b)], 4, like)
    torch.testing.assert_close(out, torch.tensor([10.0, 21.0, 32.0, 0.0]))
    out.sum().backward()
    torch.testing.assert_close(grad_part.grad, torch.ones(2))


def test_sample_size_and_shape_checks():
    X, Y = draws(2, seed=16), draws(2, shift=0.5, seed=17)  # two samples are enough for the unbiased MMD^2
    assert mmd2(X, Y, GaussianKernel(BANDWIDTHS)).item() == pytest.approx(direct_mmd2(X, Y).item(), rel=1e-12)
    with pytest.raises(GankitError, match="two \\(n, d\\) batches"):
        mmd2(torch.zeros(5), draws(5), GaussianKernel())
    with pytest.raises(GankitError, match="two \\(n, d\\) batches"):
        mmd2(draws(5), torch.zeros(5), GaussianKernel())
    with pytest.raises(GankitError, match="at least 2 samples"):
        mmd2(draws(5), draws(1), GaussianKernel())
    mmd2_and_variance(draws(4, seed=18), draws(4, seed=19), GaussianKernel())  # four are enough for the variance
    with pytest.raises(GankitError, match="at least 4 samples"):
        mmd2_and_variance(draws(3), draws(3), GaussianKernel())
    with pytest.raises(GankitError, match="unknown MMD estimator 'plain'; valid: unbiased, biased, or mmd2_linear"):
        mmd2(X, Y, GaussianKernel(), "plain")
