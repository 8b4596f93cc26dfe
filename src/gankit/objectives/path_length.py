"""Path length regularisation of a style generator (Karras et al., CVPR 2020, "StyleGAN2", Sec. 3.2, eq. 4).

    E_{w, y ~ N(0, I)} ( ||J_w^T y||_2 - a )^2

where J_w = dg(w)/dw is the Jacobian of the synthesis network at w = f(z), y is a random image, and ``a`` is
a running average of the lengths (EMA with ``decay`` = 0.01). It encourages a fixed-size step in W to give
a fixed-magnitude change in the image, whatever the direction and the place.

As in the paper's code: J_w^T y is one vector-Jacobian product (no explicit Jacobian), y is drawn with
standard deviation 1 / sqrt(H * W) (so that the lengths do not grow with the resolution), and w is the "w+"
tensor (N, num_ws, w_dim): the length is sqrt(mean over layers of ||J_{w_l}^T y||^2). The caller weights
the penalty (the paper: 2), multiplies it by the regularisation interval for lazy regularisation (every 4
G steps) and may shrink the batch (the paper: half).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from gankit.errors import GankitError


def path_length_penalty(
    G: nn.Module,
    z: torch.Tensor,
    y: torch.Tensor | None,
    pl_mean: torch.Tensor | float,
    generator: torch.Generator,
    decay: float = 0.01,
    noise_mode: str = "random",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2 eq. 4 on one batch; differentiable with respect to G's parameters.

    Args:
        G: a style generator with ``mapping(z, y)`` -> ws (N, num_ws, w_dim) and ``synthesis(ws, noise_mode)``.
        z, y: latents (N, z_dim) and labels (or None).
        pl_mean: the running average ``a`` of the path lengths (0 at the start of training).
        generator: the torch.Generator that draws the image-space directions y (never the global generator;
            the synthesis noise in ``noise_mode="random"`` does come from the global generator, like training).
        decay: EMA rate of ``a`` (the paper: 0.01).
        noise_mode: the synthesis noise mode.

    Returns:
        (penalty, new_pl_mean, lengths): the mean of (length - new_pl_mean)^2, the updated average (detached),
        and the per-sample lengths ||J_w^T y|| (N,).
    """
    if not (hasattr(G, "mapping") and hasattr(G, "synthesis")):
        raise GankitError(
            f"path length regularisation needs a style generator with a mapping and a synthesis network "
            f"(model.arch=stylegan2); got {type(G).__name__}"
        )
    if not 0 < decay <= 1:
        raise GankitError(f"the path length decay must lie in (0, 1], got {decay}")
    ws = G.mapping(z, y)
    images = G.synthesis(ws, noise_mode=noise_mode)
    directions = torch.randn(images.shape, generator=generator, device=generator.device, dtype=images.dtype)
    return path_length_terms(images, ws, pl_mean, directions.to(images.device), decay)


def path_length_terms(
    images: torch.Tensor,
    ws: torch.Tensor,
    pl_mean: torch.Tensor | float,
    directions: torch.Tensor,
    decay: float = 0.01,
    batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2 eq. 4 from images synthesised from ``ws`` (kept in the graph): lengths ||J_w^T y|| with
    y = ``directions`` / sqrt(H W) (``directions`` ~ N(0, I), shaped like the images), the running mean updated
    with rate ``decay`` from the batch mean of the lengths (``batch_mean`` maps it, e.g. to its mean over
    processes), and the penalty mean((length - a)^2); returns (penalty, new_pl_mean, lengths) like
    :func:`path_length_penalty`."""
    h, w = images.shape[-2:]
    (grad,) = torch.autograd.grad((images * directions / math.sqrt(h * w)).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    pl_mean = torch.as_tensor(pl_mean, dtype=lengths.dtype, device=lengths.device)
    mean = lengths.detach().mean()
    if batch_mean is not None:
        mean = batch_mean(mean)
    new_pl_mean = pl_mean + decay * (mean - pl_mean)
    penalty = (lengths - new_pl_mean).square().mean()
    return penalty, new_pl_mean.detach(), lengths
