"""Minibatch standard deviation (Karras et al., ICLR 2018, "Progressive growing of GANs", Sec. 3).

The batch is split into groups of ``group_size`` samples (StyleGAN2: 4); within each group, the standard
deviation of every feature at every position is taken over the group's samples, averaged over the
channels and positions of each of ``num_features`` channel slices (StyleGAN2: 1 slice, i.e. all
channels), and appended as ``num_features`` constant feature maps to every sample of the group. It lets
the discriminator see the variety of a batch, which discourages mode collapse.

Group membership follows the reference layout: with M = N / group_size groups, sample n belongs to group
n mod M (the batch is reshaped to (group_size, M, ...)).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError

STD_EPS = 1e-8


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_features: int = 1) -> torch.Tensor:
    """(N, C, H, W) -> (N, C + num_features, H, W): Karras et al. 2018 Sec. 3 with StyleGAN2's groups.

    The group size is min(group_size, N); N must be a multiple of it, and C a multiple of ``num_features``.
    """
    if x.ndim != 4:
        raise GankitError(f"minibatch_stddev needs (N, C, H, W) feature maps, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    g = min(group_size, n)
    if g < 1 or n % g:
        raise GankitError(
            f"minibatch-stddev group size {g} does not divide the batch of {n}; use a batch size that is a "
            f"multiple of {g} (or change the group size)"
        )
    if num_features < 1 or c % num_features:
        raise GankitError(f"minibatch-stddev: {c} channels cannot be split into {num_features} feature slices")
    y = x.reshape(g, n // g, num_features, c // num_features, h, w)
    y = (y.var(dim=0, unbiased=False) + STD_EPS).sqrt()  # (M, F, C/F, H, W)
    y = y.mean(dim=(2, 3, 4))  # (M, F)
    y = y.reshape(1, n // g, num_features, 1, 1).expand(g, -1, -1, h, w).reshape(n, num_features, h, w)
    return torch.cat([x, y], dim=1)


class MinibatchStdDev(nn.Module):
    """Module form of :func:`minibatch_stddev` (Karras et al. 2018 Sec. 3; StyleGAN2: group 4, one feature)."""

    def __init__(self, group_size: int = 4, num_features: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_features = group_size, num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group_size, self.num_features)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"
