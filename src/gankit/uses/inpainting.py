"""Inpainting: fill a hidden region of an image with a Gaussian's conditional or a GAN's latent search.

The lecture's point: a model trained by maximum likelihood with a Gaussian fills the hole with the
conditional *mean*, which has the lowest expected squared error and is blurry (it averages the
possibilities); a GAN fills it with one sharp, plausible possibility. Three fills are compared:

- ``mean``: the Gaussian conditional mean E[x_h | x_v] (closed form, :mod:`gankit.baselines.gaussian`).
- ``sample``: a draw from the Gaussian conditional p(x_h | x_v).
- ``gan``: Yeh et al., "Semantic image inpainting with deep generative models", CVPR 2017, Sec. 3:
  z* = argmin_z L_c(z) + lambda L_p(z) with the context loss L_c = || W . (G(z) - y) ||_1 (Eq. 3) and
  the prior loss L_p = log(1 - D(G(z))) (Eq. 4, lambda = 0.003 in the paper), then Poisson blending
  (Sec. 3.3). The weights W (Eq. 2) are, for a visible pixel, the fraction of hidden pixels in the
  ``window`` x ``window`` square around it (7 in the paper; the square includes the pixel, and is
  cropped at the border), and 0 for hidden pixels: only the context next to the hole counts.
  ``weighted=False`` uses plain L1 on all visible pixels instead. Without a discriminator (an MMD
  generator, GMMN) the prior loss is left out.

Masks are bool tensors, True where a pixel is visible (Yeh et al.'s M), of shape (C, H, W) for a whole
batch or (N, C, H, W) per image; a mask that hides nothing or everything is an error. Quality is the
mean squared error over the hidden pixels (images in [-1, 1]) and sharpness inside the hole: mean
gradient magnitude and variance of the Laplacian, each relative to the true images' (1 = as sharp as
real images, < 1 blurrier).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F

from gankit.baselines.base import DensityBaseline
from gankit.errors import GankitError
from gankit.imaging import grid_image
from gankit.models.base import adversarial_logits
from gankit.uses.latent_search import frozen, optimise_latents

MASKS = ("centre", "half", "random")
SIDES = ("top", "bottom", "left", "right")
PRIOR_WEIGHT = 0.003
WINDOW = 7


# -- masks ---------------------------------------------------------------------------------------------
def centre_mask(shape: tuple[int, int, int], fraction: float = 0.5) -> torch.Tensor:
    """Visible everywhere but a centred square whose side is ``fraction`` of the image side."""
    _, height, width = shape
    side_h, side_w = max(1, round(fraction * height)), max(1, round(fraction * width))
    top, left = (height - side_h) // 2, (width - side_w) // 2
    visible = torch.ones(shape, dtype=torch.bool)
    visible[:, top : top + side_h, left : left + side_w] = False
    return visible


def half_mask(shape: tuple[int, int, int], side: str = "bottom") -> torch.Tensor:
    """Visible everywhere but one half of the image (``top``, ``bottom``, ``left`` or ``right``)."""
    if side not in SIDES:
        raise GankitError(f"unknown half '{side}'; valid halves: {', '.join(SIDES)}")
    _, height, width = shape
    visible = torch.ones(shape, dtype=torch.bool)
    region = {
        "top": (slice(None), slice(0, height // 2)),
        "bottom": (slice(None), slice(height // 2, None)),
        "left": (slice(None), slice(None), slice(0, width // 2)),
        "right": (slice(None), slice(None), slice(width // 2, None)),
    }[side]
    visible[region] = False
    return visible


def random_mask(
    shape: tuple[int, int, int],
    fraction: float = 0.5,
    count: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Hide a random ``fraction`` of the pixel positions (all channels of a pixel together); one mask for the
    batch, or ``count`` independent masks (N, C, H, W)."""
    channels, height, width = shape
    n = count or 1
    hidden_count = round(fraction * height * width)
    scores = torch.rand(n, height * width, generator=generator)
    hidden = torch.zeros(n, height * width, dtype=torch.bool)
    hidden.scatter_(1, scores.argsort(1)[:, :hidden_count], True)
    visible = (~hidden).reshape(n, 1, height, width).expand(n, channels, height, width).clone()
    return visible if count else visible[0]


def make_mask(
    name: str,
    shape: tuple[int, int, int],
    *,
    fraction: float = 0.5,
    side: str = "bottom",
    count: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The mask ``name`` (``centre``, ``half``, ``random``) for images of ``shape`` (C, H, W), checked."""
    if name not in MASKS:
        raise GankitError(f"unknown mask '{name}'; valid masks: {', '.join(MASKS)}")
    if not 0 < fraction < 1:
        raise GankitError(f"mask fraction must be strictly between 0 and 1, got {fraction}")
    if name == "centre":
        visible = centre_mask(shape, fraction)
    elif name == "half":
        visible = half_mask(shape, side)
    else:
        visible = random_mask(shape, fraction, count, generator)
    return check_mask(visible, shape)


def check_mask(visible: Any, shape: tuple[int, ...], count: int | None = None) -> torch.Tensor:
    """``visible`` as a bool mask of ``shape`` or (N, *shape) hiding some but not all of every image."""
    if not isinstance(visible, torch.Tensor) or visible.dtype != torch.bool:
        raise GankitError("mask: expected a bool tensor, True where a pixel is visible")
    if tuple(visible.shape) != tuple(shape) and tuple(visible.shape[1:]) != tuple(shape):
        raise GankitError(f"mask of shape {tuple(visible.shape)} does not fit images of shape {tuple(shape)}")
    if visible.ndim == len(shape) + 1 and count is not None and len(visible) != count:
        raise GankitError(f"{len(visible)} masks for {count} images; give one mask, or one per image")
    per_image = visible.ndim > len(shape)
    flat = visible.reshape(-1, math.prod(shape)) if per_image else visible.reshape(1, -1)
    for bad, problem, fix in (
        (flat.all(1), "hides nothing", "hide a region (mask False there) to inpaint it"),
        ((~flat).all(1), "hides everything", "leave some pixels visible (mask True) as context"),
    ):
        if bool(bad.any()):
            which = f" for image {int(bad.nonzero()[0])}" if per_image else ""
            raise GankitError(f"the mask {problem}{which}; {fix}")
    return visible


def as_unit_images(images: Any, source: str = "images") -> torch.Tensor:
    """uint8 images -> float in [-1, 1] (x / 127.5 - 1); float images are taken as already in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise GankitError(f"{source}: expected images as a (N, C, H, W) tensor")
    if images.dtype == torch.uint8:
        return images.float() / 127.5 - 1
    if not images.is_floating_point():
        raise GankitError(f"{source}: expected uint8 images or float images in [-1, 1], got {images.dtype}")
    return images.float()


# -- Yeh et al. 2017 --------------------------------------------------------------------------------------
def context_weights(visible: torch.Tensor, window: int = WINDOW) -> torch.Tensor:
    """Yeh et al. (2017) Eq. 2: the fraction of hidden pixels in the ``window`` square around each visible
    pixel (the square includes the pixel and is cropped at the image border); 0 on hidden pixels."""
    if window < 1 or window % 2 == 0:
        raise GankitError(f"context window must be an odd size >= 1, got {window}")
    shape = visible.shape
    flat = visible.reshape(-1, 1, *shape[-2:]).float()
    kernel = torch.ones(1, 1, window, window)
    hidden_sum = F.conv2d(1 - flat, kernel, padding=window // 2)
    neighbours = F.conv2d(torch.ones_like(flat), kernel, padding=window // 2)
    return (hidden_sum / neighbours * flat).reshape(shape)


def poisson_blend(generated: torch.Tensor, observed: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Poisson blending (Pérez, Gangnet & Blake, SIGGRAPH 2003), as Yeh et al. (2017, Sec. 3.3) use it:
    inside the hole, the image whose discrete Laplacian equals that of ``generated`` and whose values next
    to the hole are the ``observed`` ones (4-neighbourhood; pixels outside the image are left out)."""
    gen = generated.detach().double().cpu().numpy()
    obs = observed.detach().double().cpu().numpy()
    mask = visible.expand_as(generated).cpu().numpy()
    out = np.where(mask, obs, gen)
    height, width = gen.shape[-2:]
    for n in range(gen.shape[0]):
        for c in range(gen.shape[1]):
            hidden = ~mask[n, c]
            if hidden.any():
                out[n, c][hidden] = _solve_poisson(gen[n, c], obs[n, c], hidden, height, width)
    return torch.from_numpy(out).to(generated.dtype)


def _solve_poisson(guide: np.ndarray, known: np.ndarray, hidden: np.ndarray, height: int, width: int) -> np.ndarray:
    index = -np.ones((height, width), dtype=np.int64)
    rows, cols = np.nonzero(hidden)
    index[rows, cols] = np.arange(len(rows))
    diagonal = np.zeros(len(rows))
    rhs = np.zeros(len(rows))
    entries_i, entries_j = [], []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        p, r, c = np.nonzero(inside)[0], r[inside], c[inside]
        diagonal[p] += 1
        rhs[p] += guide[rows[p], cols[p]] - guide[r, c]
        neighbour = index[r, c]
        is_known = neighbour < 0
        rhs[p[is_known]] += known[r[is_known], c[is_known]]
        entries_i.append(p[~is_known])
        entries_j.append(neighbour[~is_known])
    i, j = np.concatenate(entries_i), np.concatenate(entries_j)
    n = len(rows)
    matrix = scipy.sparse.csr_matrix((-np.ones(len(i)), (i, j)), shape=(n, n)) + scipy.sparse.diags(diagonal)
    return scipy.sparse.linalg.spsolve(matrix.tocsc(), rhs)


@dataclass
class LatentInpainting:
    """A GAN fill: the completed images (N, C, H, W) in [-1, 1], the generator's image G(z*) and z*."""

    completed: torch.Tensor
    generated: torch.Tensor
    z: torch.Tensor
    loss: torch.Tensor


def fill_latent(
    generator: torch.nn.Module,
    images: torch.Tensor,
    visible: torch.Tensor,
    *,
    discriminator: torch.nn.Module | None = None,
    prior_weight: float = PRIOR_WEIGHT,
    weighted: bool = True,
    window: int = WINDOW,
    steps: int = 1000,
    lr: float = 0.03,
    restarts: int = 1,
    blend: str = "poisson",
    rng: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
) -> LatentInpainting:
    """Yeh et al. (2017) inpainting with any gankit generator (and discriminator giving logits): see the
    module text. ``blend`` is ``poisson`` (the paper) or ``paste`` (visible pixels over G(z*))."""
    truth = as_unit_images(images)
    if tuple(generator.out_shape) != tuple(truth.shape[1:]):
        raise GankitError(
            f"images of shape {tuple(truth.shape[1:])} do not match the generator's {tuple(generator.out_shape)}"
        )
    if blend not in ("poisson", "paste"):
        raise GankitError(f"unknown blend '{blend}'; use poisson or paste")
    if discriminator is not None and getattr(discriminator, "out_features", 1) != 1:
        raise GankitError(
            "the discriminator gives feature vectors, not a logit (an MMD critic); pass discriminator=None "
            "to inpaint without the prior loss"
        )
    visible = check_mask(visible, tuple(truth.shape[1:]), len(truth))
    device = next(generator.parameters()).device
    mask = visible.to(device).expand_as(truth)
    weights = (context_weights(visible, window) if weighted else visible.float()).to(device).expand_as(truth)
    target = truth.to(device)
    y = labels.to(device) if labels is not None else None

    def loss_fn(fake: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        context = (weights[index] * (fake - target[index])).abs().flatten(1).sum(1)
        if discriminator is None or prior_weight == 0:
            return context
        logits = adversarial_logits(discriminator(fake, y[index] if y is not None else None))
        return context - prior_weight * F.softplus(logits)  # log(1 - sigmoid(l)) = -softplus(l)

    with frozen(discriminator):
        fit = optimise_latents(generator, loss_fn, len(truth), steps=steps, lr=lr, restarts=restarts, rng=rng, labels=y)
    generated = fit.images.cpu().float()
    if blend == "poisson":
        completed = poisson_blend(generated, truth, mask.cpu()).clamp(-1, 1)
    else:
        completed = torch.where(mask.cpu(), truth, generated)
    return LatentInpainting(completed, generated, fit.z.cpu(), fit.loss.cpu())


def fill_gaussian(
    model: DensityBaseline, images: torch.Tensor, visible: torch.Tensor, *, sample: bool = False, rng=None
) -> torch.Tensor:
    """The Gaussian (or mixture) conditional mean of the hidden pixels, or a draw from the conditional,
    clamped to the pixel range [-1, 1] like a generator's output."""
    truth = as_unit_images(images)
    visible = check_mask(visible, tuple(truth.shape[1:]), len(truth))
    imputation = model.conditional(truth, visible)
    return (imputation.sample(rng) if sample else imputation.mean).clamp(-1, 1)


# -- measuring the fills ----------------------------------------------------------------------------------
def _region(images: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    return torch.ones_like(images, dtype=torch.bool) if region is None else region.expand_as(images)


def masked_mse(completed: torch.Tensor, truth: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels of each image (N,), images in [-1, 1]."""
    hidden = (~visible).expand_as(truth).flatten(1).float()
    error = ((as_unit_images(completed) - as_unit_images(truth)) ** 2).flatten(1)
    return (error * hidden).sum(1) / hidden.sum(1)


def gradient_magnitude(images: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |grad x| per image (N,) over ``region`` (all pixels if None): forward differences, the last
    row and column repeated."""
    x = as_unit_images(images)
    padded = F.pad(x, (0, 1, 0, 1), mode="replicate")
    dx = padded[..., :-1, 1:] - x
    dy = padded[..., 1:, :-1] - x
    keep = _region(x, region).flatten(1).float()
    return ((dx**2 + dy**2).sqrt().flatten(1) * keep).sum(1) / keep.sum(1)


def laplacian_variance(images: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Variance of the 4-neighbour Laplacian per image (N,) over ``region`` (replicate padding): the
    usual focus measure (Pech-Pacheco et al., ICPR 2000); blur lowers it."""
    x = as_unit_images(images)
    channels = x.shape[1]
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).repeat(channels, 1, 1, 1)
    laplacian = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels).flatten(1)
    keep = _region(x, region).flatten(1).float()
    count = keep.sum(1)
    mean = (laplacian * keep).sum(1) / count
    return (((laplacian - mean[:, None]) ** 2) * keep).sum(1) / count


def compare_fills(truth: torch.Tensor, visible: torch.Tensor, fills: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """One row per fill: hidden-region MSE (mean and standard error) and sharpness inside the hole relative
    to the true images (mean gradient magnitude ratio, Laplacian variance ratio)."""
    truth = as_unit_images(truth)
    visible = check_mask(visible, tuple(truth.shape[1:]), len(truth))
    hidden = ~visible
    real_gradient = float(gradient_magnitude(truth, hidden).mean())
    real_laplacian = float(laplacian_variance(truth, hidden).mean())
    rows = []
    for name, completed in fills.items():
        errors = masked_mse(completed, truth, visible)
        rows.append(
            {
                "method": name,
                "n": len(errors),
                "mse": float(errors.mean()),
                "mse_sem": float(errors.std() / math.sqrt(len(errors))) if len(errors) > 1 else float("nan"),
                "gradient_ratio": float(gradient_magnitude(completed, hidden).mean()) / real_gradient,
                "laplacian_ratio": float(laplacian_variance(completed, hidden).mean()) / real_laplacian,
            }
        )
    return rows


def inpainting_figure(
    truth: torch.Tensor,
    visible: torch.Tensor,
    fills: dict[str, torch.Tensor],
    count: int = 8,
    scale: int | None = None,
) -> np.ndarray:
    """A grid with one row per kind: masked input (hidden pixels grey), each fill in order, then the truth;
    ``scale`` enlarges every pixel to a ``scale`` x ``scale`` block (None: enlarged like every sample grid,
    to at least 512 pixels wide)."""
    truth = as_unit_images(truth)[:count]
    mask = visible if visible.ndim == 3 else visible[:count]
    masked = torch.where(mask.expand_as(truth), truth, torch.zeros_like(truth))
    rows = torch.cat([masked, *(as_unit_images(f)[:count] for f in fills.values()), truth])
    if scale is None:
        return grid_image(rows, nrow=len(truth))
    rows = rows.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    return grid_image(rows, nrow=len(truth), min_width=0)
