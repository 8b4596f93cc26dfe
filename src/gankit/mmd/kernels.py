"""Kernels on batches of vectors, k(X, Y) -> Gram matrix (n, m).

- Gaussian RBF mixture: sum_s exp(-||x - y||^2 / (2 s^2)) (Gretton et al., JMLR 2012; Li et al. 2015 and
  Dziugaite et al. 2015 use mixtures for GMMNs).
- Rational quadratic mixture: sum_a (1 + ||x - y||^2 / (2 a))^(-a), alphas {0.2, 0.5, 1, 2, 5}
  (Binkowski et al., ICLR 2018, "Demystifying MMD GANs", Sec. 5).
- Polynomial: (gamma x.y + coef0)^degree; the KID kernel is degree 3, gamma 1/d, coef0 1 (Binkowski et
  al. 2018, Sec. 4 and Appendix D).
- Linear: x.y, for which the biased MMD^2 is ||mean(X) - mean(Y)||^2.
- Distance kernel (Sejdinovic et al., Annals of Statistics 2013): (||x|| + ||y|| - ||x - y||) / 2, whose
  biased MMD^2 is half the squared energy distance (Szekely & Rizzo 2004).

Bandwidths for the RBF can come from the median heuristic (Gretton et al. 2012, Sec. 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gankit.errors import GankitError


def squared_distances(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """||x_i - y_j||^2 for all pairs, through ||x||^2 + ||y||^2 - 2 x.y (one matmul), clamped at 0."""
    xx = X.pow(2).sum(1, keepdim=True)
    yy = Y.pow(2).sum(1, keepdim=True)
    return (xx + yy.T - 2 * X @ Y.T).clamp_min_(0)


def median_heuristic(X: torch.Tensor, Y: torch.Tensor | None = None, max_points: int = 2000) -> float:
    """Median of the pairwise distances ||z_i - z_j|| (i < j) of the pooled sample, on at most ``max_points``
    points (the first ones; pass shuffled data) (Gretton et al. 2012, Sec. 8)."""
    Z = X if Y is None else torch.cat([X, Y])
    Z = Z[:max_points].double()
    d2 = squared_distances(Z, Z)
    upper = d2[torch.triu_indices(len(Z), len(Z), offset=1, device=Z.device).unbind()]
    return float(upper.median().sqrt())


class RadialKernel:
    """A kernel k(x, y) = f(||x - y||^2); subclasses define f (``of_squared_distance``) and its constants."""

    def __call__(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return self.of_squared_distance(squared_distances(X, Y))

    def paired(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """k(a_i, b_i) for matching rows, from direct differences (exact at a = b)."""
        return self.of_squared_distance((A - B).pow(2).sum(1))

    def of_squared_distance(self, d2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def diagonal(self) -> float:
        """k(a, a) = f(0)."""
        return float(self.of_squared_distance(torch.zeros(())))

    def curvature(self) -> float:
        """c_k = sum_i d/da_i d/db_i k(a, b) at a = b per input dimension, = -2 f'(0)."""
        raise NotImplementedError


@dataclass(frozen=True)
class GaussianKernel(RadialKernel):
    """Mixture of Gaussian RBFs with the given bandwidths s: sum_s exp(-||x - y||^2 / (2 s^2))."""

    bandwidths: tuple[float, ...] = (1.0,)

    def of_squared_distance(self, d2: torch.Tensor) -> torch.Tensor:
        return sum(torch.exp(-d2 / (2 * s * s)) for s in self.bandwidths)

    def curvature(self) -> float:
        """sum_s 1 / s^2."""
        return float(sum(1 / s**2 for s in self.bandwidths))


@dataclass(frozen=True)
class RationalQuadraticKernel(RadialKernel):
    """Mixture of rational quadratic kernels: sum_a (1 + ||x - y||^2 / (2 a))^(-a)."""

    alphas: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)

    def of_squared_distance(self, d2: torch.Tensor) -> torch.Tensor:
        return sum((1 + d2 / (2 * a)).pow(-a) for a in self.alphas)

    def curvature(self) -> float:
        """1 per component: f'(0) = -1/2 for every alpha."""
        return float(len(self.alphas))


@dataclass(frozen=True)
class PolynomialKernel:
    """(gamma x.y + coef0)^degree; ``gamma=None`` means 1 / dimension (the KID kernel with degree 3).

    ``dot_dtype`` computes the inner products in that dtype and the kernel values in float64: KID uses
    float32 products of float32 features (as torch-fidelity does) with the kernel and sums in float64.
    """

    degree: int = 3
    gamma: float | None = None
    coef0: float = 1.0
    dot_dtype: torch.dtype | None = None

    def __call__(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        if self.dot_dtype is None:
            return self.of_dot(X @ Y.T, X.shape[1])
        dot = X.to(self.dot_dtype) @ Y.to(self.dot_dtype).T
        return self.of_dot(dot.double(), X.shape[1])

    def paired(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """k(a_i, b_i) for matching rows."""
        return self.of_dot((A * B).sum(1), A.shape[1])

    def of_dot(self, dot: torch.Tensor, dim: int) -> torch.Tensor:
        gamma = self.gamma if self.gamma is not None else 1.0 / dim
        return (gamma * dot + self.coef0).pow(self.degree)


@dataclass(frozen=True)
class LinearKernel:
    """x.y."""

    def __call__(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return X @ Y.T

    def paired(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """k(a_i, b_i) for matching rows."""
        return (A * B).sum(1)


@dataclass(frozen=True)
class DistanceKernel:
    """(||x|| + ||y|| - ||x - y||) / 2: the distance-induced kernel of the energy distance (Sejdinovic et al. 2013)."""

    def __call__(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        nx, ny = X.norm(dim=1, keepdim=True), Y.norm(dim=1, keepdim=True)
        # direct differences, not the matmul expansion, whose rounding near 0 the square root would amplify
        distances = torch.cdist(X, Y, compute_mode="donot_use_mm_for_euclid_dist")
        return 0.5 * (nx + ny.T - distances)

    def paired(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """k(a_i, b_i) for matching rows."""
        return 0.5 * (A.norm(dim=1) + B.norm(dim=1) - (A - B).norm(dim=1))


Kernel = GaussianKernel | RationalQuadraticKernel | PolynomialKernel | LinearKernel | DistanceKernel
KERNELS = ("gaussian", "rq", "polynomial", "linear", "distance")


def make_kernel(name: str, bandwidths: Sequence[float] = (1.0,), alphas: Sequence[float] | None = None) -> Kernel:
    """A kernel by name: ``gaussian`` (with ``bandwidths``), ``rq`` (``alphas``), ``polynomial``, ``linear``,
    ``distance``."""
    if name == "gaussian":
        return GaussianKernel(tuple(float(b) for b in bandwidths))
    if name == "rq":
        return RationalQuadraticKernel(tuple(alphas) if alphas else RationalQuadraticKernel.alphas)
    if name == "polynomial":
        return PolynomialKernel()
    if name == "linear":
        return LinearKernel()
    if name == "distance":
        return DistanceKernel()
    raise GankitError(f"unknown kernel '{name}'; valid kernels: {', '.join(KERNELS)}")
