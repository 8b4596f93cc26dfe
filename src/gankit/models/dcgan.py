"""DCGAN generator and discriminator (Radford, Metz & Chintala, ICLR 2016) for square images of 8..128 px.

G: z -> 4x4 feature map by a 4x4 transposed convolution, then stride-2 4x4 transposed convolutions
with batch norm and ReLU, halving the channels and doubling the size, to a tanh output. D mirrors it
with stride-2 4x4 convolutions, batch norm (not on the first layer; ``norm="none"`` drops it, as
critics with gradient penalties or spectral normalisation need) and LeakyReLU(0.2), ending in a
4x4 convolution to one logit. Weights start from N(0, 0.02), batch-norm scales from N(1, 0.02),
as in the paper (Section 4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator


def _stages(resolution: int) -> int:
    stages = int(math.log2(resolution)) - 2 if resolution > 0 else -1
    if resolution not in (8, 16, 32, 64, 128) or 2 ** (stages + 2) != resolution:
        raise GankitError(f"the DCGAN needs data.resolution in 8, 16, 32, 64, 128; got {resolution}")
    return stages


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(Generator):
    """z (N, z_dim) -> images (N, channels, R, R) in [-1, 1]; ``width`` is the channel count at R/2."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64, num_classes: int = 0) -> None:
        super().__init__(z_dim, (channels, resolution, resolution), num_classes)
        stages = _stages(resolution)
        ch = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.input_dim, ch, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.condition(z, y)[:, :, None, None])


class DCGANDiscriminator(Discriminator):
    """images (N, channels, R, R) -> logit (N,); ``width`` is the channel count of the first layer."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int = 64,
        norm: str = "batch",
        out_features: int = 1,
        num_classes: int = 0,
        conditioning: str = "projection",
    ) -> None:
        super().__init__((channels, resolution, resolution), num_classes, out_features, conditioning)
        stages = _stages(resolution)
        batchnorm = norm == "batch"
        layers: list[nn.Module] = [nn.Conv2d(self.input_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for _ in range(stages - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
        layers.append(nn.Conv2d(ch, out_features, 4, 1, 0))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        self.init_projection(ch * 16)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.net[:-1](self.condition_input(x, y))
        return self.output(self.net[-1](h), h, y)
