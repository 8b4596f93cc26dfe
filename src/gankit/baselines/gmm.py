"""A mixture of full-covariance Gaussians, fitted by scikit-learn's EM (Dempster, Laird & Rubin 1977).

scikit-learn's ``GaussianMixture`` (k-means initialisation, ``covariance_type="full"``) does the fitting;
its ``reg_covar`` is gankit's ridge (the dequantisation variance for uint8 images, see
:mod:`gankit.baselines.base`). gankit keeps the weights, means and covariances and evaluates everything
else itself: the log-likelihood log sum_k pi_k N(x; mu_k, Sigma_k), sampling, and imputation, where the
conditional of a mixture is the mixture of the components' conditionals (Bishop, PRML 2006, Sec. 2.3.1)
with weights r_k proportional to pi_k N(x_v; mu_k,v, Sigma_k,vv), the components' responsibilities for the
visible entries. bits/dim uses one Monte Carlo draw of the dequantisation noise per image.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnMixture

from gankit.baselines.base import DensityBaseline, default_ridge
from gankit.baselines.gaussian import cholesky, gaussian_conditional, gaussian_log_density, psd_sqrt
from gankit.errors import GankitError


class GaussianMixture(DensityBaseline):
    """K full-covariance Gaussians (module text); ``seed`` fixes scikit-learn's k-means initialisation."""

    kind = "gmm"

    def __init__(self, components: int, ridge: float | None = None, seed: int = 0, max_iter: int = 100) -> None:
        super().__init__()
        if not isinstance(components, int) or components < 1:
            raise GankitError(f"gmm: components must be a positive integer, got {components!r}")
        self.components, self.ridge, self.seed, self.max_iter = components, ridge, seed, max_iter
        self.converged = False
        self._factors: list[torch.Tensor] | None = None

    def _fit(self, vectors: torch.Tensor) -> None:
        if len(vectors) < self.components:
            raise GankitError(f"gmm: {self.components} components need at least as many samples, got {len(vectors)}")
        centred = vectors - vectors.mean(0)
        trace = float((centred**2).sum()) / len(vectors)
        self.fitted_ridge = default_ridge(self.ridge, trace, vectors.shape[1], self.pixels)
        mixture = SklearnMixture(
            n_components=self.components,
            covariance_type="full",
            reg_covar=self.fitted_ridge,
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(vectors.numpy())
        self.sklearn_model = mixture
        self.converged = bool(mixture.converged_)
        self.weights = torch.from_numpy(mixture.weights_).double()
        self.means = torch.from_numpy(mixture.means_).double()
        self.covariances = torch.from_numpy(mixture.covariances_).double()
        self._factors = None

    def factors(self) -> list[torch.Tensor]:
        """Cholesky factors of the component covariances (cached)."""
        if self._factors is None:
            self._factors = [cholesky(c, f"covariance of component {i}") for i, c in enumerate(self.covariances)]
        return self._factors

    def component_log_densities(self, vectors: torch.Tensor) -> torch.Tensor:
        """(N, K): log pi_k + log N(x; mu_k, Sigma_k)."""
        columns = [gaussian_log_density(vectors, m, f) for m, f in zip(self.means, self.factors(), strict=True)]
        return torch.stack(columns, 1) + torch.log(self.weights)

    def _log_likelihood(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.component_log_densities(vectors), 1)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        which = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        out = torch.empty_like(noise)
        for k, factor in enumerate(self.factors()):
            rows = which == k
            out[rows] = self.means[k] + noise[rows] @ factor.T
        return out

    def _impute(self, vectors: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, None, Any]:
        hidden = ~visible
        cond_means, roots, log_r = [], [], []
        for k in range(self.components):
            mean, cov = gaussian_conditional(self.means[k], self.covariances[k], vectors, visible)
            cond_means.append(mean)
            roots.append(psd_sqrt(cov))
            marginal = self.covariances[k][visible][:, visible]
            log_visible = (
                gaussian_log_density(vectors[:, visible], self.means[k][visible], cholesky(marginal))
                if bool(visible.any())
                else torch.zeros(len(vectors), dtype=torch.float64)
            )
            log_r.append(log_visible + torch.log(self.weights[k]))
        responsibilities = torch.softmax(torch.stack(log_r, 1), 1)
        filled = vectors.clone()
        filled[:, hidden] = sum(responsibilities[:, k : k + 1] * cond_means[k] for k in range(self.components))

        def sampler(generator: torch.Generator | None) -> torch.Tensor:
            which = torch.multinomial(responsibilities, 1, generator=generator)[:, 0]
            noise = torch.randn(len(vectors), int(hidden.sum()), generator=generator, dtype=torch.float64)
            out = filled.clone()
            for k in range(self.components):
                rows = which == k
                if bool(rows.any()):
                    out[rows.nonzero()[:, 0][:, None], hidden.nonzero()[:, 0]] = (
                        cond_means[k][rows] + noise[rows] @ roots[k].T
                    )
            return out

        return filled, None, sampler

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (stored in the file header)."""
        return {"components": self.components, "ridge": self.ridge, "seed": self.seed, "max_iter": self.max_iter}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted parameters, float64, as stored in the file."""
        return {
            "weights": self.weights,
            "means": self.means,
            "covariances": self.covariances,
            "ridge": torch.tensor([self.fitted_ridge], dtype=torch.float64),
            "converged": torch.tensor([self.converged]),
        }

    def _restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.weights, self.means = tensors["weights"].double(), tensors["means"].double()
        self.covariances = tensors["covariances"].double()
        self.fitted_ridge, self.converged = float(tensors["ridge"][0]), bool(tensors["converged"][0])
        self._factors = None
