"""BigGAN generator and discriminator (Brock, Donahue & Simonyan, ICLR 2019) at 32, 64 and 128 pixels.

Architecture of the paper's Appendix B (Table 4 for 128x128) with the channel tables and block
layout of the authors' BigGAN-PyTorch (``G_arch`` / ``D_arch``; ``ch`` is ``width`` here):

- G: z -> linear -> 4x4 -> up-sampling residual blocks (cBN, ReLU, nearest 2x up, 3x3 conv, cBN,
  ReLU, 3x3 conv; shortcut: 2x up + 1x1 conv) -> BN, ReLU, 3x3 conv, tanh. Channels (x width):
  32px 4-4-4 (3 blocks), 64px 16-8-4-2 (from 16), 128px 16-8-4-2-1 (from 16).
- Class conditioning in G: a shared class embedding (``shared_dim``) feeds conditional batch norm in
  every block (Sec. 3, "shared embedding"), gains 1 + linear(c) and biases linear(c)
  (:class:`gankit.nn.conditional_bn.ConditionalBatchNorm2d`). With ``hierarchical`` ("skip-z"),
  z is split into one chunk per block plus one for the input linear layer, and block i's
  conditioning vector is concat(shared embedding, chunk i + 1). ``shared_dim=0`` instead gives
  every cBN its own per-class table (BigGAN-PyTorch's CIFAR script, without ``--G_shared``).
- D: residual blocks (the first without pre-activation, its shortcut pooling before the 1x1 conv;
  "wide": hidden channels = output channels), ReLU, global sum pooling, then the projection head
  of Miyato & Koyama (ICLR 2018, eq. 3): D(x, y) = linear(h) + <embed(y), h>. Channels (x width):
  32px 4-4-4-4 (down, down, -, -), 64px 1-2-4-8-16, 128px 1-2-4-8-16-16 (all but the last halve).
- Optional SAGAN self-attention (:class:`gankit.nn.self_attention.SelfAttention2d`) after the first
  block whose output has ``attention_resolution`` pixels (BigGAN: 64 in G and D at 128px;
  StudioGAN's CIFAR config: after G's 2nd and D's 1st block, i.e. 16).

Every weight lives in a plain ``nn.Conv2d`` / ``nn.Linear``, so ``apply_spectral_norm`` normalises
all of them as BigGAN does (cBN's linear maps and attention included). G's shared class embedding is
an ``nn.Embedding`` and is left unnormalised, as in BigGAN-PyTorch ("SN on G's embedding seems to
cripple G"); D's class embedding is the weight of a bias-free ``nn.Linear`` (num_classes -> C), so
that it is spectrally normalised like BigGAN-PyTorch's ``SNEmbedding``.

Trainable parameters (tests assert them), compared with the reference code instantiated with the
same settings (the count of ``sum(p.numel() for p in model.parameters())``):

- BigGAN-PyTorch's CIFAR script (``scripts/launch_cifar_ema.sh``: ch 64, dim_z 128, no shared
  embedding, no hierarchy, no attention, 10 classes): G 4,304,387, D 4,207,361; here width 64,
  z_dim 128, shared_dim 0, hierarchical False.
- StudioGAN's CIFAR-10 BigGAN (``src/configs/CIFAR10/BigGAN.yaml``: z 80, shared 128, g_conv_dim 96,
  d_conv_dim 96, attention after G's 2nd and D's 1st block, projection D): G 9,416,196, D 2,415,170;
  here G width 96, attention 16, and D width 48 (StudioGAN's 32px D has 2 x d_conv_dim channels,
  BigGAN-PyTorch's 4 x ch), attention 16.
- BigGAN-PyTorch at 128px with the paper's settings (``scripts/launch_BigGAN_bs256x8.sh``: ch 96,
  shared 128, hier, dim_z 120, attention 64, 1,000 classes): G 70,433,988, D 87,982,370.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator
from gankit.nn.conditional_bn import ConditionalBatchNorm2d
from gankit.nn.self_attention import SelfAttention2d

# (input multipliers of each block, output multipliers of each block) of G, per resolution.
G_CHANNELS = {
    32: ([4, 4, 4], [4, 4, 4]),
    64: ([16, 16, 8, 4], [16, 8, 4, 2]),
    128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
}
# (output multipliers, down-sampling) of each D block, per resolution.
D_CHANNELS = {
    32: ([4, 4, 4, 4], [True, True, False, False]),
    64: ([1, 2, 4, 8, 16], [True, True, True, True, False]),
    128: ([1, 2, 4, 8, 16, 16], [True, True, True, True, True, False]),
}
BOTTOM = 4
INITS = ("ortho", "N02", "xavier")


def _check_resolution(resolution: int) -> None:
    if resolution not in G_CHANNELS:
        raise GankitError(
            f"BigGAN is defined for {', '.join(map(str, G_CHANNELS))} pixels; set data.resolution to one of them "
            f"(got {resolution})"
        )


def _attention_index(resolutions: list[int], attention_resolution: int) -> int:
    """Index of the first block whose output has ``attention_resolution`` pixels; -1 for none (0)."""
    if attention_resolution == 0:
        return -1
    if attention_resolution not in resolutions:
        raise GankitError(
            f"no block outputs {attention_resolution}x{attention_resolution} features; attention_resolution "
            f"must be 0 (none) or one of {sorted(set(resolutions))}"
        )
    return resolutions.index(attention_resolution)


def initialise(module: nn.Module, scheme: str) -> None:
    """BigGAN's weight initialisations (BigGAN-PyTorch ``init_weights``): ``ortho`` (the paper's, Appendix B),
    ``N02`` (normal, std 0.02; its CIFAR script) or ``xavier``, for every conv, linear and embedding
    weight; biases start at 0."""
    if scheme not in INITS:
        raise GankitError(f"unknown BigGAN initialisation '{scheme}'; choose from {', '.join(INITS)}")
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if scheme == "ortho":
                nn.init.orthogonal_(layer.weight)
            elif scheme == "N02":
                nn.init.normal_(layer.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)


def check_label_values(y: torch.Tensor, n: int, num_classes: int) -> None:
    """The one-line errors for labels that are not n integers in [0, num_classes)."""
    if y.shape != (n,) or y.dtype not in (torch.int64, torch.int32):
        raise GankitError(f"expected {n} integer class labels of shape ({n},), got {y.dtype} {tuple(y.shape)}")
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise GankitError(
            f"class labels must lie in [0, {num_classes - 1}] ({num_classes} classes); "
            f"got [{int(y.min())}, {int(y.max())}]"
        )


class BigGANGBlock(nn.Module):
    """Up-sampling residual block whose two batch norms are conditional (Brock et al. 2019, Fig. 15(b))."""

    def __init__(self, cin: int, cout: int, num_classes: int = 0, cond_dim: int = 0) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes, cond_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes, cond_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """cond: the block's labels (per-class tables) or conditioning vectors (shared embedding [+ z chunk])."""
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class BigGANDBlock(nn.Module):
    """Residual D block (Brock et al. 2019, Fig. 15(c)), optionally halving the size by 2x2 average pooling;
    without pre-activation (the first block) the shortcut pools before its 1x1 conv, else after."""

    def __init__(self, cin: int, cout: int, downsample: bool, preactivation: bool) -> None:
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if (downsample or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x) if self.preactivation else x)))
        skip = x
        if self.downsample:
            h = F.avg_pool2d(h, 2)
            if not self.preactivation:
                skip = F.avg_pool2d(skip, 2)
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        if self.downsample and self.preactivation:
            skip = F.avg_pool2d(skip, 2)
        return h + skip


class BigGANGenerator(Generator):
    """BigGAN generator: z (N, z_dim) and labels (N,) -> images (N, channels, R, R) in [-1, 1].

    Args:
        resolution: 32, 64 or 128.
        channels: image channels (3 for RGB, 1 for MNIST).
        z_dim: latent size; with ``hierarchical`` a multiple of (number of blocks + 1): 4 at 32px,
            5 at 64px, 6 at 128px (the paper uses 120 at 128px).
        width: channel multiplier (BigGAN's ``ch``: 96 in the paper, 64 in BigGAN-PyTorch's CIFAR script).
        num_classes: number of classes (> 0: BigGAN is class-conditional).
        shared_dim: size of the shared class embedding (128 in the paper); 0 for a per-class table in
            every conditional batch norm instead.
        hierarchical: skip-z, one chunk of z per block and one for the input layer (needs shared_dim > 0).
        attention_resolution: resolution of the self-attention block (0: none).
        init: ``ortho`` (paper), ``N02`` or ``xavier``.
    """

    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        z_dim: int = 128,
        width: int = 64,
        num_classes: int = 10,
        shared_dim: int = 128,
        hierarchical: bool = True,
        attention_resolution: int = 0,
        init: str = "ortho",
    ) -> None:
        _check_resolution(resolution)
        if num_classes < 1:
            raise GankitError(
                "BigGAN's generator is class-conditional (conditional batch norm on the class); "
                "train on a labelled data set with labels on, or use model.arch=resnet for unconditional runs"
            )
        ins, outs = G_CHANNELS[resolution]
        slots = len(outs) + 1
        if hierarchical and shared_dim < 1:
            raise GankitError(
                "hierarchical z (skip-z) feeds z chunks with the shared class embedding; set shared_dim > 0"
            )
        if hierarchical and z_dim % slots:
            lower = z_dim - z_dim % slots
            raise GankitError(
                f"hierarchical z at {resolution}px splits z into {slots} equal chunks ({len(outs)} blocks + input); "
                f"z_dim must be a multiple of {slots}: use {lower or slots} or {lower + slots} (got {z_dim})"
            )
        super().__init__(z_dim, (channels, resolution, resolution), num_classes)
        self.resolution, self.width, self.shared_dim, self.hierarchical = resolution, width, shared_dim, hierarchical
        self.chunk_size = z_dim // slots if hierarchical else 0
        self.shared = nn.Embedding(num_classes, shared_dim) if shared_dim > 0 else None
        table, cond_dim = (0, shared_dim + self.chunk_size) if shared_dim > 0 else (num_classes, 0)
        self.linear = nn.Linear(self.chunk_size or z_dim, ins[0] * width * BOTTOM * BOTTOM)
        self.blocks = nn.ModuleList(
            BigGANGBlock(i * width, o * width, table, cond_dim) for i, o in zip(ins, outs, strict=True)
        )
        block_resolutions = [BOTTOM * 2 ** (k + 1) for k in range(len(outs))]
        self.attention_index = _attention_index(block_resolutions, attention_resolution)
        self.attention = SelfAttention2d(outs[self.attention_index] * width) if self.attention_index >= 0 else None
        self.out_bn = nn.BatchNorm2d(outs[-1] * width)
        self.out_conv = nn.Conv2d(outs[-1] * width, channels, 3, 1, 1)
        initialise(self, init)

    def block_conditions(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The input of the first linear layer and each block's conditioning: concat(shared(y), z chunk)
        with skip-z (Brock et al. 2019, Sec. 3), shared(y) without, or the labels for per-class tables."""
        if self.shared is None:
            return z, [y] * len(self.blocks)
        embedding = self.shared(y)
        if not self.hierarchical:
            return z, [embedding] * len(self.blocks)
        first, *chunks = z.split(self.chunk_size, dim=1)
        return first, [torch.cat([embedding, chunk], dim=1) for chunk in chunks]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise GankitError(f"expected latents of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        check_label_values(y, len(z), self.num_classes)
        h, conditions = self.block_conditions(z, y)
        h = self.linear(h).view(len(z), -1, BOTTOM, BOTTOM)
        for index, (block, cond) in enumerate(zip(self.blocks, conditions, strict=True)):
            h = block(h, cond)
            if index == self.attention_index:
                h = self.attention(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class BigGANDiscriminator(Discriminator):
    """BigGAN discriminator with the projection head: images (N, channels, R, R) and labels (N,) -> logits (N,).

    Args:
        resolution: 32, 64 or 128.
        channels: image channels.
        width: channel multiplier (BigGAN's ``ch``).
        num_classes: > 0 adds the projection term <embed(y), h> (Miyato & Koyama 2018); 0 gives the plain
            unconditional head (and allows ``out_features`` > 1, e.g. as an MMD critic).
        attention_resolution: resolution of the self-attention block (0: none).
        out_features: 1 for a logit.
        init: ``ortho`` (paper), ``N02`` or ``xavier``.
    """

    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        width: int = 64,
        num_classes: int = 10,
        attention_resolution: int = 0,
        out_features: int = 1,
        init: str = "ortho",
    ) -> None:
        _check_resolution(resolution)
        if num_classes > 0 and out_features != 1:
            raise GankitError(
                "the projection discriminator gives one logit per sample; out_features > 1 (critic features) "
                "is for the unconditional BigGAN discriminator (num_classes=0)"
            )
        super().__init__((channels, resolution, resolution), num_classes, out_features)
        outs, downs = D_CHANNELS[resolution]
        cins = [channels] + [o * width for o in outs[:-1]]
        self.blocks = nn.ModuleList(
            BigGANDBlock(cin, o * width, down, preactivation=k > 0)
            for k, (cin, o, down) in enumerate(zip(cins, outs, downs, strict=True))
        )
        block_resolutions, size = [], resolution
        for down in downs:
            size //= 2 if down else 1
            block_resolutions.append(size)
        self.attention_index = _attention_index(block_resolutions, attention_resolution)
        self.attention = SelfAttention2d(outs[self.attention_index] * width) if self.attention_index >= 0 else None
        self.feature_dim = outs[-1] * width
        self.linear = nn.Linear(self.feature_dim, out_features)
        self.embed = nn.Linear(num_classes, self.feature_dim, bias=False) if num_classes > 0 else None
        initialise(self, init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h (N, C): the residual blocks, ReLU and global sum pooling (the input of the heads)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
            shape = ", ".join(map(str, self.in_shape))
            raise GankitError(f"expected images of shape (N, {shape}), got {tuple(x.shape)}")
        h = x
        for index, block in enumerate(self.blocks):
            h = block(h)
            if index == self.attention_index:
                h = self.attention(h)
        return F.relu(h).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """linear(h) + <embed(y), h> (Miyato & Koyama 2018, eq. 3); linear(h) alone when unconditional."""
        self.check_labels(y)
        h = self.features(x)
        out = self.linear(h)
        if self.embed is not None:
            check_label_values(y, len(x), self.num_classes)
            out = out + (self.class_embedding(y) * h).sum(dim=1, keepdim=True)
        return self.output(out)
