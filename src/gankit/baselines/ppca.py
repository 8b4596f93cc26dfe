"""Probabilistic PCA (Tipping & Bishop, JRSS-B 1999): a Gaussian whose covariance is W W^T + sigma^2 I.

Maximum likelihood in closed form (Tipping & Bishop 1999, Eqs. 7-8, with the rotation R = I): with
U_k the top-k eigenvectors of the 1/N sample covariance S and L_k their eigenvalues,

    sigma^2 = (sum of the D - k discarded eigenvalues) / (D - k),    W = U_k (L_k - sigma^2 I)^{1/2}.

The eigenvectors come from the SVD of the centred data, so D may exceed N (Olivetti: D = 4096,
N = 400). As for the full Gaussian, uint8 images add the dequantisation variance r to S (every
eigenvalue, hence sigma^2, grows by r; W is unchanged); float data add ``ridge`` (default 1e-6 times
the average variance). The density is evaluated through the eigen-form
C^{-1} = U_k L_k^{-1} U_k^T + (I - U_k U_k^T) / sigma^2 and log|C| = sum log L_k + (D - k) log sigma^2,
never forming the D x D matrix; only imputation builds it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gankit.baselines.base import default_ridge
from gankit.baselines.gaussian import LOG_2PI, GaussianFamily
from gankit.errors import GankitError


class PPCA(GaussianFamily):
    """Probabilistic PCA with ``components`` = k latent dimensions, fitted in closed form (module text)."""

    kind = "ppca"

    def __init__(self, components: int, ridge: float | None = None) -> None:
        super().__init__()
        if not isinstance(components, int) or components < 1:
            raise GankitError(f"ppca: components must be a positive integer, got {components!r}")
        self.components = components
        self.ridge = ridge

    def _fit(self, vectors: torch.Tensor) -> None:
        n, dim = vectors.shape
        k = self.components
        if k >= dim or k > n:
            raise GankitError(f"ppca: components={k} must be below the dimension {dim} and at most the {n} samples")
        self.mean = vectors.mean(0)
        centred = vectors - self.mean
        _, singular, right = torch.linalg.svd(centred, full_matrices=False)
        eigenvalues = singular**2 / n
        total = float((centred**2).sum()) / n
        ridge = default_ridge(self.ridge, total, dim, self.pixels)
        discarded = max(total - float(eigenvalues[:k].sum()), 0.0)
        noise = discarded / (dim - k) + ridge
        if not noise > 1e-12 * total / dim:
            raise GankitError(f"ppca: the data have rank <= {k}, so sigma^2 = 0; use fewer components or a ridge > 0")
        self.basis = right[:k].T.contiguous()
        self.eigenvalues = eigenvalues[:k] + ridge
        self.noise_variance = noise
        self.fitted_ridge = ridge

    @property
    def weight(self) -> torch.Tensor:
        """The (D, k) factor loading W = U_k (L_k - sigma^2 I)^{1/2} of Tipping & Bishop's Eq. 7."""
        return self.basis * (self.eigenvalues - self.noise_variance).clamp_min(0).sqrt()

    def covariance(self) -> torch.Tensor:
        """The (D, D) matrix W W^T + sigma^2 I (built only for imputation)."""
        weight = self.weight
        return weight @ weight.T + self.noise_variance * torch.eye(len(self.mean), dtype=torch.float64)

    def precision_trace(self) -> float:
        """tr(C^{-1}) = sum 1 / L_k + (D - k) / sigma^2."""
        dim, k = len(self.mean), self.components
        return float((1 / self.eigenvalues).sum()) + (dim - k) / self.noise_variance

    def _log_likelihood(self, vectors: torch.Tensor) -> torch.Tensor:
        dim, k = vectors.shape[1], self.components
        diff = vectors - self.mean
        projected = diff @ self.basis
        inside = (projected**2 / self.eigenvalues).sum(1)
        outside = ((diff - projected @ self.basis.T) ** 2).sum(1) / self.noise_variance
        log_det = torch.log(self.eigenvalues).sum() + (dim - k) * math.log(self.noise_variance)
        return -0.5 * (inside + outside + log_det + dim * LOG_2PI)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        latent = torch.randn(n, self.components, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, len(self.mean), generator=generator, dtype=torch.float64)
        return self.mean + latent @ self.weight.T + self.noise_variance**0.5 * noise

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (stored in the file header)."""
        return {"components": self.components, "ridge": self.ridge}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted parameters, float64, as stored in the file."""
        return {
            "mean": self.mean,
            "basis": self.basis,
            "eigenvalues": self.eigenvalues,
            "noise_variance": torch.tensor([self.noise_variance], dtype=torch.float64),
            "ridge": torch.tensor([self.fitted_ridge], dtype=torch.float64),
        }

    def _restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.mean, self.basis = tensors["mean"].double(), tensors["basis"].double()
        self.eigenvalues = tensors["eigenvalues"].double()
        self.noise_variance = float(tensors["noise_variance"][0])
        self.fitted_ridge = float(tensors["ridge"][0])
