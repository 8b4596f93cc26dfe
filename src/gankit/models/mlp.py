"""Fully connected generator and discriminator for low-dimensional data (the 2-D toy mixtures).

The shape follows the toy experiments of VEEGAN (Srivastava et al. 2017) and Unrolled GAN (Metz et
al. 2017): a few hidden layers of equal width, ReLU in G and LeakyReLU(0.2) in D, a linear output.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.base import Discriminator, Generator


def _stack(in_dim: int, width: int, depth: int, out_dim: int, activation: type[nn.Module], **kw) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_dim if i == 0 else width, width), activation(**kw)]
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(Generator):
    """z (N, z_dim) -> x (N, out_dim) through ``depth`` ReLU layers of ``width`` units."""

    def __init__(self, z_dim: int, out_dim: int, width: int = 128, depth: int = 3, num_classes: int = 0) -> None:
        super().__init__(z_dim, (out_dim,), num_classes)
        self.net = _stack(self.input_dim, width, depth, out_dim, nn.ReLU)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.condition(z, y))


class MLPDiscriminator(Discriminator):
    """x (N, in_dim) -> logit (N,) through ``depth`` LeakyReLU(0.2) layers of ``width`` units."""

    def __init__(
        self,
        in_dim: int,
        width: int = 128,
        depth: int = 3,
        out_features: int = 1,
        num_classes: int = 0,
        conditioning: str = "projection",
    ) -> None:
        super().__init__((in_dim,), num_classes, out_features, conditioning)
        self.net = _stack(self.input_channels, width, depth, out_features, nn.LeakyReLU, negative_slope=0.2)
        self.init_projection(width)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.net[:-1](self.condition_input(x, y))
        return self.output(self.net[-1](h), h, y)
