"""Searching a generator's latent space for codes whose images minimise a per-sample loss.

Shared by inpainting (Yeh et al., CVPR 2017) and AnoGAN scoring (Schlegl et al., IPMI 2017): both fix the
trained G (and D), start from latents drawn from G's prior and run gradient steps on z alone. Here the
networks are put in eval mode (batch norm uses its running statistics, so every sample's loss depends on
its own z only) and their parameters are frozen for the search; both are restored afterwards. Each target
gets ``restarts`` independent starting points and keeps the one with the lowest final loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from gankit.errors import GankitError

# loss_fn(images (R*N, ...), target_index (R*N,)) -> (R*N,) loss of each image against its target
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Eval mode and no parameter gradients for ``modules`` inside the block; their state is restored after."""
    present = [m for m in modules if m is not None]
    modes = [m.training for m in present]
    flags = [[p.requires_grad for p in m.parameters()] for m in present]
    try:
        for module in present:
            module.eval()
            module.requires_grad_(False)
        yield
    finally:
        for module, mode, flag in zip(present, modes, flags, strict=True):
            module.train(mode)
            for parameter, required in zip(module.parameters(), flag, strict=True):
                parameter.requires_grad_(required)


@dataclass
class LatentFit:
    """The best latent per target (N, z_dim), its image G(z) (N, ...) and its final loss (N,)."""

    z: torch.Tensor
    images: torch.Tensor
    loss: torch.Tensor


def optimise_latents(
    generator: nn.Module,
    loss_fn: LossFn,
    count: int,
    *,
    steps: int = 500,
    lr: float = 0.05,
    restarts: int = 1,
    rng: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
) -> LatentFit:
    """Minimise ``loss_fn`` over z with Adam (Kingma & Ba 2015) for each of ``count`` targets.

    ``generator`` is a gankit Generator (``forward(z, y=None)``, ``sample_latent(n, generator)``); latents
    start from its prior, drawn with ``rng``. ``labels`` (count,) are passed on for conditional generators.
    """
    if steps < 0 or restarts < 1 or count < 1:
        raise GankitError(f"latent search: need steps >= 0, restarts >= 1 and targets >= 1 (got {steps}, {restarts})")
    device = next(generator.parameters()).device
    target_index = torch.arange(count, device=device).repeat(restarts)
    y = labels.to(device)[target_index] if labels is not None else None
    z = generator.sample_latent(count * restarts, generator=rng).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=lr)
    with frozen(generator):
        for _ in range(steps):
            optimiser.zero_grad(set_to_none=True)
            loss_fn(generator(z, y), target_index).sum().backward()
            optimiser.step()
        with torch.no_grad():
            images = generator(z, y)
            losses = loss_fn(images, target_index)
    best = losses.reshape(restarts, count).argmin(0)
    pick = best * count + torch.arange(count, device=device)
    return LatentFit(z.detach()[pick], images[pick], losses[pick])
