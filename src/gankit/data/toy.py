"""2-D toy distributions sampled on the fly: the ring and grid mixtures of VEEGAN / PacGAN, and a spiral.

Srivastava et al. (NeurIPS 2017, VEEGAN) and Lin et al. (NeurIPS 2018, PacGAN) use a ring of 8
Gaussians (radius 1... 2, std 0.01... 0.02) and a 5x5 grid of Gaussians at {-4,-2,0,2,4}^2 (std 0.05)
to measure mode collapse; the mode centres returned here are what the mode-coverage metric compares to.
"""

from __future__ import annotations

import math

import torch


def ring_centers(n_modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """Centres of a ring mixture: ``n_modes`` points at angles 2*pi*k/n_modes on a circle of ``radius``."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """Centres of a ``side`` x ``side`` grid mixture, centred on 0 (default: {-4,-2,0,2,4}^2)."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def sample_mixture(
    centers: torch.Tensor, std: float, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` draws from the equal-weight isotropic Gaussian mixture N(c_k, std^2 I); returns (points, mode)."""
    modes = torch.randint(len(centers), (n,), generator=generator)
    noise = torch.randn(n, centers.shape[1], generator=generator)
    return centers[modes] + std * noise, modes


def sample_spiral(n: int, generator: torch.Generator, std: float = 0.05) -> torch.Tensor:
    """``n`` points on a two-turn Archimedean spiral r = theta / (2 pi) scaled to radius 2, plus noise."""
    t = torch.rand(n, generator=generator).sqrt() * (4 * math.pi)
    radius = 2.0 * t / (4 * math.pi)
    points = torch.stack([radius * t.cos(), radius * t.sin()], dim=1)
    return points + std * torch.randn(n, 2, generator=generator)
