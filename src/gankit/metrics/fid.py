"""Frechet Inception Distance (Heusel et al., NeurIPS 2017, eq. 6) from streaming float64 moments.

FID = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)).

The moments are accumulated as sum x and sum x x^T in float64, so memory does not grow with the number
of samples and batches can be added as they are computed. The trace of the matrix square root is the
sum of the square roots of the eigenvalues of S_1 S_2 (real and non-negative for a product of two
positive semi-definite matrices), computed in float64 as the eigenvalues of the similar symmetric
matrix S_1^(1/2) S_2 S_1^(1/2) (rounding leaves tiny negative ones, which are clamped to 0), without
``scipy.linalg.sqrtm``, whose failures on singular products are a known
source of wrong FIDs. Statistics files hold ``mu`` and ``sigma`` as pytorch-fid writes them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError


class StreamingMoments:
    """Running float64 sums for the mean and covariance of feature vectors."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, features: torch.Tensor) -> None:
        """Add a batch (N, dim) of features."""
        if features.ndim != 2 or features.shape[1] != len(self.total):
            raise GankitError(f"expected features of shape (N, {len(self.total)}), got {tuple(features.shape)}")
        f = features.detach().to("cpu", torch.float64)
        self.n += len(f)
        self.total += f.sum(0)
        self.outer += f.T @ f

    def mean_and_covariance(self) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and the unbiased covariance (N - 1 denominator, as numpy.cov and the reference code)."""
        if self.n < 2:
            raise GankitError(f"FID needs at least 2 samples per set, got {self.n}; generate or load more (--n)")
        mu = self.total / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu, sigma


def statistics(features: torch.Tensor, batch_size: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """mu and sigma of a (N, d) feature matrix, through :class:`StreamingMoments`."""
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


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 sum_i sqrt(lambda_i(S1 S2)), all in float64."""
    mu1, mu2, sigma1, sigma2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise GankitError(
            f"FID statistics do not match: mu {tuple(mu1.shape)} / {tuple(mu2.shape)}, "
            f"sigma {tuple(sigma1.shape)} / {tuple(sigma2.shape)}"
        )
    # S1 S2 is similar to the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same eigenvalues), whose
    # symmetric eigensolver is faster and more stable than the general one.
    values, vectors = torch.linalg.eigh(sigma1)
    root = (vectors * values.clamp_min(0).sqrt()) @ vectors.T
    eigenvalues = torch.linalg.eigvalsh(root @ sigma2 @ root).clamp_min(0)
    value = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum()
    return float(value.clamp_min(0))


def fid(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """FID between two (N, d) feature sets."""
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
