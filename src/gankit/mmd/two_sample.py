"""Permutation two-sample tests with the unbiased MMD^2 (Gretton et al., JMLR 2012, Sec. 5; Sutherland et
al., ICLR 2017, Sec. 3 for choosing the kernel on one half of the data and testing on the other).

The pooled Gram matrix is computed once; each permutation's statistic is then a quadratic form in the
indicator of the permuted X-sample, evaluated for all permutations with one matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2_and_variance, t_statistic
from gankit.mmd.kernels import GaussianKernel, Kernel, median_heuristic


@dataclass(frozen=True)
class TestResult:
    """Outcome of a two-sample test."""

    statistic: float
    p_value: float
    permutations: int
    kernel: Kernel


def permutation_statistics(K: torch.Tensor, n: int, assignments: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 for each row of ``assignments`` (P, N) of 0/1 indicators of the X-sample (n ones)
    over the pooled Gram matrix K (N, N)."""
    N = len(K)
    m = N - n
    K0 = K - torch.diag_embed(K.diagonal())
    a = assignments.to(K.dtype)
    b = 1 - a
    Ka = a @ K0
    within_x = (Ka * a).sum(1)
    cross = (Ka * b).sum(1)
    within_y = ((b @ K0) * b).sum(1)
    return within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2 * cross / (n * m)


def permutation_test(
    X: torch.Tensor,
    Y: torch.Tensor,
    kernel: Kernel,
    permutations: int = 500,
    seed: int = 0,
    chunk: int = 100,
) -> TestResult:
    """p = (1 + #{permuted MMD^2 >= observed}) / (1 + permutations): a valid level-alpha test under H0: P = Q."""
    if len(X) < 2 or len(Y) < 2:
        raise GankitError(f"a two-sample test needs at least 2 samples on each side; got {len(X)} and {len(Y)}")
    Z = torch.cat([X, Y]).double()
    K = kernel(Z, Z)
    n, N = len(X), len(Z)
    observed_assignment = torch.zeros(1, N, dtype=K.dtype)
    observed_assignment[0, :n] = 1
    observed = permutation_statistics(K, n, observed_assignment)[0]
    generator = torch.Generator().manual_seed(seed)
    exceed = 0
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        order = torch.argsort(torch.rand(size, N, generator=generator), dim=1)
        assignments = (order < n).to(K.dtype)
        exceed += int((permutation_statistics(K, n, assignments) >= observed).sum())
    return TestResult(float(observed), (1 + exceed) / (1 + permutations), permutations, kernel)


def select_bandwidth(X: torch.Tensor, Y: torch.Tensor, bandwidths: Sequence[float]) -> GaussianKernel:
    """The Gaussian bandwidth that maximises MMD^2 / sqrt(variance) on (X, Y) (Sutherland et al. 2017, eq. 6)."""
    n = min(len(X), len(Y))
    X, Y = X[:n].double(), Y[:n].double()
    scores = [float(t_statistic(*mmd2_and_variance(X, Y, GaussianKernel((s,))))) for s in bandwidths]
    return GaussianKernel((bandwidths[max(range(len(scores)), key=scores.__getitem__)],))


def optimized_test(
    X: torch.Tensor,
    Y: torch.Tensor,
    bandwidths: Sequence[float] | None = None,
    permutations: int = 500,
    seed: int = 0,
) -> TestResult:
    """Choose the bandwidth on the first half of each sample, test on the second half (Sutherland et al. 2017).

    Default candidates: the median-heuristic bandwidth times 2^k for k = -4..4.
    """
    nx, ny = len(X) // 2, len(Y) // 2
    if bandwidths is None:
        median = median_heuristic(X[:nx], Y[:ny])
        bandwidths = [median * 2.0**k for k in range(-4, 5)]
    kernel = select_bandwidth(X[:nx], Y[:ny], bandwidths)
    return permutation_test(X[nx:], Y[ny:], kernel, permutations, seed)
