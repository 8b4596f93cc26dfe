"""Kernel Inception Distance (Binkowski et al., ICLR 2018, Sec. 4 and Appendix D).

KID is the unbiased MMD^2 (Gretton et al., JMLR 2012, eq. 3) with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over ``subsets`` random subsets of ``subset_size`` samples from each
set, drawn without replacement. The subsets are drawn with ``numpy.random.RandomState(seed).choice`` in
the same order as torch-fidelity (first set, then second, per subset), so with the same seed and
features both give the same number up to rounding.

Arithmetic: inner products are float32 matrix products of the float32 features (as in torch-fidelity);
the kernel values and their sums are float64 (torch-fidelity keeps them in float32, which moves its KID
by 2e-6 to 3e-5 relative on 2048-d features, gankit's by under 1e-7; ``benchmarks/metrics.py`` prints
both against a float64 evaluation). Per subset the products are torch-fidelity's three, X X^T, Y Y^T and Y X^T:
numpy's ``matmul`` computes a product of an array with its own transpose by one BLAS ``syrk`` (half the
multiply-adds), so all three cost 2 m^2 d multiply-adds. The kernel is evaluated on the strict lower triangles of
the two within-sample matrices and on the whole cross matrix, in row chunks that stay in cache.

Parallelism on the CPU: the subsets are independent, so instead of one subset at a time with a multi-threaded
BLAS, each of the BLAS's T threads takes whole subsets with a single-threaded BLAS (``threadpoolctl`` limits it
for the duration of the call) and its own reused buffers (:class:`Workspace`). numpy releases the GIL in its
products and element-wise loops, so the workers run side by side, and the kernel sums, single-threaded in
torch-fidelity, are spread over the cores too. The calling thread draws the indices in torch-fidelity's order and
hands each subset to the pool; each subset's estimate is the same whichever worker computes it. Measured on 2
cores (``benchmarks/metrics.py``): 1.24x torch-fidelity's time with two threads, level with one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from gankit.errors import GankitError
from gankit.metrics.fid import check_features
from gankit.mmd.kernels import PolynomialKernel

KID_KERNEL = PolynomialKernel(degree=3, gamma=None, coef0=1.0, dot_dtype=torch.float32)
# On the CPU, kid() gathers and multiplies in numpy, one subset per BLAS thread (see the module's docstring): with
# PyTorch's OpenMP threads between the BLAS calls the loop ran at 0.81x torch-fidelity's speed. Tensors on other
# devices take the PyTorch path, one subset after the other (so do tests that set this to False).
CPU_IN_NUMPY = True
# Rows per chunk of the kernel sums: the float64 temporaries of a chunk stay in cache, and in a strict lower triangle
# the diagonal blocks evaluated in full are chunk / n of the work.
ROW_CHUNK = 128


def check_subset_size(n1: int, n2: int, subset_size: int) -> None:
    """The one-line errors for samples too small for KID subsets of ``subset_size``."""
    if min(n1, n2) < 2 or subset_size < 2:
        raise GankitError(f"KID needs at least 2 samples per set and per subset; got {n1}, {n2}, subset {subset_size}")
    if min(n1, n2) < subset_size:
        raise GankitError(
            f"KID subset size {subset_size} is larger than the sample ({n1} and {n2}); "
            "lower --kid-subset-size or provide more samples"
        )


Array = TypeVar("Array", torch.Tensor, np.ndarray)


@dataclass
class Workspace:
    """Buffers that one thread reuses from subset to subset on the CPU: the two gathered subsets, one inner-product
    matrix (float32, flat) and two float64 row chunks of kernel values (flat), plus the mask of a chunk's diagonal
    block on and above the diagonal, for row chunks of ``chunk`` rows. Allocating these afresh per subset costs
    fresh pages from the operating system: measured on 2048-d features, 300,000 page faults and a second of system
    time per KID of 100 subsets."""

    X: np.ndarray
    Y: np.ndarray
    dot: np.ndarray
    values: np.ndarray
    base: np.ndarray
    upper: np.ndarray
    chunk: int

    @classmethod
    def for_subsets(cls, m: int, n: int, dim: int, dtype: np.dtype, chunk: int = ROW_CHUNK) -> Workspace:
        """Buffers for subsets of ``m`` and ``n`` rows of ``dim`` features of ``dtype``, row chunks of ``chunk``."""
        side = max(m, n)
        return cls(
            X=np.empty((m, dim), dtype),
            Y=np.empty((n, dim), dtype),
            dot=np.empty(side * side, dtype),
            values=np.empty(chunk * side),
            base=np.empty(chunk * side),
            upper=~np.tri(chunk, k=-1, dtype=bool),
            chunk=chunk,
        )


def front(buffer: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous array of ``shape`` over the front of a flat ``buffer``, or a new float64 one without it."""
    if buffer is None:
        return np.empty(shape)
    return buffer[: math.prod(shape)].reshape(shape)


def _power_sum(values: np.ndarray, degree: int, base: np.ndarray | None = None) -> float:
    """sum of values ** degree (degree >= 1, so zeros add nothing) for a C-contiguous float64 array: values^(degree
    - 1) by repeated multiplication into the flat buffer ``base`` (a new array without it), then one BLAS dot product
    with the values (two passes fewer than raising to the power and summing)."""
    if degree < 1:
        raise GankitError(f"the KID kernel sums take a polynomial degree of at least 1, got {degree}")
    if degree == 1:
        return float(values.sum())
    power = values
    if degree > 2:
        power = np.multiply(values, values, out=front(base, values.shape))
        for _ in range(degree - 3):
            power *= values
    return float(np.dot(power.ravel(), values.ravel()))


def _affine(dot: np.ndarray, dim: int, kernel: PolynomialKernel, workspace: Workspace | None) -> np.ndarray:
    """gamma dot + coef0 of a numpy inner-product matrix in float64, in the workspace's ``values`` if given."""
    gamma = kernel.gamma if kernel.gamma is not None else 1.0 / dim
    values = front(workspace.values if workspace else None, dot.shape)
    np.multiply(dot, gamma, out=values, dtype=np.float64)
    values += kernel.coef0
    return values


def kernel_values(dot: torch.Tensor, dim: int, kernel: PolynomialKernel = KID_KERNEL) -> torch.Tensor:
    """(gamma dot + coef0)^degree of an inner-product matrix as a new float64 tensor (Binkowski et al. 2018, Sec. 4:
    the KID kernel with gamma = 1 / dim); the caller's matrix stays intact, even a float64 one. (Numpy matrices, on
    the CPU, are summed without keeping the values: :func:`kernel_sum`.)"""
    gamma = kernel.gamma if kernel.gamma is not None else 1.0 / dim
    return dot.to(torch.float64, copy=True).mul_(gamma).add_(kernel.coef0).pow_(kernel.degree)


def kernel_sum(
    dot: Array, dim: int, kernel: PolynomialKernel = KID_KERNEL, workspace: Workspace | None = None
) -> float:
    """sum of (gamma dot + coef0)^degree over all entries of an inner-product matrix, in float64 (a numpy matrix:
    in the workspace's buffers if given)."""
    if isinstance(dot, np.ndarray):
        return _power_sum(_affine(dot, dim, kernel, workspace), kernel.degree, workspace.base if workspace else None)
    return float(kernel_values(dot, dim, kernel).sum())


def row_chunks(dot: Array, chunk: int = ROW_CHUNK) -> list[Array]:
    """The rows of ``dot`` in views of ``chunk`` rows: float64 temporaries of one chunk stay in cache."""
    return [dot[start : start + chunk] for start in range(0, len(dot), chunk)]


def strict_lower_kernel_sum(
    dot: Array,
    dim: int,
    kernel: PolynomialKernel = KID_KERNEL,
    chunk: int = ROW_CHUNK,
    workspace: Workspace | None = None,
) -> float:
    """sum over i > j of the kernel of a square inner-product matrix whose upper triangle may be unset: rows in
    chunks, each the rectangle left of its diagonal block plus that block, evaluated whole and set to zero on and
    above its diagonal before the sum (so nothing there reaches it), about half the entries in all. A workspace's
    buffers must have been made for this ``chunk`` (or a larger one)."""
    total = 0.0
    for index, rows in enumerate(row_chunks(dot, chunk)):
        start, size = index * chunk, len(rows)
        if start:
            total += kernel_sum(rows[:, :start], dim, kernel, workspace)
        block = rows[:, start : start + size]
        if isinstance(block, torch.Tensor):
            total += float(kernel_values(block, dim, kernel).tril_(-1).sum())
        else:
            values = _affine(block, dim, kernel, workspace)
            upper = workspace.upper[:size, :size] if workspace else ~np.tri(size, k=-1, dtype=bool)
            np.copyto(values, 0.0, where=upper)  # 0 to any power >= 1 adds nothing
            total += _power_sum(values, kernel.degree, workspace.base if workspace else None)
    return total


def subset_mmd2(X: Array, Y: Array, kernel: PolynomialKernel = KID_KERNEL, workspace: Workspace | None = None) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with the KID kernel between two samples (float32 or float64
    numpy arrays or tensors of one kind): the products X X^T and Y Y^T (numpy: one ``syrk`` each) and Y X^T,
    each within-sample sum twice its strict lower triangle, kernel values and sums in float64. With a
    ``workspace`` (numpy arrays) the products and kernel values go to its buffers, one product at a time."""
    m, n, dim = len(X), len(Y), X.shape[1]

    def product(A: Array, B: Array) -> Array:
        if workspace is None:
            return A @ B.T
        return np.matmul(A, B.T, out=front(workspace.dot, (len(A), len(B))))

    chunk = workspace.chunk if workspace else ROW_CHUNK
    within_x = 2 * strict_lower_kernel_sum(product(X, X), dim, kernel, chunk, workspace)
    within_y = 2 * strict_lower_kernel_sum(product(Y, Y), dim, kernel, chunk, workspace)
    cross = sum(kernel_sum(rows, dim, kernel, workspace) for rows in row_chunks(product(Y, X), chunk))
    return within_x / (m * (m - 1)) + within_y / (n * (n - 1)) - 2 * cross / (m * n)


def blas_threads() -> int:
    """The threads of the BLAS that numpy calls (the largest count of the BLAS libraries loaded), at least 1."""
    return max([info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"] or [1])


def subset_indices(
    rng: np.random.RandomState, n1: int, n2: int, subset_size: int, subsets: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The index pairs of the subsets, drawn without replacement in torch-fidelity's order (first set, then second,
    per subset)."""
    for _ in range(subsets):
        yield rng.choice(n1, subset_size, replace=False), rng.choice(n2, subset_size, replace=False)


def subset_estimates_numpy(
    f1: np.ndarray, f2: np.ndarray, subsets: int, subset_size: int, rng: np.random.RandomState
) -> np.ndarray:
    """:func:`subset_mmd2` of ``subsets`` pairs of subsets of two numpy feature sets, drawn from ``rng`` in
    torch-fidelity's order: the calling thread draws the indices and hands each subset to a pool with one worker per
    BLAS thread, each running a single-threaded BLAS (the drawing overlaps the products); the estimates come back in
    subset order."""
    workers = min(blas_threads(), subsets)  # counted before the limit below
    local = threading.local()

    def estimate(index1: np.ndarray, index2: np.ndarray) -> float:
        if not hasattr(local, "workspace"):
            local.workspace = Workspace.for_subsets(subset_size, subset_size, f1.shape[1], f1.dtype)
        X, Y = local.workspace.X, local.workspace.Y
        np.take(f1, index1, axis=0, out=X, mode="clip")  # valid indices: "clip" gathers in place, "raise" buffers
        np.take(f2, index2, axis=0, out=Y, mode="clip")
        return subset_mmd2(X, Y, workspace=local.workspace)

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        indices = subset_indices(rng, len(f1), len(f2), subset_size, subsets)
        estimates = [pool.submit(estimate, index1, index2) for index1, index2 in indices]
        try:
            return np.array([estimate.result() for estimate in estimates])  # result() re-raises a worker's error
        except BaseException:  # an error or Ctrl-C: the subsets not yet started are dropped, not computed
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def kid(
    features1: torch.Tensor, features2: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> dict[str, float]:
    """``kid_mean``, ``kid_std`` (population std over subsets, as torch-fidelity) and a 95% interval for the mean
    from the subset spread (``kid_ci_low``, ``kid_ci_high``: mean +- 1.96 std / sqrt(subsets))."""
    check_features(features1, "the first feature set")
    check_features(features2, "the second feature set")
    if features1.shape[1] != features2.shape[1]:
        raise GankitError(
            f"KID of feature sets of different dimensions ({features1.shape[1]} and {features2.shape[1]}); "
            "extract both sets with the same feature extractor"
        )
    n1, n2 = len(features1), len(features2)
    check_subset_size(n1, n2, subset_size)
    rng = np.random.RandomState(seed)
    f1, f2 = (f.detach().float().contiguous() for f in (features1, features2))
    if CPU_IN_NUMPY and f1.device.type == "cpu" and f2.device.type == "cpu":  # numpy arrays sharing the memory
        values = subset_estimates_numpy(f1.numpy(), f2.numpy(), subsets, subset_size, rng)
    else:
        values = np.array(
            [
                subset_mmd2(f1[torch.from_numpy(a).to(f1.device)], f2[torch.from_numpy(b).to(f2.device)])
                for a, b in subset_indices(rng, n1, n2, subset_size, subsets)
            ]
        )
    mean, std = float(values.mean()), float(values.std())
    half = 1.96 * std / math.sqrt(subsets)
    return {"kid_mean": mean, "kid_std": std, "kid_ci_low": mean - half, "kid_ci_high": mean + half}
