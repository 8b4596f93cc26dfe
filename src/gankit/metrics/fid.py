"""Frechet Inception Distance (Heusel et al., NeurIPS 2017, eq. 6) from streaming moments.

FID = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)).

Moments. Each batch is centred on a shift c (the mean of the first batch's first 1,024 rows, rounded to
the features' precision, so x - c is rounded once), and the sums sum x, sum (x - c) and
sum (x - c)(x - c)^T are accumulated in float64, so memory does not grow with the number of samples and
batches can be added as they are computed; mu = sum x / n and
S = (sum (x - c)(x - c)^T - n m m^T) / (n - 1) with m = sum (x - c) / n. The products of each block of
:data:`BLOCK_ROWS` rows are one BLAS symmetric rank-k update (``syrk``, one triangle: half the
multiply-adds of a general product; :mod:`gankit.mmd.products`) in the precision of the features:
float32 features (what every extractor produces) give float32 products of the centred block, rounded
once per block into the float64 sums; float64 features give float64 products. The work is done in
numpy, whose float64 row reductions are an order of magnitude faster than PyTorch's dtype-converting
sums. Precision kept with float32 features: every entry of S within about 2e-7 of max |S| (measured
1.7e-7 on 30,000 x 2048 Inception-like features against ``numpy.cov`` in float64), FID within 1e-9
relative of the float64 value (``benchmarks/metrics.py``); the tests check 1e-6 of max |S| and FID to
1e-7 against scipy's ``sqrtm`` formula in float64. The mean is the float64 mean.

Square-root trace. The eigenvalues of S_1 S_2 are those of the symmetric positive semi-definite matrix
L^T S_2 L, where S_1 = L L^T is the Cholesky factorisation (L^T S_2 L = L^-1 (S_1 S_2) L), so
tr((S_1 S_2)^(1/2)) is the sum of the square roots of the eigenvalues of one symmetric matrix (one
``eigvalsh``, no eigenvectors), all in float64. Where neither covariance is positive definite (fewer
samples than dimensions, constant features) the similar matrix S_1^(1/2) S_2 S_1^(1/2) is used instead,
with S_1^(1/2) from a symmetric eigendecomposition. Rounding leaves tiny negative eigenvalues, which are
clamped to 0. No ``scipy.linalg.sqrtm``, whose failures on singular products are a known source of
wrong FIDs. Statistics files hold ``mu`` and ``sigma`` as pytorch-fid writes them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.mmd.products import outer

BLOCK_ROWS = 4096
SHIFT_ROWS = 1024


def check_shape(features: torch.Tensor, name: str = "features", dim: int | None = None) -> None:
    """The one-line error for a feature matrix that is not (N, d) (or not (N, ``dim``))."""
    if features.ndim != 2 or (dim is not None and features.shape[1] != dim):
        wanted = f"(N, {dim})" if dim is not None else "(N, d)"
        raise GankitError(f"expected {name} of shape {wanted}, got {tuple(features.shape)}")


def all_finite(features: torch.Tensor) -> bool:
    """Whether a tensor holds no NaN or Inf (numpy's test on the CPU, an order of magnitude faster there)."""
    if features.device.type == "cpu" and features.dtype in (torch.float32, torch.float64):
        return bool(np.isfinite(features.detach().numpy()).all())
    return bool(torch.isfinite(features).all())


def check_features(features: torch.Tensor, name: str = "features", dim: int | None = None) -> None:
    """The one-line errors for feature matrices a metric cannot use: not (N, d), NaN or Inf values."""
    check_shape(features, name, dim)
    if not all_finite(features):
        raise GankitError(f"{name}: NaN or Inf values; check the generator's output and the feature extractor")


class StreamingMoments:
    """Running float64 sums for the mean and covariance of feature vectors (module docstring)."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.dim = dim
        self.shift: np.ndarray | None = None
        self.total = np.zeros(dim)
        self.centred_total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def update(self, features: torch.Tensor) -> None:
        """Add a batch (N, dim) of features."""
        check_features(features, dim=self.dim)
        f = features.detach().cpu()
        array = np.ascontiguousarray(f.numpy() if f.dtype in (torch.float32, torch.float64) else f.float().numpy())
        if self.shift is None:
            self.shift = array[:SHIFT_ROWS].mean(0, dtype=np.float64).astype(array.dtype)
        centred = np.empty((min(len(array), BLOCK_ROWS), self.dim), dtype=array.dtype)
        for start in range(0, len(array), BLOCK_ROWS):
            block = array[start : start + BLOCK_ROWS]
            part = np.subtract(block, self.shift, out=centred[: len(block)])
            # numpy reduces along axis 0 row by row into a float64 vector (much faster than torch's
            # dtype-converting sum) and computes part.T @ part with one syrk
            self.total += np.add.reduce(block, axis=0, dtype=np.float64)
            self.centred_total += np.add.reduce(part, axis=0, dtype=np.float64)
            self.outer += outer(part)
        self.n += len(array)

    def mean_and_covariance(self) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and the unbiased covariance (N - 1 denominator, as numpy.cov and the reference code)."""
        if self.n < 2:
            raise GankitError(f"FID needs at least 2 samples per set, got {self.n}; generate or load more (--n)")
        offset = self.centred_total / self.n
        sigma = (self.outer - self.n * np.outer(offset, offset)) / (self.n - 1)
        if not np.isfinite(sigma).all():
            raise GankitError("features too large for their float32 covariance (it overflows); rescale them")
        return torch.from_numpy(self.total / self.n), torch.from_numpy(sigma)


def statistics(features: torch.Tensor, batch_size: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """mu and sigma of a (N, d) feature matrix, through :class:`StreamingMoments`."""
    check_shape(features)
    moments = StreamingMoments(features.shape[1])
    for chunk in features.split(batch_size):
        moments.update(chunk)
    mu, sigma = moments.mean_and_covariance()
    if moments.n <= features.shape[1]:
        warnings.warn(
            f"FID from {moments.n} samples of {features.shape[1]}-d features: the covariance is rank-deficient "
            "and the estimate strongly biased upwards; use more samples than feature dimensions",
            stacklevel=2,
        )
    return mu, sigma


def sqrt_trace(sigma1: torch.Tensor, sigma2: torch.Tensor) -> float:
    """tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(L^T S2 L)) with S1 = L L^T, or through S1^(1/2) when
    neither matrix is positive definite (module docstring)."""
    for a, b in ((sigma1, sigma2), (sigma2, sigma1)):
        factor, info = torch.linalg.cholesky_ex(a)
        if int(info) == 0:
            similar = factor.T @ b @ factor
            break
    else:
        values, vectors = torch.linalg.eigh(sigma1)
        root = (vectors * values.clamp_min(0).sqrt()) @ vectors.T
        similar = root @ sigma2 @ root
    return float(torch.linalg.eigvalsh(similar).clamp_min(0).sqrt().sum())


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 sum_i sqrt(lambda_i(S1 S2)), all in float64."""
    mu1, mu2, sigma1, sigma2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise GankitError(
            f"FID statistics do not match: mu {tuple(mu1.shape)} / {tuple(mu2.shape)}, "
            f"sigma {tuple(sigma1.shape)} / {tuple(sigma2.shape)}"
        )
    for name, t in (("mu", mu1), ("mu", mu2), ("sigma", sigma1), ("sigma", sigma2)):
        if not bool(torch.isfinite(t).all()):
            raise GankitError(f"FID statistics: {name} contains NaN or Inf; recompute it from finite features")
    value = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * sqrt_trace(sigma1, sigma2)
    return float(value.clamp_min(0))


def fid(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """FID between two (N, d) feature sets."""
    check_shape(features1, "the first feature set")
    check_shape(features2, "the second feature set")
    if features1.shape[1] != features2.shape[1]:
        raise GankitError(
            f"FID of feature sets of different dimensions ({features1.shape[1]} and {features2.shape[1]}); "
            "extract both sets with the same feature extractor"
        )
    return frechet_distance(*statistics(features1), *statistics(features2))


def load_statistics(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``mu`` and ``sigma`` from an .npz (the pytorch-fid / torch-fidelity statistics format)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return torch.from_numpy(data["mu"]).double(), torch.from_numpy(data["sigma"]).double()
    except (OSError, KeyError, ValueError) as exc:
        raise GankitError(f"{path}: not an FID statistics file with arrays 'mu' and 'sigma' ({exc})") from exc


def save_statistics(path: str | Path, mu: torch.Tensor, sigma: torch.Tensor) -> None:
    """Write ``mu`` and ``sigma`` to an .npz readable by pytorch-fid."""
    np.savez(path, mu=mu.numpy(), sigma=sigma.numpy())
