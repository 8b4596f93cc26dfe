"""Kernel Inception Distance (Binkowski et al., ICLR 2018, Sec. 4 and Appendix D).

KID is the unbiased MMD^2 (Gretton et al., JMLR 2012, eq. 3) with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over ``subsets`` random subsets of ``subset_size`` samples from each
set, drawn without replacement. The subsets are drawn with ``numpy.random.RandomState(seed).choice`` in
the same order as torch-fidelity (first set, then second, per subset), so with the same seed and
features both give the same number up to rounding.

Arithmetic: inner products are float32 matrix products of the float32 features (as in torch-fidelity);
the kernel values and their sums are float64 (torch-fidelity keeps them in float32, which moves its KID
by 2e-6 to 3e-5 relative on 2048-d features, gankit's by under 1e-7; ``benchmarks/metrics.py`` prints
both against a float64 evaluation). Per subset the two samples are stacked into Z (2m, d) and all three
Gram matrices come from one product Z Z^T, which on the CPU is one BLAS ``syrk`` (:mod:`gankit.mmd.products`):
2 m^2 d multiply-adds, the same as torch-fidelity's numpy
products (numpy also uses ``syrk`` for X X^T) and two thirds of three general products. The triangle is not
mirrored, and the kernel is evaluated on the strict lower triangles of the two within-sample blocks and on the
cross block: about half of the (2m)^2 entries, in row chunks.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.fid import check_features
from gankit.mmd.kernels import PolynomialKernel
from gankit.mmd.products import lower_gram

KID_KERNEL = PolynomialKernel(degree=3, gamma=None, coef0=1.0, dot_dtype=torch.float32)
# For a tensor Z given to stacked_mmd2 (subset_mmd2's callers): below this many multiply-adds (m^2 d) its product
# stays in PyTorch, since handing tiny products to scipy's BLAS threads costs more than it saves.
BLAS_MIN_WORK = 2**26
# On the CPU, kid() gathers and multiplies in numpy and scipy's BLAS whatever the size: with PyTorch's OpenMP threads
# between the BLAS calls the 2-thread loop ran at 0.81x torch-fidelity's speed, without them at 0.87-0.94x. Tensors
# on other devices take the PyTorch path (so do tests that set this to False).
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


def _integer_power(values: np.ndarray, degree: int) -> np.ndarray:
    """values ** degree in place by repeated multiplication (numpy's ``power`` is 6x slower for degree 3)."""
    if degree < 1:
        return np.power(values, degree, out=values)
    base = values.copy() if degree > 1 else values
    for _ in range(degree - 1):
        values *= base
    return values


def kernel_values(dot: Array, dim: int, kernel: PolynomialKernel = KID_KERNEL) -> Array:
    """(gamma dot + coef0)^degree of an inner-product matrix (a tensor or, on the CPU, a numpy array) as a new
    float64 array of the same kind (Binkowski et al. 2018, Sec. 4: the KID kernel with gamma = 1 / dim); the caller's
    matrix stays intact, even a float64 one."""
    gamma = kernel.gamma if kernel.gamma is not None else 1.0 / dim
    if isinstance(dot, np.ndarray):
        values = dot.astype(np.float64)  # a copy
        values *= gamma
        values += kernel.coef0
        return _integer_power(values, kernel.degree)
    values = dot.to(torch.float64, copy=True)
    return values.mul_(gamma).add_(kernel.coef0).pow_(kernel.degree)


def kernel_sum(dot: Array, dim: int, kernel: PolynomialKernel = KID_KERNEL) -> float:
    """sum of (gamma dot + coef0)^degree over all entries of an inner-product matrix, in float64."""
    return float(kernel_values(dot, dim, kernel).sum())


def row_chunks(dot: Array, chunk: int = ROW_CHUNK) -> list[Array]:
    """The rows of ``dot`` in views of ``chunk`` rows: float64 temporaries of one chunk stay in cache."""
    return [dot[start : start + chunk] for start in range(0, len(dot), chunk)]


def strict_lower_kernel_sum(
    dot: Array, dim: int, kernel: PolynomialKernel = KID_KERNEL, chunk: int = ROW_CHUNK
) -> float:
    """sum over i > j of the kernel of a square inner-product matrix whose upper triangle may be unset: rows in
    chunks, each the rectangle left of its diagonal block plus that block, evaluated whole and masked to its strict
    lower part before the sum (so nothing on or above the diagonal reaches it), about half the entries in all."""
    total = 0.0
    for index, rows in enumerate(row_chunks(dot, chunk)):
        start = index * chunk
        if start:
            total += kernel_sum(rows[:, :start], dim, kernel)
        block = kernel_values(rows[:, start : start + len(rows)], dim, kernel)
        total += float(np.tril(block, -1).sum() if isinstance(block, np.ndarray) else block.tril_(-1).sum())
    return total


def stacked_mmd2(Z: Array, m: int, kernel: PolynomialKernel = KID_KERNEL) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with the KID kernel between the first ``m`` rows of Z and
    the rest, from the lower triangle of the inner products Z Z^T (one ``syrk`` on the CPU, not mirrored): each
    within-sample sum is twice its strict lower triangle, the cross sum is the block below the first sample's.
    A numpy Z (the CPU path of :func:`kid`) stays in numpy and scipy's BLAS, with no PyTorch thread pool between
    the products; a tensor Z is multiplied by PyTorch below :data:`BLAS_MIN_WORK` multiply-adds or off the CPU."""
    n, dim = len(Z) - m, Z.shape[1]
    if isinstance(Z, np.ndarray):
        dot = lower_gram(Z)
    elif Z.device.type == "cpu" and len(Z) ** 2 * dim >= BLAS_MIN_WORK:
        dot = lower_gram(Z.detach().numpy())
    else:
        dot = Z @ Z.T
    within_x = 2 * strict_lower_kernel_sum(dot[:m, :m], dim, kernel)
    within_y = 2 * strict_lower_kernel_sum(dot[m:, m:], dim, kernel)
    cross = sum(kernel_sum(rows, dim, kernel) for rows in row_chunks(dot[m:, :m]))
    return within_x / (m * (m - 1)) + within_y / (n * (n - 1)) - 2 * cross / (m * n)


def subset_mmd2(X: torch.Tensor, Y: torch.Tensor, kernel: PolynomialKernel = KID_KERNEL) -> float:
    """Unbiased MMD^2 between two float32 samples with the KID kernel (:func:`stacked_mmd2`)."""
    return stacked_mmd2(torch.cat([X, Y]).contiguous(), len(X), kernel)


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
    on_cpu = CPU_IN_NUMPY and features1.device.type == "cpu" and features2.device.type == "cpu"
    f1, f2 = (f.detach().float().contiguous() for f in (features1, features2))
    if on_cpu:  # numpy arrays sharing the tensors' memory: the whole loop runs outside PyTorch's thread pool
        f1, f2 = f1.numpy(), f2.numpy()
        stacked = np.empty((2 * subset_size, f1.shape[1]), dtype=np.float32)  # both subsets, gathered in place
    else:
        stacked = f1.new_empty(2 * subset_size, f1.shape[1])
    values = np.empty(subsets)
    for i in range(subsets):
        index1 = rng.choice(n1, subset_size, replace=False)
        index2 = rng.choice(n2, subset_size, replace=False)
        if on_cpu:
            np.take(f1, index1, axis=0, out=stacked[:subset_size])
            np.take(f2, index2, axis=0, out=stacked[subset_size:])
        else:
            torch.index_select(f1, 0, torch.from_numpy(index1).to(f1.device), out=stacked[:subset_size])
            torch.index_select(f2, 0, torch.from_numpy(index2).to(f2.device), out=stacked[subset_size:])
        values[i] = stacked_mmd2(stacked, subset_size)
    mean, std = float(values.mean()), float(values.std())
    half = 1.96 * std / math.sqrt(subsets)
    return {"kid_mean": mean, "kid_std": std, "kid_ci_low": mean - half, "kid_ci_high": mean + half}
