"""What every generator and discriminator in gankit shares: latent sampling and optional labels.

Labels are an optional input everywhere (``forward(z, y=None)``, ``forward(x, y=None)``) so that
conditional models (Mirza & Osindero 2014; BigGAN) plug into the same loop; an unconditional model
given labels, or a conditional one given none, is an error rather than a silent guess.
"""

from __future__ import annotations

import torch
from torch import nn


class LabelledModule(nn.Module):
    """A module whose forward takes optional class labels; ``num_classes == 0`` means unconditional."""

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes

    def check_labels(self, y: torch.Tensor | None) -> None:
        """Raise if labels are given to an unconditional model or missing for a conditional one."""
        if self.num_classes == 0 and y is not None:
            raise ValueError(f"{type(self).__name__} is unconditional; call it without labels")
        if self.num_classes > 0 and y is None:
            raise ValueError(f"{type(self).__name__} is conditional on {self.num_classes} classes; pass labels y")


class Generator(LabelledModule):
    """Base class: maps latent codes ``z`` (N, z_dim) and optional labels ``y`` to samples."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(num_classes)
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)

    def sample_latent(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Draw ``n`` latent codes from the standard normal prior N(0, I)."""
        z = torch.randn(n, self.z_dim, generator=generator, device=generator.device if generator else None)
        return z.to(device) if device is not None else z


class Discriminator(LabelledModule):
    """Base class: maps samples ``x`` and optional labels ``y`` to one real-valued logit per sample, or,
    with ``out_features`` > 1, to a feature vector per sample (the critic of an MMD GAN)."""

    def __init__(self, in_shape: tuple[int, ...], num_classes: int = 0, out_features: int = 1) -> None:
        super().__init__(num_classes)
        self.in_shape = tuple(in_shape)
        self.out_features = out_features

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """(N, out_features) -> (N,) logits when there is one output, else the (N, k) features."""
        h = h.flatten(1)
        return h.squeeze(1) if self.out_features == 1 else h


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (what papers report as the model's size)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
