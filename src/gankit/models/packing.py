"""Packing (PacGAN: Lin, Khetan, Fanti & Oh, NeurIPS 2018, Sec. 3 "Packing"): the discriminator judges m samples
at once, all real or all generated, concatenated into one input: vectors side by side (m * D features), images
along the channel axis (m * C channels), so that any discriminator becomes a packed one by widening its first
layer. A packed discriminator sees the product distribution P^m against Q^m, whose total variation grows with m
much faster for a generator that drops modes than for one that covers them (their Theorem 3, the
"mode-collapse region"), which is why packing penalises mode collapse.

Rows ``j m .. j m + m - 1`` of a batch form pack ``j``: the rows of a real or of a generated batch are independent
draws, so consecutive rows are as good a grouping as any. Every objective calls D on whole batches, so packing
is invisible to it, with these consequences (all checked by the tests):

- the logistic, hinge and Wasserstein losses average over the N / m packs (one logit per pack);
- an MMD critic returns one feature vector per pack, and the MMD GAN compares P^m with Q^m under the kernel on
  the packed features (the MMD of the product measures);
- the input-gradient penalties differentiate the packed logit with respect to each sample of the pack, and
  take norms per sample: R1/R2 (Mescheder et al. 2018, eq. 9) become
  E_packs ||grad_pack D||^2 / m (the packed input's R1 with gamma / m), and the WGAN-GP norm
  (Gulrajani et al. 2017, eq. 3) is that of each sample's block of the packed gradient (a pack's norm tends to
  sqrt(m)); the interpolates are drawn per sample, so a packed interpolate mixes each of its samples with its
  own weight.

Conditional discriminators are refused: a pack would mix classes and a projection term has no single label.
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError
from gankit.models.base import Discriminator


def packed_shape(shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The input shape of the network inside a packed discriminator: (m D,) for vectors, (m C, H, W) for images."""
    return (shape[0] * pack, *shape[1:])


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(N, C, ...) -> (N / m, m C, ...): rows j m .. j m + m - 1 concatenated along the feature/channel axis
    (Lin et al. 2018, Sec. 3); the features of row j m + i come at positions i C .. i C + C - 1."""
    if len(x) % pack:
        raise GankitError(
            f"model.pack={pack} packs {pack} samples per discriminator input, but a batch has {len(x)} rows; "
            f"use a (per-process, per-round) batch size that is a multiple of {pack}"
        )
    return x.reshape(len(x) // pack, pack * x.shape[1], *x.shape[2:])


class PackedDiscriminator(Discriminator):
    """Any unconditional discriminator ``inner`` (built for inputs of :func:`packed_shape`) applied to packs of
    ``pack`` samples: (N, *shape) -> N / m logits (or N / m critic feature vectors). PacGAN's discriminator
    (Lin et al. 2018, Sec. 3)."""

    def __init__(self, inner: Discriminator, pack: int, in_shape: tuple[int, ...]) -> None:
        if pack < 1:
            raise GankitError(f"model.pack must be >= 1, got {pack}")
        if inner.num_classes:
            raise GankitError("model.pack > 1 needs an unconditional discriminator; set data.conditional=false")
        if tuple(inner.in_shape) != packed_shape(tuple(in_shape), pack):
            raise GankitError(
                f"the packed network takes inputs of shape {tuple(inner.in_shape)}, "
                f"expected {packed_shape(tuple(in_shape), pack)} for model.pack={pack}"
            )
        super().__init__(in_shape, 0, inner.out_features)
        self.inner = inner
        self.pack = pack

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        if tuple(x.shape[1:]) != self.in_shape:
            raise GankitError(f"the discriminator takes samples of shape {self.in_shape}, got {tuple(x.shape[1:])}")
        return self.inner(pack_samples(x, self.pack))


__all__ = ["PackedDiscriminator", "pack_samples", "packed_shape"]
