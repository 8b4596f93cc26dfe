"""Eigenfaces: principal components of face images (Sirovich & Kirby, JOSA A 1987; Turk & Pentland,
J. Cognitive Neuroscience 1991), and the Gaussian they define in PCA space.

The eigen-images are the right singular vectors of the centred data matrix (N x D, images in [-1, 1]),
i.e. the eigenvectors of the covariance, computed by SVD so that D (4,096 for 64 x 64 faces) may exceed
N. Explained variances use the 1/(N-1) covariance, as scikit-learn's PCA does. Each component's sign is
fixed so that its largest-magnitude entry is positive. Sampling draws coefficients c ~ N(0, diag(lambda_k))
and returns mean + sum_k c_k u_k: the Gaussian on the k-dimensional face space, the noiseless limit
of probabilistic PCA.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gankit.baselines.base import as_vectors
from gankit.errors import GankitError


@dataclass
class Eigenfaces:
    """Mean face, orthonormal eigen-images (k, D), their variances, and the total variance of the data."""

    shape: tuple[int, ...]
    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    total_variance: float

    @property
    def explained_variance_ratio(self) -> torch.Tensor:
        """Fraction of the total variance along each eigen-image."""
        return self.variances / self.total_variance

    def project(self, images: torch.Tensor) -> torch.Tensor:
        """PCA coefficients (N, k) of images (uint8, or float in [-1, 1])."""
        vectors, shape, _ = as_vectors(images, "eigenfaces")
        if shape != self.shape:
            raise GankitError(f"eigenfaces: images of shape {shape}, but the faces were {self.shape}")
        return (vectors - self.mean) @ self.components.T

    def reconstruct(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Images (N, *shape) in [-1, 1] from coefficients on the first ``coefficients.shape[1]`` eigen-images."""
        k = coefficients.shape[1]
        flat = self.mean + coefficients.double() @ self.components[:k]
        return flat.float().reshape(len(coefficients), *self.shape).clamp(-1, 1)

    def sample(self, n: int, generator: torch.Generator | None = None, components: int | None = None) -> torch.Tensor:
        """``n`` faces from the Gaussian in the space of the first ``components`` eigen-images (default all)."""
        k = components or len(self.variances)
        if not 1 <= k <= len(self.variances):
            raise GankitError(f"eigenfaces: components must be in 1..{len(self.variances)}, got {k}")
        noise = torch.randn(n, k, generator=generator, dtype=torch.float64)
        return self.reconstruct(noise * self.variances[:k].sqrt())

    def component_images(self) -> torch.Tensor:
        """The eigen-images as pictures: each scaled so that its largest magnitude maps to +-1 (0 stays grey)."""
        scaled = self.components / self.components.abs().amax(1, keepdim=True)
        return scaled.float().reshape(len(scaled), *self.shape)

    def mean_image(self) -> torch.Tensor:
        """The mean face (1, *shape) in [-1, 1]."""
        return self.mean.float().reshape(1, *self.shape)


def fit_eigenfaces(images: torch.Tensor, components: int) -> Eigenfaces:
    """The first ``components`` eigen-images of ``images`` (uint8 (N, C, H, W), or float in [-1, 1])."""
    vectors, shape, _ = as_vectors(images, "eigenfaces")
    n, dim = vectors.shape
    if len(shape) != 3:
        raise GankitError(f"eigenfaces: expected images (N, C, H, W), got samples of shape {shape}")
    if not 1 <= components <= min(n - 1, dim):
        raise GankitError(f"eigenfaces: components must be in 1..{min(n - 1, dim)} for {n} images, got {components}")
    mean = vectors.mean(0)
    centred = vectors - mean
    _, singular, right = torch.linalg.svd(centred, full_matrices=False)
    basis = right[:components]
    largest = basis.gather(1, basis.abs().argmax(1, keepdim=True))
    basis = basis * torch.sign(largest)
    variances = singular[:components] ** 2 / (n - 1)
    total = float((centred**2).sum()) / (n - 1)
    return Eigenfaces(shape, mean, basis.contiguous(), variances, total)


def components_for(eigenfaces: Eigenfaces, fraction: float) -> int | None:
    """The fewest eigen-images explaining at least ``fraction`` of the variance, or None if all kept do not."""
    cumulative = torch.cumsum(eigenfaces.explained_variance_ratio, 0)
    reached = (cumulative >= fraction - 1e-12).nonzero()
    return int(reached[0]) + 1 if len(reached) else None
