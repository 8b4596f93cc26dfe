"""The 2-D networks of PacGAN's synthetic experiments (Lin et al., NeurIPS 2018, Table 1; the architecture of
VEEGAN's and ALI's mixture experiments), as the authors' code builds them (github.com/fjxmlzn/PacGAN,
``synthetic_data_experiments/2DRing_GAN&PacGAN``: ``config.py`` and ``pacgan_task.py``):

- generator: z (2-d standard normal) -> 4 hidden layers of 400 units, each linear without bias, batch
  normalisation (population statistics updated with rate 0.05) and ReLU -> linear output with bias;
- discriminator: 3 hidden LinearMaxout layers of 200 units with 5 pieces each (Goodfellow et al., ICML 2013,
  "Maxout networks": h_i = max_k (W_k x + b_k)_i) -> linear logit, no normalisation;
- every weight drawn from N(0, 0.02^2), every bias 0.

The discriminator's input width is the data's times the packing degree (``model.pack``, see
:mod:`gankit.models.packing`), as in PacGAN, where D's first layer takes ``num_xdim * num_packing`` inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.base import Discriminator, Generator

INIT_STD = 0.02
BN_MOMENTUM = 0.05
G_HIDDEN = 4
D_HIDDEN = 3
PIECES = 5


def _init_normal(module: nn.Module, std: float = INIT_STD) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class LinearMaxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013, eq. 1): ``pieces`` affine maps to ``out_features`` units and the
    maximum over the pieces of each unit."""

    def __init__(self, in_features: int, out_features: int, pieces: int = PIECES) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.out_features, self.pieces).amax(dim=2)


class MaxoutMLPGenerator(Generator):
    """z (N, z_dim) -> x (N, out_dim) through ``hidden`` x (bias-free linear, batch norm, ReLU) of ``width`` units
    (PacGAN's and VEEGAN's 2-D generator, Lin et al. 2018)."""

    def __init__(self, z_dim: int, out_dim: int, width: int = 400, hidden: int = G_HIDDEN) -> None:
        super().__init__(z_dim, (out_dim,), 0)
        layers: list[nn.Module] = []
        for i in range(hidden):
            layers += [
                nn.Linear(z_dim if i == 0 else width, width, bias=False),
                nn.BatchNorm1d(width, momentum=BN_MOMENTUM),
                nn.ReLU(),
            ]
        self.net = nn.Sequential(*layers, nn.Linear(width, out_dim))
        _init_normal(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.condition(z, y))


class MaxoutMLPDiscriminator(Discriminator):
    """x (N, in_dim) -> logit (N,) through ``hidden`` LinearMaxout layers of ``width`` units and ``pieces`` pieces
    (PacGAN's 2-D discriminator, Lin et al. 2018), or ``out_features`` critic features."""

    def __init__(
        self, in_dim: int, width: int = 200, hidden: int = D_HIDDEN, pieces: int = PIECES, out_features: int = 1
    ) -> None:
        super().__init__((in_dim,), 0, out_features)
        layers = [LinearMaxout(in_dim if i == 0 else width, width, pieces) for i in range(hidden)]
        self.net = nn.Sequential(*layers, nn.Linear(width, out_features))
        _init_normal(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        return self.output(self.net(x))


__all__ = ["LinearMaxout", "MaxoutMLPDiscriminator", "MaxoutMLPGenerator"]
