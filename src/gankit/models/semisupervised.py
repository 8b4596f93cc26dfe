"""The fully connected networks of Salimans et al.'s semi-supervised MNIST experiment (NeurIPS 2016, "Improved
techniques for training GANs", Sec. 6.1; their released ``train_mnist_feature_matching``): the K-class
discriminator and the generator (``model.arch=ssmlp``).

784 inputs -> 1000 -> 500 -> 250 -> 250 -> 250 ReLU units -> K logits, every layer weight-normalised
(Salimans & Kingma, NeurIPS 2016: w = g v / ||v||), Gaussian noise of standard deviation 0.3 added to the
input and 0.5 to every hidden layer's output while training. ``features(x)`` is the last hidden layer (250
units, before its noise), the layer their feature matching uses. The (K+1)-th, generated, class has its logit
fixed at 0 (see :mod:`gankit.objectives.semisupervised`), so the network has K outputs.

Kept from the paper: the layer sizes, the noise levels (on inputs rescaled to their [0, 1]: gankit's [-1, 1]
images are mapped by (x + 1) / 2 first), weight normalisation on every layer and the data-dependent
initialisation of Salimans & Kingma (Sec. 3), available as :meth:`initialize`. Changed: PyTorch's weight
normalisation trains the scale g of every layer (their hidden layers keep g fixed after initialisation), and
no Polyak average of the weights is kept here (their test error uses one).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator

SALIMANS_WIDTHS = (1000, 500, 250, 250, 250)
SALIMANS_G_WIDTHS = (500, 500)


class _BatchNormSoftplus(nn.Module):
    """Linear (no bias) -> batch norm without a learned scale -> + bias -> softplus: their ``batch_norm(Dense(...),
    g=None)`` layer, which normalises the pre-activations and keeps only a learned shift."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.norm = nn.BatchNorm1d(out_features, affine=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.norm(self.linear(h)) + self.bias)


class SemiSupervisedMLPGenerator(Generator):
    """Salimans et al.'s MNIST generator: z -> 500 -> 500 softplus units with batch norm -> a weight-normalised
    linear layer to the image with a sigmoid, rescaled to gankit's [-1, 1] (2 sigmoid(h) - 1). Their latent is
    U(0, 1)^100; gankit's generators draw z from N(0, I), kept here."""

    def __init__(
        self, z_dim: int, out_shape: tuple[int, ...], num_classes: int = 0, widths: tuple[int, ...] = SALIMANS_G_WIDTHS
    ) -> None:
        if num_classes:
            raise GankitError("model.arch=ssmlp is unconditional (D's outputs are the classes); data.conditional=false")
        super().__init__(z_dim, out_shape, num_classes)
        sizes = [z_dim, *widths]
        self.hidden = nn.Sequential(*(_BatchNormSoftplus(a, b) for a, b in itertools.pairwise(sizes)))
        self.out = weight_norm(nn.Linear(sizes[-1], math.prod(self.out_shape)))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.hidden(self.condition(z, y))
        return (2 * torch.sigmoid(self.out(h)) - 1).view(len(z), *self.out_shape)


class SemiSupervisedMLPDiscriminator(Discriminator):
    """images (N, *in_shape) in [-1, 1] -> K class logits (N, K); ``features(x)`` -> (N, widths[-1])."""

    def __init__(
        self,
        in_shape: tuple[int, ...] = (1, 28, 28),
        num_classes: int = 0,
        out_features: int = 10,
        widths: tuple[int, ...] = SALIMANS_WIDTHS,
        input_noise: float = 0.3,
        hidden_noise: float = 0.5,
    ) -> None:
        if out_features < 2:
            raise GankitError(f"the K+1-class discriminator needs out_features=K >= 2 classes; got {out_features}")
        if not widths:
            raise GankitError("the semi-supervised discriminator needs at least one hidden layer width")
        super().__init__(in_shape, num_classes, out_features)
        self.input_noise, self.hidden_noise = input_noise, hidden_noise
        sizes = [math.prod(self.in_shape), *widths]
        self.hidden = nn.ModuleList(weight_norm(nn.Linear(a, b)) for a, b in itertools.pairwise(sizes))
        self.head = weight_norm(nn.Linear(sizes[-1], out_features))
        for layer in [*self.hidden, self.head]:
            nn.init.normal_(layer.parametrizations.weight.original1, 0.0, 0.05)
            nn.init.zeros_(layer.bias)

    def _noise(self, h: torch.Tensor, sigma: float) -> torch.Tensor:
        return h + sigma * torch.randn_like(h) if self.training and sigma > 0 else h

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise GankitError(
                f"{type(self).__name__} takes inputs of shape {self.in_shape}; got {tuple(x.shape[1:])}: "
                "resize the images to the model's resolution"
            )
        return self._noise((x.flatten(1) + 1) / 2, self.input_noise)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's ReLU output (N, widths[-1]): the features of feature matching (Sec. 3.1)."""
        h = self._input(x)
        for i, layer in enumerate(self.hidden):
            h = F.relu(layer(h))
            if i < len(self.hidden) - 1:
                h = self._noise(h, self.hidden_noise)
        return h

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        return self.output(self.head(self._noise(self.features(x), self.hidden_noise)))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation (Salimans & Kingma 2016, Sec. 3): layer by layer, set g and b so that the
        pre-activations on the batch ``x`` have zero mean and unit variance per unit (noise as in training)."""
        if len(x) < 2:
            raise GankitError(f"data-dependent initialisation needs a batch of at least 2 inputs; got {len(x)}")
        h = self._input(x)
        layers = [*self.hidden, self.head]
        for i, layer in enumerate(layers):
            v = layer.parametrizations.weight.original1
            t = h @ (v / v.norm(dim=1, keepdim=True)).T
            mean, std = t.mean(0), t.std(0).clamp_min(1e-6)
            layer.parametrizations.weight.original0.copy_((1 / std)[:, None])
            layer.bias.copy_(-mean / std)
            if i < len(self.hidden):
                h = self._noise(F.relu(layer(h)), self.hidden_noise)
