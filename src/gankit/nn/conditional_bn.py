"""Conditional batch normalisation: a class- or vector-dependent gain and bias after batch norm.

Conditional batch norm (de Vries et al., NeurIPS 2017, "Modulating early visual processing by
language", Sec. 3; Dumoulin et al., ICLR 2017, "A learned representation for artistic style", eq. 3
"conditional instance normalization", here with batch statistics) normalises with the batch's
statistics, without learned affine parameters, then scales and shifts each channel by parameters
chosen by the condition:

    out = BN(x) * gamma(c) + beta(c),    gamma(c) = 1 + delta(c).

Two ways to get delta and beta:

- from a table, one row per class (``num_classes``): delta_y and beta_y are embedding rows;
- from a linear map of a conditioning vector (``cond_dim``): delta(c) = W_g c, beta(c) = W_b c, no
  bias. This is BigGAN's form (Brock et al., ICLR 2019, Sec. 3 and Appendix B): c is the shared class
  embedding concatenated with the block's chunk of z, and the gain is ``1 + linear``.

Both tables start at zero, so a fresh layer is plain batch norm without affine parameters. The
linear maps are ``nn.Linear`` layers, so :func:`gankit.nn.spectral_norm.apply_spectral_norm`
normalises them as BigGAN does; the tables are ``nn.Embedding`` and are left alone.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose per-channel gain ``1 + delta`` and bias depend on a class label or a vector.

    Args:
        num_features: channels C of the (N, C, H, W) input.
        num_classes: > 0 for one (delta, beta) row per class (de Vries et al. 2017; Dumoulin et al. 2017).
        cond_dim: > 0 for delta and beta as bias-free linear maps of a (N, cond_dim) vector (BigGAN).
        eps, momentum: as in :class:`torch.nn.BatchNorm2d` (its running statistics are kept for eval mode).

    Exactly one of ``num_classes`` and ``cond_dim`` is positive. ``forward(x, cond)`` takes integer
    labels (N,) in the first case and a float (N, cond_dim) tensor in the second.
    """

    def __init__(
        self, num_features: int, num_classes: int = 0, cond_dim: int = 0, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        if (num_classes > 0) == (cond_dim > 0):
            raise GankitError(
                "conditional batch norm needs exactly one of num_classes (a table per class) or cond_dim "
                f"(a linear map of a vector); got num_classes={num_classes}, cond_dim={cond_dim}"
            )
        self.num_features, self.num_classes, self.cond_dim = num_features, num_classes, cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        if num_classes > 0:
            self.gain: nn.Module = nn.Embedding(num_classes, num_features)
            self.bias: nn.Module = nn.Embedding(num_classes, num_features)
        else:
            self.gain = nn.Linear(cond_dim, num_features, bias=False)
            self.bias = nn.Linear(cond_dim, num_features, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def _check(self, x: torch.Tensor, cond: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise GankitError(f"conditional batch norm expects (N, {self.num_features}, H, W), got {tuple(x.shape)}")
        if self.num_classes > 0:
            if cond.shape != (len(x),) or cond.dtype not in (torch.int64, torch.int32):
                raise GankitError(
                    f"conditional batch norm with a class table expects integer labels of shape ({len(x)},), "
                    f"got {cond.dtype} {tuple(cond.shape)}"
                )
            if len(cond) and (int(cond.min()) < 0 or int(cond.max()) >= self.num_classes):
                raise GankitError(
                    f"labels must lie in [0, {self.num_classes - 1}]; got [{int(cond.min())}, {int(cond.max())}]"
                )
        elif cond.shape != (len(x), self.cond_dim):
            raise GankitError(
                f"conditional batch norm expects a conditioning vector of shape ({len(x)}, {self.cond_dim}), "
                f"got {tuple(cond.shape)}"
            )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """BN(x) * (1 + delta(cond)) + beta(cond), gain and bias broadcast over H and W."""
        self._check(x, cond)
        gain = 1 + self.gain(cond)
        bias = self.bias(cond)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]
