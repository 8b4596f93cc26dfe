"""Per-pixel noise inputs with a learned per-channel strength (Karras et al., CVPR 2019, "StyleGAN", Sec. 3.2).

After each synthesis convolution, a single-channel image of i.i.d. N(0, 1) noise is broadcast to all
feature maps, scaled by a learned per-channel factor (initialised to 0) and added. The noise controls
stochastic detail (hair, freckles), not identity. Modes:

- ``"random"``: a fresh draw per call from torch's global generator (``torch.randn``); the trainer seeds
  and checkpoints that generator, so runs stay reproducible;
- ``"const"``: a fixed N(0, 1) map stored in the layer as a buffer (saved in checkpoints), for
  reproducible images of a given w;
- ``"none"``: no noise.

An explicit map (``noise=``) overrides the mode; projection (Karras et al. 2020, Sec. 5) optimises them.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError

NOISE_MODES = ("random", "const", "none")


def check_noise_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`NOISE_MODES`, else a one-line error naming them."""
    if mode not in NOISE_MODES:
        raise GankitError(f"unknown noise_mode '{mode}'; valid: {', '.join(NOISE_MODES)}")
    return mode


class NoiseInjection(nn.Module):
    """x + strength[c] * noise[h, w] for (N, channels, resolution, resolution) feature maps (StyleGAN Sec. 3.2).

    Args:
        channels: number of feature maps (one learned strength each, initialised to 0).
        resolution: side of the feature maps (size of the stored ``noise_const`` map).
    """

    def __init__(self, channels: int, resolution: int) -> None:
        super().__init__()
        self.channels, self.resolution = channels, resolution
        self.strength = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, mode: str = "random", noise: torch.Tensor | None = None) -> torch.Tensor:
        """Add noise to ``x``: the explicit ``noise`` map ((N or 1), 1, R, R) if given, else by ``mode``."""
        if noise is None:
            mode = check_noise_mode(mode)
            if mode == "none":
                return x
            if mode == "random":
                noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const
        elif noise.ndim != 4 or noise.shape[1] != 1 or noise.shape[2:] != x.shape[2:]:
            raise GankitError(
                f"noise maps for this layer must have shape (N or 1, 1, {x.shape[2]}, {x.shape[3]}), "
                f"got {tuple(noise.shape)}"
            )
        return x + noise.to(x.dtype) * self.strength.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, resolution={self.resolution}"
