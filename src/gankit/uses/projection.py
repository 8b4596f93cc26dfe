"""Projection (GAN inversion) and "more samples like x".

Projection finds the latent code whose image reproduces a given image (Karras et al., CVPR 2020,
"StyleGAN2", Sec. 5 and Appendix D; Abdal, Qin & Wonka, ICCV 2019, "Image2StyleGAN", which optimises the
extended "w+" space):

- for a :class:`~gankit.models.stylegan.StyleGAN2Generator`, optimise w (one w for all layers), w+ (one w
  per layer) or z, together with the per-layer noise maps; w starts from the mean of 10,000 mapped
  samples; Adam (betas 0.9, 0.999) with the paper's learning rate ramp (linear warm-up over the first 5%
  of the steps, cosine ramp-down over the last 25%), Gaussian noise added to the latent with strength
  sigma * 0.05 * max(0, 1 - t / 0.75)^2 (sigma: the spread of the latent distribution), a penalty on the
  spatial autocorrelation of every noise map at every scale down to 8x8 (weight 1e5), and after each step
  each noise map is re-normalised to zero mean and unit variance;
- for any other gankit generator (DCGAN, ResNet, MLP), optimise z the same way (the best of a few random
  starts, latent noise with sigma = 1, no noise maps).

The loss is the pixel mean squared error plus ``feature_weight`` times the squared distance between
features of the image and of the target. The paper uses LPIPS (VGG16) features; their weights are not
available offline, so ``feature_fn`` is any differentiable map from images in [-1, 1] to (N, d) features,
for example the data set's classifier (:func:`resized_feature_fn`). Each image is optimised independently
(the loss is a sum over images and Adam works element by element), so a batch projects many images at once.

"More like x" samples near a projected latent: a Gaussian step in W (or Z) of ``radius`` times the
per-dimension standard deviation of the latent distribution, optionally with the fine layers (from
``mix_fine_from`` on) taken from random w's (style mixing, Karras et al. 2019, Sec. 3.1).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Generator
from gankit.models.stylegan import StyleGAN2Generator

SPACES = ("w", "w+", "z")
FeatureFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class ProjectionResult:
    """What :func:`project` found, per target image.

    Attributes:
        images: reconstructions (N, *G.out_shape), in the generator's output range (about [-1, 1]).
        latents: the optimised codes: w (N, w_dim), w+ (N, num_ws, w_dim) or z (N, z_dim).
        ws: the (N, num_ws, w_dim) styles that make ``images`` (style generators; None for z-generators).
        noise: the optimised noise maps, one (N, 1, r, r) tensor per noise input (style generators), or None.
        space: "w", "w+" or "z".
        psnr: pixel PSNR in dB of each reconstruction, images mapped from [-1, 1] to [0, 1] and clamped.
        feature_distance: Euclidean distance of the features of reconstruction and target (None without
            ``feature_fn``).
        steps: optimisation steps; seconds: wall-clock time of the whole projection.
    """

    images: torch.Tensor
    latents: torch.Tensor
    ws: torch.Tensor | None
    noise: list[torch.Tensor] | None
    space: str
    psnr: torch.Tensor
    feature_distance: torch.Tensor | None
    steps: int
    seconds: float


def learning_rate_ramp(t: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """The projection's learning-rate factor at progress t in [0, 1] (Karras et al. 2020, Appendix D): linear
    from 0 over the first ``rampup``, 1, then a cosine ramp-down to 0 over the last ``rampdown``."""
    down = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    factor = 0.5 - 0.5 * math.cos(down * math.pi)
    return factor * (min(1.0, t / rampup) if rampup > 0 else 1.0)


def noise_regularization(noise: list[torch.Tensor]) -> torch.Tensor:
    """Per-image sum over maps and scales of the squared one-pixel autocorrelations, horizontal and vertical
    (Karras et al. 2020, Appendix D): each (N, 1, r, r) map is average-pooled 2x down to 8x8, and at each scale
    mean(v * roll(v, 1))^2 is added for both axes. Returns (N,)."""
    total = noise[0].new_zeros(noise[0].shape[0])
    for v in noise:
        while True:
            total = total + (v * v.roll(1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (v * v.roll(1, dims=2)).mean(dim=(1, 2, 3)).square()
            if v.shape[-1] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return total


def psnr(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [-1, 1], mapped to [0, 1] and clamped: 10 log10(1 / MSE)."""
    a, b = ((images + 1) / 2).clamp(0, 1), ((targets + 1) / 2).clamp(0, 1)
    mse = (a - b).square().flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


def resized_feature_fn(features: Callable[[torch.Tensor], torch.Tensor], resolution: int) -> FeatureFn:
    """``features`` applied after a differentiable bilinear (antialiased) resize of [-1, 1] images to
    ``resolution``: e.g. ``resized_feature_fn(ClassifierFeatures(...).model.features, extractor.resolution)``."""

    def fn(images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != resolution or images.shape[-2] != resolution:
            images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True)
        return features(images).flatten(1)

    return fn


def _device(G: nn.Module) -> torch.device:
    return next(iter(G.parameters())).device


def check_targets(G: Generator, targets: torch.Tensor) -> torch.Tensor:
    """Targets as float images in [-1, 1] of the generator's shape, batched; uint8 images are scaled; anything
    else is a one-line :class:`GankitError` naming the expected shape."""
    if not isinstance(targets, torch.Tensor):
        raise GankitError(f"target images must be a torch.Tensor, got {type(targets).__name__}")
    shape = tuple(G.out_shape)
    if targets.ndim == len(shape):
        targets = targets.unsqueeze(0)
    if targets.ndim != len(shape) + 1 or tuple(targets.shape[1:]) != shape or len(targets) == 0:
        raise GankitError(
            f"this generator makes images of shape {shape}; got targets of shape {tuple(targets.shape)}: "
            f"resize them to {shape[-1]}x{shape[-1]} (gankit.data.images.resize_square) with {shape[0]} channel(s)"
        )
    if targets.dtype == torch.uint8:
        return targets.float() / 127.5 - 1
    if not targets.is_floating_point():
        raise GankitError(f"target images must be uint8 or float in [-1, 1], got {targets.dtype}")
    low, high = float(targets.min()), float(targets.max())
    if low < -1.001 or high > 1.001:
        raise GankitError(f"float target images must lie in [-1, 1], got values in [{low:.3g}, {high:.3g}]")
    return targets.float()


def _check_labels(G: Generator, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
    if G.num_classes == 0:
        if y is not None:
            raise GankitError("this generator is unconditional; project without labels")
        return None
    if y is None or y.ndim != 1 or len(y) != n:
        raise GankitError(f"this generator is conditional on {G.num_classes} classes: pass one label per target")
    return y


@torch.no_grad()
def w_statistics(
    G: StyleGAN2Generator, n: int, generator: torch.Generator, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """From ``n`` mapped samples (labels ``y`` cycled for conditional generators): the mean w per label of ``y``
    (len(y) or 1, w_dim), the per-dimension standard deviation (w_dim,) and the scalar spread
    sqrt(E||w - mean||^2) that scales the projection's latent noise (Karras et al. 2020, Appendix D)."""
    device = _device(G)
    z = torch.randn(n, G.z_dim, generator=generator, device=generator.device).to(device)
    if y is None:
        w = torch.cat([G.mapping(chunk)[:, 0] for chunk in z.split(2048)])
        mean = w.mean(0, keepdim=True)
        return mean, w.std(0), (w - mean).square().sum(1).mean().sqrt()
    means, deviations = {}, []
    labels = y.unique()
    per_label = max(1, n // len(labels))
    for label in labels.tolist():
        zl = z[:per_label]
        w = G.mapping(zl, torch.full((len(zl),), label, dtype=torch.long, device=device))[:, 0]
        means[label] = w.mean(0)
        deviations.append(w - means[label])
    dev = torch.cat(deviations)
    mean = torch.stack([means[label] for label in y.tolist()])
    return mean, dev.std(0), dev.square().sum(1).mean().sqrt()


def _best_z(
    G: Generator, targets: torch.Tensor, y: torch.Tensor | None, candidates: int, generator: torch.Generator
) -> torch.Tensor:
    """Per target, the z among ``candidates`` random draws whose image is nearest in pixels."""
    device = targets.device
    best = torch.empty(len(targets), G.z_dim, device=device)
    with torch.no_grad():
        for i, target in enumerate(targets):
            z = torch.randn(candidates, G.z_dim, generator=generator, device=generator.device).to(device)
            labels = None if y is None else y[i].expand(candidates)
            images = _render(G, z, labels, "z", None)
            best[i] = z[(images - target).square().flatten(1).mean(1).argmin()]
    return best


def _render(
    G: Generator, latent: torch.Tensor, y: torch.Tensor | None, space: str, noise: list[torch.Tensor] | None
) -> torch.Tensor:
    if not isinstance(G, StyleGAN2Generator):
        return G(latent, y)
    return G.synthesis(_to_ws(G, latent, y, space), noise_mode="const", noise=noise)


def _to_ws(G: StyleGAN2Generator, latent: torch.Tensor, y: torch.Tensor | None, space: str) -> torch.Tensor:
    if space == "z":
        return G.mapping(latent, y)
    if space == "w":
        return latent.unsqueeze(1).expand(-1, G.num_ws, -1)
    return latent


def project(
    G: Generator,
    target_images: torch.Tensor,
    steps: int = 1000,
    space: str = "w",
    y: torch.Tensor | None = None,
    feature_fn: FeatureFn | None = None,
    feature_weight: float = 1.0,
    lr: float = 0.1,
    lr_rampup: float = 0.05,
    lr_rampdown: float = 0.25,
    latent_noise: float = 0.05,
    latent_noise_ramp: float = 0.75,
    noise_reg_weight: float = 1e5,
    optimize_noise: bool = True,
    w_avg_samples: int = 10_000,
    z_candidates: int = 64,
    generator: torch.Generator | None = None,
) -> ProjectionResult:
    """Project images into a generator's latent space (Karras et al. 2020, Sec. 5 and Appendix D; Abdal et al.
    2019 for "w+"); see the module docstring for the method.

    Args:
        G: a trained gankit generator (not modified; a copy is optimised against).
        target_images: (N, *G.out_shape) float images in [-1, 1] or uint8 images (one image without the batch
            dimension is accepted).
        steps: optimisation steps (the paper: 1000).
        space: "w" or "w+" (StyleGAN2 generators only) or "z".
        y: the targets' labels, for conditional generators.
        feature_fn: differentiable images -> (N, d) features for the perceptual term; None: pixels only.
        feature_weight: weight of the squared feature distance next to the pixel MSE.
        lr, lr_rampup, lr_rampdown: Adam's peak learning rate and the ramp lengths (fractions of ``steps``).
        latent_noise, latent_noise_ramp: initial latent noise (times the latent spread) and the fraction of
            ``steps`` over which it decays quadratically to 0.
        noise_reg_weight: weight of :func:`noise_regularization` (style generators).
        optimize_noise: optimise the noise maps (style generators); False keeps the layers' fixed maps.
        w_avg_samples: mapped samples for the mean and spread of w.
        z_candidates: random starts for z, the best in pixels is kept.
        generator: the source of every random number (a fixed seed-0 generator when None).

    Returns:
        A :class:`ProjectionResult`.
    """
    start = time.perf_counter()
    if space not in SPACES:
        raise GankitError(f"unknown projection space '{space}'; valid: {', '.join(SPACES)}")
    if steps < 1:
        raise GankitError(f"projection needs steps >= 1, got {steps}")
    style = isinstance(G, StyleGAN2Generator)
    if space != "z" and not style:
        raise GankitError(f"space '{space}' needs a StyleGAN2 generator; {type(G).__name__} has a z latent: use z")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    G = copy.deepcopy(G).eval().requires_grad_(False)
    device = _device(G)
    targets = check_targets(G, target_images).to(device)
    y = _check_labels(G, y, len(targets))
    y = None if y is None else y.to(device)
    n = len(targets)

    if space == "z":
        latent = _best_z(G, targets, y, z_candidates, generator)
        spread = 1.0
    else:
        mean, _, spread_t = w_statistics(G, w_avg_samples, generator, y)
        spread = float(spread_t)
        latent = mean.expand(n, -1).clone() if space == "w" else mean[:, None].expand(n, G.num_ws, -1).clone()
    latent.requires_grad_(True)
    noise = None
    if style:
        noise = []
        for layer in G.noise_layers():
            r = layer.resolution
            maps = torch.randn(n, 1, r, r, generator=generator, device=generator.device).to(device)
            noise.append(
                maps.requires_grad_(optimize_noise) if optimize_noise else layer.noise_const.expand(n, -1, -1, -1)
            )
    params = [latent] + (noise if style and optimize_noise else [])
    optimizer = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
    target_features = feature_fn(targets).detach() if feature_fn is not None else None

    for step in range(steps):
        t = step / steps
        for group in optimizer.param_groups:
            group["lr"] = lr * learning_rate_ramp(t, lr_rampup, lr_rampdown)
        scale = spread * latent_noise * max(0.0, 1.0 - t / latent_noise_ramp) ** 2 if latent_noise_ramp > 0 else 0.0
        jitter = torch.randn(latent.shape, generator=generator, device=generator.device).to(device) * scale
        images = _render(G, latent + jitter, y, space, noise)
        loss = (images - targets).square().flatten(1).mean(1).sum()
        if target_features is not None:
            loss = loss + feature_weight * (feature_fn(images) - target_features).square().sum()
        if style and optimize_noise and noise_reg_weight > 0:
            loss = loss + noise_reg_weight * noise_regularization(noise).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if style and optimize_noise:
            with torch.no_grad():
                for maps in noise:
                    maps -= maps.mean(dim=(1, 2, 3), keepdim=True)
                    maps *= maps.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()

    with torch.no_grad():
        latent = latent.detach()
        noise = [maps.detach() for maps in noise] if noise is not None else None
        images = _render(G, latent, y, space, noise)
        ws = _to_ws(G, latent, y, space) if style else None
        distance = None
        if feature_fn is not None:
            distance = (feature_fn(images) - target_features).norm(dim=1).cpu()
        return ProjectionResult(
            images=images.cpu(),
            latents=latent.cpu(),
            ws=None if ws is None else ws.cpu(),
            noise=None if noise is None else [maps.cpu() for maps in noise],
            space=space,
            psnr=psnr(images, targets).cpu(),
            feature_distance=distance,
            steps=steps,
            seconds=time.perf_counter() - start,
        )


@torch.no_grad()
def more_like(
    G: Generator,
    latent: torch.Tensor,
    n: int,
    radius: float = 0.5,
    mix_fine_from: int | None = None,
    y: torch.Tensor | None = None,
    noise: list[torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    w_std_samples: int = 10_000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples near one projected latent ("more samples like x").

    For a StyleGAN2 generator, ``latent`` is a w (w_dim,) or w+ (num_ws, w_dim) (a leading batch dimension of 1
    is accepted); each sample is w + radius * sigma * eps with eps ~ N(0, I) shared by all layers and sigma the
    per-dimension standard deviation of W (from ``w_std_samples`` mapped samples); with ``mix_fine_from`` = k,
    layers >= k are replaced by those of a random w (style mixing of the fine layers). ``noise`` (one map per
    noise input, e.g. :attr:`ProjectionResult.noise` of this image) keeps the projected stochastic detail;
    None uses the layers' fixed maps. For any other generator, ``latent`` is z (z_dim,) and each sample is
    z + radius * eps (the prior's standard deviation is 1).

    Returns:
        (images (n, *G.out_shape), latents: ws (n, num_ws, w_dim) or z (n, z_dim)), on the CPU.
    """
    if n < 1:
        raise GankitError(f"more_like needs n >= 1 samples, got {n}")
    if radius < 0:
        raise GankitError(f"the radius must be >= 0, got {radius}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    was_training = G.training
    G.eval()
    try:
        device = _device(G)
        labels = None
        if G.num_classes:
            if y is None or y.numel() != 1:
                raise GankitError(f"this generator is conditional on {G.num_classes} classes: pass the label y of x")
            labels = y.reshape(1).to(device).expand(n)
        elif y is not None:
            raise GankitError("this generator is unconditional; call more_like without labels")

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, device=generator.device).to(device)

        if not isinstance(G, StyleGAN2Generator):
            if mix_fine_from is not None:
                raise GankitError("mix_fine_from needs a StyleGAN2 generator (style layers); leave it unset")
            z = latent.reshape(-1).to(device)
            if z.numel() != G.z_dim:
                raise GankitError(f"this generator's latent is z ({G.z_dim},); got shape {tuple(latent.shape)}")
            zs = z + radius * randn(n, G.z_dim)
            return G(zs, labels).cpu(), zs.cpu()
        ws = latent.to(device)
        if ws.shape[-1] != G.w_dim or ws.numel() not in (G.w_dim, G.num_ws * G.w_dim):
            raise GankitError(
                f"more_like needs a w ({G.w_dim},) or w+ ({G.num_ws}, {G.w_dim}); got shape {tuple(latent.shape)}"
            )
        ws = ws.reshape(1, -1, G.w_dim).expand(1, G.num_ws, -1)
        _, sigma, _ = w_statistics(G, w_std_samples, generator, None if labels is None else labels[:1])
        samples = ws + (radius * sigma * randn(n, G.w_dim))[:, None]
        if mix_fine_from is not None:
            if not 0 <= mix_fine_from <= G.num_ws:
                raise GankitError(f"mix_fine_from must lie in [0, {G.num_ws}], got {mix_fine_from}")
            samples = G.mix_styles(samples, G.mapping(randn(n, G.z_dim), labels), mix_fine_from)
        maps = None if noise is None else [m[:1].to(device).expand(n, -1, -1, -1) for m in noise]
        return G.synthesis(samples, noise_mode="const", noise=maps).cpu(), samples.cpu()
    finally:
        G.train(was_training)
