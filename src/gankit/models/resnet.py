"""ResNet generator and discriminator of the SNGAN and WGAN-GP CIFAR-10 experiments (32x32).

Architecture of Miyato et al., ICLR 2018, Table 4 (b)/(c) ("Spectral normalization for GANs"), which
takes the residual networks of Gulrajani et al., NeurIPS 2017 ("Improved training of Wasserstein GANs",
Appendix F):

- G: z (128) -> linear -> 4x4xC -> 3 up-sampling residual blocks (BN, ReLU, nearest 2x up, 3x3 conv,
  BN, ReLU, 3x3 conv; shortcut: up-sample + 1x1 conv) -> BN, ReLU, 3x3 conv -> 3 channels, tanh.
- D: an "optimised" first block (3x3 conv, ReLU, 3x3 conv, 2x2 average pool; shortcut: pool + 1x1
  conv), one down-sampling block, two plain blocks (pre-activation ReLU, 3x3 convs; identity
  shortcut), ReLU, global sum pooling, linear -> 1.

Trainable parameters (counted layer by layer from those tables; tests assert them):

- SNGAN: G with C = 256: 4,276,739; D with 128 channels: 1,053,825.
- WGAN-GP: G with C = 128: 1,204,483; the same D (1,053,825).

Weights use Xavier-uniform initialisation (gain sqrt(2) inside residual branches, 1 elsewhere) as in
the SNGAN reference code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator


def _conv(cin: int, cout: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _check_resolution(resolution: int) -> None:
    if resolution != 32:
        raise GankitError(
            f"the ResNet models are the 32x32 CIFAR-10 networks; set data.resolution=32 (got {resolution})"
        )


class GBlock(nn.Module):
    """Pre-activation residual block that doubles the spatial size (nearest-neighbour up-sampling)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1, self.conv2 = _conv(cin, cout, 3, math.sqrt(2)), _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DBlock(nn.Module):
    """Pre-activation residual block, optionally halving the size (2x2 average pooling)."""

    def __init__(self, cin: int, cout: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1, self.conv2 = _conv(cin, cout, 3, math.sqrt(2)), _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1, 1.0) if (downsample or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class OptimizedDBlock(nn.Module):
    """First D block: no pre-activation; the shortcut pools before its 1x1 convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(cin, cout, 3, math.sqrt(2)), _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class ResNetGenerator32(Generator):
    """SNGAN / WGAN-GP CIFAR-10 ResNet generator: z (N, z_dim) -> (N, channels, 32, 32) in [-1, 1]."""

    def __init__(
        self, z_dim: int = 128, channels: int = 3, width: int = 256, resolution: int = 32, num_classes: int = 0
    ) -> None:
        _check_resolution(resolution)
        super().__init__(z_dim, (channels, 32, 32), num_classes)
        self.width = width
        self.linear = nn.Linear(self.input_dim, 4 * 4 * width)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.blocks = nn.Sequential(GBlock(width, width), GBlock(width, width), GBlock(width, width))
        self.bn = nn.BatchNorm2d(width)
        self.out = _conv(width, channels, 3, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.blocks(self.linear(self.condition(z, y)).view(-1, self.width, 4, 4))
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator32(Discriminator):
    """SNGAN / WGAN-GP CIFAR-10 ResNet discriminator: (N, channels, 32, 32) -> logit (N,)."""

    def __init__(
        self,
        channels: int = 3,
        width: int = 128,
        resolution: int = 32,
        out_features: int = 1,
        num_classes: int = 0,
        conditioning: str = "projection",
    ) -> None:
        _check_resolution(resolution)
        super().__init__((channels, 32, 32), num_classes, out_features, conditioning)
        self.blocks = nn.Sequential(
            OptimizedDBlock(self.input_channels, width),
            DBlock(width, width, downsample=True),
            DBlock(width, width, downsample=False),
            DBlock(width, width, downsample=False),
        )
        self.linear = nn.Linear(width, out_features)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.init_projection(width)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(self.condition_input(x, y))).sum(dim=(2, 3))
        return self.output(self.linear(h), h, y)
