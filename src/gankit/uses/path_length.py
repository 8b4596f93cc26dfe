"""Perceptual path length (PPL; Karras et al., CVPR 2019, "A style-based generator architecture for GANs",
Sec. 4.2, eq. 2 and 3): how much the image changes, in a perceptual feature space, per small step along a latent
interpolation path. A lower PPL in W than in Z is the paper's evidence that W is "more linear" (less entangled).

    l_Z = E[ d(G(slerp(z1, z2; t)), G(slerp(z1, z2; t + eps))) / eps^2 ],   z1, z2 ~ N(0, I)
    l_W = E[ d(g(lerp(f(z1), f(z2); t)), g(lerp(f(z1), f(z2); t + eps))) / eps^2 ]

with t ~ U(0, 1) ("full" paths) or t = 0 ("end": the path's start, StyleGAN2's reported variant, as in its
code), eps = 1e-4, f the mapping and g the synthesis network. Slerp is the paper's: the endpoints are normalised
to the unit sphere and the path stays on it (the mapping normalises z anyway). The noise inputs are the same for
both images (the layers' "const" maps). As in the reference implementation (StyleGAN2-ADA
``metrics/perceptual_path_length.py``), the mean is taken over the values between the 1st (rounded down) and 99th
(rounded up) percentiles.

d is the paper's LPIPS (squared distance of VGG16 features), whose weights are not available offline. gankit
uses the squared Euclidean distance of the features it has, computed on float images (no uint8 rounding, which
would swamp a 1e-4 step): the data set's own classifier (penultimate layer, images resized bilinearly to its
resolution) or the FID Inception network (pool features, images resized bilinearly to 299 x 299). Values are
therefore comparable between Z and W of one model and feature space, not with the paper's LPIPS numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.metrics.features.base import FeatureExtractor
from gankit.models.stylegan import StyleGAN2Generator

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
PPL_EPSILON = 1e-4
SAMPLINGS = ("full", "end")
PPL_SPACES = ("z", "w")
INCEPTION_SIZE = 299


def unit_slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation on the unit sphere, row by row (as in StyleGAN's PPL code): a and b (N, d) are
    normalised, c is the unit vector of b orthogonal to a, and slerp(t) = a cos(t omega) + c sin(t omega) with
    omega the angle between a and b; t is (N,)."""
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    cosine = (a * b).sum(dim=1, keepdim=True).clamp(-1, 1)
    angle = t.view(-1, 1) * torch.acos(cosine)
    c = b - cosine * a
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return a * torch.cos(angle) + c * torch.sin(angle)


def float_feature_fn(extractor: FeatureExtractor) -> FeatureFn:
    """A map from float images in [-1, 1] (N, C, H, W) to (N, d) features, without uint8 rounding: classifier
    extractors (``classifier:NAME`` and the classifier fitted on a run's data) resize bilinearly to their
    resolution and take the penultimate layer; Inception resizes bilinearly to 299 x 299, repeats a single
    channel to RGB and scales as its uint8 path does ((x * 127.5 + 128 - 128) / 128); pixels are (x + 1) / 2."""
    network = getattr(extractor, "network", None)
    model = getattr(extractor, "model", None)
    if model is not None and hasattr(model, "features"):
        resolution = extractor.resolution

        def classifier(images: torch.Tensor) -> torch.Tensor:
            if images.shape[-1] != resolution:
                images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True)
            return model.features(images).flatten(1)

        return classifier
    if network is not None:

        def inception(images: torch.Tensor) -> torch.Tensor:
            x = F.interpolate(images, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            return network(x * (127.5 / 128)).flatten(1)

        return inception
    if extractor.name == "pixels":
        return lambda images: ((images + 1) / 2).flatten(1)
    raise GankitError(f"{extractor.name} features have no float path; use classifier, inception or pixels features")


def _check(G: object, space: str, sampling: str, eps: float) -> StyleGAN2Generator:
    if not isinstance(G, StyleGAN2Generator):
        raise GankitError(f"PPL in Z and W needs a StyleGAN2 generator (mapping + synthesis); got {type(G).__name__}")
    if space not in PPL_SPACES:
        raise GankitError(f"unknown PPL space '{space}'; valid: {', '.join(PPL_SPACES)}")
    if sampling not in SAMPLINGS:
        raise GankitError(f"unknown PPL sampling '{sampling}'; valid: {', '.join(SAMPLINGS)}")
    if not eps > 0:
        raise GankitError(f"the PPL step epsilon must be > 0, got {eps}")
    return G


@torch.no_grad()
def path_lengths(
    G: StyleGAN2Generator,
    feature_fn: FeatureFn,
    z0: torch.Tensor,
    z1: torch.Tensor,
    t: torch.Tensor,
    space: str = "w",
    eps: float = PPL_EPSILON,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    """The PPL summands d(image(t), image(t + eps)) / eps^2 (N,) for endpoints z0, z1 (N, z_dim) and steps t (N,):
    slerp in Z (``space="z"``) or lerp of the mapped w in W (``space="w"``); the noise is the layers' "const"
    maps for both images. ``y``: labels of a conditional generator."""
    G = _check(G, space, "full", eps)
    device = G.w_avg.device
    z0, z1, t = z0.to(device), z1.to(device), t.to(device).to(z0.dtype)
    if space == "z":
        ws = G.mapping(
            torch.cat([unit_slerp(z0, z1, t), unit_slerp(z0, z1, t + eps)]), None if y is None else y.repeat(2)
        )
    else:
        w0, w1 = G.mapping(z0, y)[:, 0], G.mapping(z1, y)[:, 0]
        steps = t.to(w0.dtype)[:, None]
        w = torch.cat([torch.lerp(w0, w1, steps), torch.lerp(w0, w1, steps + eps)])
        ws = w.unsqueeze(1).expand(-1, G.num_ws, -1)
    features = feature_fn(G.synthesis(ws, noise_mode="const")).double()
    a, b = features.chunk(2)
    return (a - b).square().sum(dim=1).cpu() / eps**2


def filtered_mean(values: torch.Tensor, low: float = 1.0, high: float = 99.0) -> float:
    """Mean of the values between the ``low`` percentile (rounded down) and the ``high`` percentile (rounded up),
    the outlier rejection of the reference PPL code."""
    array = values.double().numpy()
    lo = np.percentile(array, low, method="lower")
    hi = np.percentile(array, high, method="higher")
    return float(array[(array >= lo) & (array <= hi)].mean())


@dataclass
class PPLResult:
    """Perceptual path length: ``ppl`` (filtered mean), the raw ``values`` (N,), and the settings."""

    ppl: float
    values: torch.Tensor
    space: str
    sampling: str
    eps: float


def perceptual_path_length(
    G: StyleGAN2Generator,
    feature_fn: FeatureFn,
    n: int = 1000,
    space: str = "w",
    sampling: str = "full",
    eps: float = PPL_EPSILON,
    seed: int = 0,
    batch_size: int = 100,
    y: torch.Tensor | None = None,
) -> PPLResult:
    """PPL over ``n`` random paths (module text): endpoints z ~ N(0, I) and t (U(0, 1) for "full", 0 for "end")
    drawn from ``seed``, so Z and W use the same endpoints; ``y`` (n,) labels for conditional generators."""
    G = _check(G, space, sampling, eps)
    if n < 2:
        raise GankitError(f"PPL needs n >= 2 paths, got {n}")
    rng = torch.Generator().manual_seed(seed)
    z0 = torch.randn(n, G.z_dim, generator=rng)
    z1 = torch.randn(n, G.z_dim, generator=rng)
    t = torch.rand(n, generator=rng) * (1.0 if sampling == "full" else 0.0)
    values = torch.cat(
        [
            path_lengths(
                G,
                feature_fn,
                z0[i : i + batch_size],
                z1[i : i + batch_size],
                t[i : i + batch_size],
                space,
                eps,
                None if y is None else y[i : i + batch_size],
            )
            for i in range(0, n, batch_size)
        ]
    )
    return PPLResult(filtered_mean(values), values, space, sampling, eps)
