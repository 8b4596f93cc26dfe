"""A Gaussian with full covariance: the maximum-likelihood density model, and its closed-form imputation.

Fit (maximum likelihood): mu = mean of the data, Sigma = S + r I with S the 1/N sample covariance and r
the ridge of :func:`gankit.baselines.base.default_ridge`. For uint8 images r is the dequantisation
variance 1 / (12 * 127.5^2), which makes (mu, Sigma) the exact maximiser of the expected log-likelihood of
the uniformly dequantised images; for float data it is 1e-6 times the average variance unless given.

Conditioning (e.g. Bishop, PRML 2006, Sec. 2.3.1, Eqs. 2.81-2.82): with the entries split into visible v
and hidden h,

    mu_{h|v}    = mu_h + Sigma_hv Sigma_vv^{-1} (x_v - mu_v)
    Sigma_{h|v} = Sigma_hh - Sigma_hv Sigma_vv^{-1} Sigma_vh      (the Schur complement of Sigma_vv).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gankit.baselines.base import DEQUANTISATION_VARIANCE, DensityBaseline, default_ridge
from gankit.errors import GankitError

LOG_2PI = math.log(2 * math.pi)


def cholesky(matrix: torch.Tensor, what: str = "covariance") -> torch.Tensor:
    """Lower Cholesky factor of a symmetric positive-definite matrix, or a one-line error naming the fix."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) != 0:
        raise GankitError(f"the {what} is not positive definite; fit with a larger ridge (e.g. ridge=1e-4)")
    return factor


def psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """A square root B (B B^T = matrix) of a symmetric positive semi-definite matrix: Cholesky, else eigh
    with negative rounding-error eigenvalues set to zero."""
    if matrix.numel() == 0:
        return matrix
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        return factor
    values, vectors = torch.linalg.eigh(matrix)
    return vectors * values.clamp_min(0).sqrt()


def gaussian_log_density(vectors: torch.Tensor, mean: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, L L^T) per row of ``vectors`` (N, D), given the Cholesky factor L."""
    diff = (vectors - mean).T
    solved = torch.linalg.solve_triangular(factor, diff, upper=False)
    mahalanobis = (solved**2).sum(0)
    log_det = 2 * torch.log(torch.diagonal(factor)).sum()
    return -0.5 * (mahalanobis + log_det + vectors.shape[1] * LOG_2PI)


def gaussian_conditional(
    mean: torch.Tensor, covariance: torch.Tensor, values: torch.Tensor, visible: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional mean (N, h) and covariance (h, h) of the hidden entries of N(mean, covariance) given the
    visible entries of each row of ``values`` (N, D); ``visible`` is a (D,) bool mask (Schur complement)."""
    hidden = ~visible
    mean_h, mean_v = mean[hidden], mean[visible]
    cov_hh = covariance[hidden][:, hidden]
    if not bool(visible.any()):
        return mean_h.expand(len(values), -1).clone(), cov_hh
    cov_vv = covariance[visible][:, visible]
    cov_vh = covariance[visible][:, hidden]
    gain = torch.cholesky_solve(cov_vh, cholesky(cov_vv, "covariance of the visible entries"))
    cond_mean = mean_h + (values[:, visible] - mean_v) @ gain
    cond_cov = cov_hh - cov_vh.T @ gain
    return cond_mean, 0.5 * (cond_cov + cond_cov.T)


class GaussianFamily(DensityBaseline):
    """Shared by the Gaussian models (full covariance, PPCA): imputation by conditioning, exact bits/dim."""

    mean: torch.Tensor

    def covariance(self) -> torch.Tensor:
        """The (D, D) covariance matrix."""
        raise NotImplementedError

    def precision_trace(self) -> float:
        """tr(Sigma^{-1}), for the exact expectation over the dequantisation noise."""
        raise NotImplementedError

    def _expected_dequantised_nll(self, vectors: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # E_u[(d + e)^T P (d + e)] = d^T P d + tr(P) Var(e) for zero-mean noise e of variance 1/(12 * 127.5^2)
        return -self._log_likelihood(vectors) + 0.5 * DEQUANTISATION_VARIANCE * self.precision_trace()

    def _impute(self, vectors: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        hidden = ~visible
        cond_mean, cond_cov = gaussian_conditional(self.mean, self.covariance(), vectors, visible)
        filled = vectors.clone()
        filled[:, hidden] = cond_mean
        root = psd_sqrt(cond_cov)

        def sampler(generator: torch.Generator | None) -> torch.Tensor:
            noise = torch.randn(len(vectors), root.shape[0], generator=generator, dtype=torch.float64)
            out = filled.clone()
            out[:, hidden] = cond_mean + noise @ root.T
            return out

        return filled, cond_cov, sampler


class Gaussian(GaussianFamily):
    """Full-covariance Gaussian N(mu, S + r I) fitted by maximum likelihood (module text)."""

    kind = "gaussian"

    def __init__(self, ridge: float | None = None) -> None:
        super().__init__()
        self.ridge = ridge
        self.fitted_ridge: float | None = None
        self._factor: torch.Tensor | None = None
        self._precision_trace: float | None = None

    @classmethod
    def from_moments(cls, mean: torch.Tensor, covariance: torch.Tensor) -> Gaussian:
        """A Gaussian over (D,) vectors with the given mean and covariance (no fitting)."""
        model = cls(ridge=0.0)
        model.mean, model._covariance = mean.double().clone(), covariance.double().clone()
        model.shape, model.fitted_ridge = (len(mean),), 0.0
        return model

    def _fit(self, vectors: torch.Tensor) -> None:
        self.mean = vectors.mean(0)
        centred = vectors - self.mean
        sample_cov = centred.T @ centred / len(vectors)
        self.fitted_ridge = default_ridge(self.ridge, float(sample_cov.trace()), vectors.shape[1], self.pixels)
        self._covariance = sample_cov + self.fitted_ridge * torch.eye(vectors.shape[1], dtype=torch.float64)
        self._factor, self._precision_trace = cholesky(self._covariance), None

    def covariance(self) -> torch.Tensor:
        """The fitted (D, D) covariance S + r I."""
        return self._covariance

    def factor(self) -> torch.Tensor:
        """Cholesky factor of the covariance (cached)."""
        if self._factor is None:
            self._factor = cholesky(self._covariance)
        return self._factor

    def precision_trace(self) -> float:
        """tr(Sigma^{-1}) = ||L^{-1}||_F^2 from the Cholesky factor (cached)."""
        if self._precision_trace is None:
            identity = torch.eye(len(self.mean), dtype=torch.float64)
            inverse_factor = torch.linalg.solve_triangular(self.factor(), identity, upper=False)
            self._precision_trace = float((inverse_factor**2).sum())
        return self._precision_trace

    def _log_likelihood(self, vectors: torch.Tensor) -> torch.Tensor:
        return gaussian_log_density(vectors, self.mean, self.factor())

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        noise = torch.randn(n, len(self.mean), generator=generator, dtype=torch.float64)
        return self.mean + noise @ self.factor().T

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (stored in the file header)."""
        return {"ridge": self.ridge}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted parameters, float64, as stored in the file."""
        return {
            "mean": self.mean,
            "covariance": self._covariance,
            "ridge": torch.tensor([self.fitted_ridge], dtype=torch.float64),
        }

    def _restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.mean, self._covariance = tensors["mean"].double(), tensors["covariance"].double()
        self.fitted_ridge, self._factor, self._precision_trace = float(tensors["ridge"][0]), None, None
