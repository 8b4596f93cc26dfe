"""Kernel Inception Distance (Binkowski et al., ICLR 2018, Sec. 4 and Appendix D).

KID is the unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
``subsets`` random subsets of ``subset_size`` samples from each set, drawn without replacement. The
subsets are drawn with ``numpy.random.RandomState(seed).choice`` in the same order as torch-fidelity
(first set, then second, per subset), so with the same seed and features both give the same number;
the kernel and estimator are :mod:`gankit.mmd`'s. Inner products are float32 matrix products (the
features are float32; torch-fidelity does the same), the kernel values and their sums float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import PolynomialKernel

KID_KERNEL = PolynomialKernel(degree=3, gamma=None, coef0=1.0, dot_dtype=torch.float32)


def check_subset_size(n1: int, n2: int, subset_size: int) -> None:
    """The one-line errors for samples too small for KID subsets of ``subset_size``."""
    if min(n1, n2) < 2 or subset_size < 2:
        raise GankitError(f"KID needs at least 2 samples per set and per subset; got {n1}, {n2}, subset {subset_size}")
    if min(n1, n2) < subset_size:
        raise GankitError(
            f"KID subset size {subset_size} is larger than the sample ({n1} and {n2}); "
            "lower --kid-subset-size or provide more samples"
        )


def kid(
    features1: torch.Tensor, features2: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> dict[str, float]:
    """``kid_mean``, ``kid_std`` (population std over subsets, as torch-fidelity) and a 95% interval for the mean
    from the subset spread (``kid_ci_low``, ``kid_ci_high``: mean +- 1.96 std / sqrt(subsets))."""
    n1, n2 = len(features1), len(features2)
    check_subset_size(n1, n2, subset_size)
    rng = np.random.RandomState(seed)
    f1, f2 = features1.float(), features2.float()
    values = np.empty(subsets)
    for i in range(subsets):
        index1 = torch.from_numpy(rng.choice(n1, subset_size, replace=False))
        index2 = torch.from_numpy(rng.choice(n2, subset_size, replace=False))
        values[i] = float(mmd2(f1[index1], f2[index2], KID_KERNEL))
    mean, std = float(values.mean()), float(values.std())
    half = 1.96 * std / math.sqrt(subsets)
    return {"kid_mean": mean, "kid_std": std, "kid_ci_low": mean - half, "kid_ci_high": mean + half}
