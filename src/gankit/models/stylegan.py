"""StyleGAN2 generator and residual discriminator (Karras et al., CVPR 2020, "Analyzing and improving the image
quality of StyleGAN"; configuration E/F: skip generator, residual discriminator).

Generator = mapping network + synthesis network:

- mapping (StyleGAN, Karras et al. CVPR 2019, Sec. 2): z is normalised to unit second moment, optionally
  concatenated with a normalised class embedding (StyleGAN2-ADA's conditional mapping), and passed through
  ``mapping_layers`` equalized-learning-rate fully connected layers (LeakyReLU, learning-rate multiplier
  0.01) to w. w is broadcast to ``num_ws`` copies ("w+" layout, one w per layer). A running average
  ``w_avg`` (EMA, beta 0.995) serves the truncation trick (StyleGAN Sec. 3.3 / Appendix B):
  w' = w_avg + psi (w - w_avg) for the layers below ``cutoff``.
- synthesis (StyleGAN2 Fig. 2d and 7): a learned 4x4 constant, then per resolution two 3x3 modulated and
  demodulated convolutions (the first up-samples 2x, see :mod:`gankit.nn.modulated_conv`),
  each followed by per-pixel noise (:mod:`gankit.nn.noise`), a bias and LeakyReLU(0.2) * sqrt(2); a 1x1
  modulated, non-demodulated toRGB per resolution whose outputs are up-sampled and summed ("skip"
  architecture). The output is linear (no tanh), as in the paper; images are near [-1, 1].
- style indices: the block at 4x4 uses w_0 (conv) and w_1 (toRGB); the block at 2^k uses w_{2k-5}, w_{2k-4}
  (its two convolutions) and w_{2k-3} (toRGB, shared with the next block's first convolution), so
  ``num_ws = 2 log2(R) - 2`` (8 at 32x32, 14 at 256x256).

Discriminator (StyleGAN2 Fig. 7c, "residual"): fromRGB (1x1 conv) at full resolution, then per resolution
a residual block (3x3 conv, 3x3 conv, 2x down-sampling; shortcut: down-sampling and 1x1 conv without bias;
the sum is scaled by 1/sqrt(2)), then at 4x4 minibatch standard deviation (group 4, one feature), a 3x3
conv, a fully connected layer and the output layer. Conditional: the output is the projection
<h, embed(y)> / sqrt(dim) (Miyato & Koyama 2018, as StyleGAN2-ADA).

Resampling uses the paper's [1, 3, 3, 1] FIR filter everywhere (:mod:`gankit.nn.resample`, plain PyTorch
depthwise convolutions; the up-sampling filter is bilinear interpolation away from the border), with the
paper's cost-saving order: transposed stride-2 convolution then filter when up-sampling, filter then
stride-2 convolution when down-sampling.

Widths follow StyleGAN2-ADA: min(channel_base / resolution, channel_max) channels at each resolution.
Resolutions must be powers of two >= 4: 28x28 data (MNIST, Fashion-MNIST) is trained at data.resolution=32.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator
from gankit.nn.equalized import EqualizedConv2d, EqualizedLinear, scaled_lrelu
from gankit.nn.minibatch_std import MinibatchStdDev
from gankit.nn.modulated_conv import ModulatedConv2d
from gankit.nn.noise import NoiseInjection, check_noise_mode
from gankit.nn.resample import upsample_2x


def _log2_resolution(resolution: int) -> int:
    log2 = int(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise GankitError(
            f"StyleGAN2 needs a power-of-two resolution >= 4, got {resolution}; set data.resolution=32 "
            "(28x28 MNIST / Fashion-MNIST are resized to 32)"
        )
    return log2


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at ``resolution``: min(channel_base // resolution, channel_max) (StyleGAN2-ADA)."""
    channels = min(channel_base // resolution, channel_max)
    if channels < 1:
        raise GankitError(
            f"channel_base {channel_base} leaves no channels at {resolution}x{resolution}; "
            f"raise channel_base to at least {resolution}"
        )
    return channels


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) along dim 1 (StyleGAN's "pixel norm" of z, Karras et al. 2018 Sec. 4.2)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def _one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    if y.ndim != 1 or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise GankitError(f"labels must be a 1-d integer tensor of class indices, got {y.dtype} {tuple(y.shape)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise GankitError(f"labels must lie in [0, {num_classes - 1}], got values in [{int(y.min())}, {int(y.max())}]")
    return F.one_hot(y.long(), num_classes).float()


class MappingNetwork(nn.Module):
    """z (N, z_dim) [+ labels] -> ws (N, num_ws, w_dim) (StyleGAN Sec. 2; StyleGAN2-ADA conditional embedding).

    Holds the ``w_avg`` buffer (EMA of w with ``w_avg_beta``) used by the truncation trick.
    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        num_classes: int = 0,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise GankitError(f"the mapping network needs at least 1 layer, got mapping_layers={num_layers}")
        if not 0 <= w_avg_beta < 1:
            raise GankitError(f"w_avg_beta must lie in [0, 1), got {w_avg_beta}")
        self.z_dim, self.w_dim, self.num_ws, self.num_classes = z_dim, w_dim, num_ws, num_classes
        self.w_avg_beta = w_avg_beta
        self.embed = EqualizedLinear(num_classes, w_dim) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *(
                EqualizedLinear(dims[i], dims[i + 1], lr_multiplier=lr_multiplier, activation="lrelu")
                for i in range(num_layers)
            )
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise GankitError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            x = torch.cat([x, normalize_2nd_moment(self.embed(_one_hot(y, self.num_classes).to(z)))], dim=1)
        w = self.layers(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1:
            if not 0 <= psi <= 1:
                warnings.warn(
                    f"truncation psi={psi} lies outside [0, 1]: this extrapolates away from w_avg",
                    stacklevel=3,
                )
            cutoff = self.num_ws if cutoff is None else cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], psi)
        return ws


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution, noise, bias, LeakyReLU(0.2) * sqrt(2) (StyleGAN2 Fig. 2d)."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False, fused: bool = True
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up, fused=fused)
        self.noise = NoiseInjection(out_channels, resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.noise(self.conv(x, w), noise_mode, noise)
        return scaled_lrelu(x + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """1x1 modulated convolution without demodulation, plus a bias (StyleGAN2 Fig. 7b, "tRGB")."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, fused: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, w_dim, demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (const or up-sampling conv), conv, toRGB added to the up-sampled image."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, fused: bool = True
    ) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.convs = nn.ModuleList([SynthesisLayer(out_channels, out_channels, w_dim, 4, fused=fused)])
        else:
            self.convs = nn.ModuleList(
                [
                    SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, fused=fused),
                    SynthesisLayer(out_channels, out_channels, w_dim, resolution, fused=fused),
                ]
            )
        self.torgb = ToRGB(out_channels, img_channels, w_dim, fused=fused)

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str,
        noise: list[torch.Tensor | None],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: (N, len(convs) + 1, w_dim), the styles of this block's convolutions and of its toRGB."""
        if self.resolution == 4:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.convs):
            x = layer(x, ws[:, i], noise_mode, noise[i])
        rgb = self.torgb(x, ws[:, len(self.convs)])
        return x, rgb if img is None else upsample_2x(img) + rgb


@dataclass(frozen=True)
class MixingDraws:
    """The random numbers of one mixing decision (StyleGAN Sec. 3.1): ``crossover_u`` and ``mix_u`` in [0, 1)
    pick the crossover layer and whether to mix at all; ``z2`` (N, z_dim) is the second latent."""

    crossover_u: float
    mix_u: float
    z2: torch.Tensor


class StyleGAN2Generator(Generator):
    """StyleGAN2 generator (Karras et al. 2020, config E/F skip generator): z (N, z_dim) -> (N, C, R, R).

    Args:
        z_dim: latent size (512 in the paper).
        channels: image channels.
        resolution: image side, a power of two >= 4.
        w_dim: intermediate latent size (512 in the paper).
        mapping_layers: depth of the mapping network (8 in the paper; 2 in StyleGAN2-ADA's CIFAR-10 config).
        channel_base, channel_max: min(channel_base // r, channel_max) feature maps at resolution r.
        num_classes: 0 for unconditional; else a class embedding is concatenated to z (StyleGAN2-ADA).
        mapping_lr_multiplier: learning-rate multiplier of the mapping network (0.01).
        w_avg_beta: EMA decay of ``w_avg`` (0.995).
        fused_modconv: run each modulated convolution as one grouped convolution (True) or as the equivalent
            input/output scaling around one shared-kernel convolution (False, faster on CPUs); same function.
    """

    def __init__(
        self,
        z_dim: int = 512,
        channels: int = 3,
        resolution: int = 32,
        w_dim: int = 512,
        mapping_layers: int = 8,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_classes: int = 0,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        fused_modconv: bool = True,
    ) -> None:
        log2 = _log2_resolution(resolution)
        super().__init__(z_dim, (channels, resolution, resolution), num_classes)
        self.w_dim, self.resolution, self.img_channels = w_dim, resolution, channels
        self.blocks = nn.ModuleList()
        cin = 0
        for k in range(2, log2 + 1):
            cout = channels_at(2**k, channel_base, channel_max)
            self.blocks.append(SynthesisBlock(cin, cout, w_dim, 2**k, channels, fused_modconv))
            cin = cout
        self.num_ws = 2 * log2 - 2
        self.mapping_network = MappingNetwork(
            z_dim, w_dim, self.num_ws, mapping_layers, num_classes, mapping_lr_multiplier, w_avg_beta
        )

    @property
    def w_avg(self) -> torch.Tensor:
        """The running average of w (w_dim,), kept in the state dict for truncation."""
        return self.mapping_network.w_avg

    def noise_layers(self) -> list[NoiseInjection]:
        """The noise inputs, in the order :meth:`synthesis` takes explicit ``noise`` maps (coarse to fine)."""
        return [layer.noise for block in self.blocks for layer in block.convs]

    def mapping(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        """z (N, z_dim) -> ws (N, num_ws, w_dim), truncated towards ``w_avg`` by ``psi`` in layers < ``cutoff``
        (all layers when None; StyleGAN Sec. 3.3); ``update_w_avg`` moves ``w_avg`` towards this batch's mean w
        (EMA with ``w_avg_beta``). psi outside [0, 1] extrapolates and warns."""
        self.check_labels(y)
        return self.mapping_network(z, y, psi, cutoff, update_w_avg)

    def synthesis(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        noise: list[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, C, R, R); ``noise_mode`` "random", "const" or "none", or explicit
        ``noise`` maps (one per entry of :meth:`noise_layers`, shape (N or 1, 1, r, r); None entries use the mode)."""
        check_noise_mode(noise_mode)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise GankitError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        n_noise = len(self.noise_layers())
        if noise is None:
            noise = [None] * n_noise
        elif len(noise) != n_noise:
            raise GankitError(f"this generator has {n_noise} noise inputs; got {len(noise)} noise maps")
        x = img = None
        w_index = noise_index = 0
        for block in self.blocks:
            n_conv = len(block.convs)
            block_noise = noise[noise_index : noise_index + n_conv]
            x, img = block(x, img, ws[:, w_index : w_index + n_conv + 1], noise_mode, block_noise)
            w_index += n_conv
            noise_index += n_conv
        return img

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        psi: float = 1.0,
        noise_mode: str = "random",
        mixing_prob: float = 0.0,
        generator: torch.Generator | None = None,
        return_ws: bool = False,
        mixing_draws: MixingDraws | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """synthesis(mapping(z, y, psi)); ``w_avg`` is updated in training mode only. Training passes
        ``mixing_prob`` (mixing regularisation, see :meth:`mapping_with_mixing`, with its random numbers in
        ``mixing_draws`` or drawn from ``generator``) and, for path-length regularisation, ``return_ws`` to get
        (images, ws) so that the gradient with respect to ws can be taken; everything goes through ``forward``
        so that wrappers such as DistributedDataParallel see the whole computation."""
        if mixing_prob > 0:
            ws = self.mapping_with_mixing(
                z, y, mixing_prob, update_w_avg=self.training, generator=generator, draws=mixing_draws
            )
        else:
            ws = self.mapping(z, y, psi, update_w_avg=self.training)
        images = self.synthesis(ws, noise_mode)
        return (images, ws) if return_ws else images

    def mix_styles(self, ws_a: torch.Tensor, ws_b: torch.Tensor, crossover: int) -> torch.Tensor:
        """Style mixing (StyleGAN Sec. 3.1): layers < ``crossover`` from ``ws_a``, the others from ``ws_b``."""
        if ws_a.shape != ws_b.shape or ws_a.ndim != 3 or ws_a.shape[1] != self.num_ws:
            raise GankitError(
                f"style mixing needs two ws of one shape (N, {self.num_ws}, {self.w_dim}); "
                f"got {tuple(ws_a.shape)} and {tuple(ws_b.shape)}"
            )
        if not 0 <= crossover <= self.num_ws:
            raise GankitError(f"crossover must lie in [0, {self.num_ws}], got {crossover}")
        return torch.cat([ws_a[:, :crossover], ws_b[:, crossover:]], dim=1)

    def mapping_with_mixing(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        mixing_prob: float = 0.9,
        update_w_avg: bool = False,
        generator: torch.Generator | None = None,
        draws: MixingDraws | None = None,
    ) -> torch.Tensor:
        """Mixing regularisation (StyleGAN Sec. 3.1): with probability ``mixing_prob`` the layers from a crossover
        drawn uniformly in [1, num_ws - 1] take the w of a second latent (one crossover per batch, as in
        StyleGAN2-ADA). The random numbers are ``draws`` (the training loop passes the step's shared draws, so
        that every accumulation round and process uses one crossover) or come from ``generator`` (torch's
        global generator when None)."""
        ws = self.mapping(z, y, update_w_avg=update_w_avg)
        if mixing_prob <= 0 or self.num_ws < 2:
            return ws
        if draws is None:
            device = generator.device if generator is not None else z.device
            u = torch.rand(2, generator=generator, device=device)
            z2 = torch.randn(z.shape, generator=generator, device=device, dtype=z.dtype)
            draws = MixingDraws(float(u[0]), float(u[1]), z2)
        if tuple(draws.z2.shape) != tuple(z.shape):
            raise GankitError(
                f"mixing draws hold a second latent of shape {tuple(draws.z2.shape)}; z has shape {tuple(z.shape)}"
            )
        if draws.mix_u >= mixing_prob:
            return ws
        crossover = 1 + min(int(draws.crossover_u * (self.num_ws - 1)), self.num_ws - 2)
        return self.mix_styles(ws, self.mapping(draws.z2.to(device=z.device, dtype=z.dtype), y), crossover)


class DiscriminatorBlock(nn.Module):
    """Residual block (StyleGAN2 Fig. 7c): conv 3x3, conv 3x3 + 2x down; shortcut: 2x down + 1x1 conv; / sqrt(2).
    ``residual=False`` drops the shortcut (the "orig" discriminator of StyleGAN2-ADA's CIFAR-10 config)."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool = True) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, activation="lrelu", down=True)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, down=True) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.conv0(x))
        return h if self.skip is None else (self.skip(x) + h) * math.sqrt(0.5)


class StyleGAN2Discriminator(Discriminator):
    """StyleGAN2 residual discriminator (Karras et al. 2020, Fig. 7c) with minibatch standard deviation.

    Args:
        channels: image channels.
        resolution: image side, a power of two >= 4.
        channel_base, channel_max: min(channel_base // r, channel_max) feature maps at resolution r.
        mbstd_group_size: minibatch-stddev group (4; batch sizes must be multiples of min(group, N)).
        mbstd_features: minibatch-stddev feature slices (1).
        num_classes: 0 for unconditional; else a projection output <h, embed(y)> / sqrt(dim).
        out_features: 1 for a logit per sample; k > 1 for a k-dimensional critic (unconditional only).
        residual: residual blocks (StyleGAN2 config E/F); False: plain blocks (StyleGAN2-ADA's CIFAR-10 "orig").
    """

    def __init__(
        self,
        channels: int = 3,
        resolution: int = 32,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group_size: int = 4,
        mbstd_features: int = 1,
        num_classes: int = 0,
        out_features: int = 1,
        residual: bool = True,
    ) -> None:
        log2 = _log2_resolution(resolution)
        if num_classes and out_features != 1:
            raise GankitError("a conditional StyleGAN2 discriminator has one output; set model.d_out=1")
        super().__init__((channels, resolution, resolution), num_classes, out_features)
        self.from_rgb = EqualizedConv2d(
            channels, channels_at(resolution, channel_base, channel_max), 1, activation="lrelu"
        )
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(
                    channels_at(2**k, channel_base, channel_max),
                    channels_at(2 ** (k - 1), channel_base, channel_max),
                    residual,
                )
                for k in range(log2, 2, -1)
            )
        )
        c4 = channels_at(4, channel_base, channel_max)
        self.mbstd = MinibatchStdDev(mbstd_group_size, mbstd_features)
        self.conv = EqualizedConv2d(c4 + mbstd_features, c4, 3, activation="lrelu")
        self.fc = EqualizedLinear(c4 * 16, c4, activation="lrelu")
        self.cmap_dim = c4 if num_classes else 0
        self.out = EqualizedLinear(c4, self.cmap_dim or out_features)
        self.embed = EqualizedLinear(num_classes, c4) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise GankitError(
                f"the discriminator takes images of shape (N, {', '.join(map(str, self.in_shape))}); "
                f"got {tuple(x.shape)}"
            )
        h = self.blocks(self.from_rgb(x))
        h = self.out(self.fc(self.conv(self.mbstd(h)).flatten(1)))
        if self.embed is not None:
            cmap = self.embed(_one_hot(y, self.num_classes).to(h))
            h = (h * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return self.output(h)
