"""Weight modulation and demodulation (Karras et al., CVPR 2020, "StyleGAN2", Sec. 2.2, eq. 1-3).

For sample n with style s_n (one scale per input channel) and a shared kernel w:

- modulation (eq. 1): w'_{n,o,i,k} = s_{n,i} * w_{o,i,k};
- demodulation (eq. 3): w''_{n,o,i,k} = w'_{n,o,i,k} / sqrt(sum_{i,k} w'_{n,o,i,k}^2 + eps), so each
  output channel of each sample's kernel has unit L2 norm (the output has unit standard deviation
  for unit-variance i.i.d. inputs, eq. 2).

A batch of N different styles runs as ONE grouped convolution: the N per-sample kernels are stacked
into an (N * out, in, k, k) kernel and the input is reshaped to (1, N * in, H, W) with ``groups=N``
(the paper's Appendix B implementation). ``fused=False`` computes the same function the other way round,
as StyleGAN2-ADA does during training: scale the input channels by s, convolve with the shared kernel,
and scale each output channel by the demodulation coefficient 1 / sqrt(sum_i s_i^2 sum_k w_{o,i,k}^2);
it is one ordinary convolution too, and faster on CPUs at small feature maps.

Up-sampling (``up=True``): the function is "up-sample 2x with StyleGAN2's [1, 3, 3, 1] FIR filter, then
convolve", computed as the paper's code does, as a stride-2 transposed convolution followed by the filter
(:func:`gankit.nn.resample.upsample_conv2d`; the filter is bilinear interpolation away from the border).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.nn.equalized import EqualizedLinear
from gankit.nn.resample import upsample_conv2d

DEMOD_EPS = 1e-8


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up: bool = False,
    fused: bool = True,
) -> torch.Tensor:
    """Convolve each sample of ``x`` with its own modulated (and demodulated) kernel, as one grouped convolution.

    Implements StyleGAN2 (Karras et al. 2020) Sec. 2.2, eq. 1 (modulation) and eq. 3 (demodulation).

    Args:
        x: (N, in, H, W) input.
        weight: (out, in, k, k) shared kernel, k odd ('same' padding).
        styles: (N, in) per-sample input-channel scales s.
        demodulate: normalise each output channel of each sample's kernel to unit L2 norm (eq. 3).
        up: up-sample the input 2x (FIR [1, 3, 3, 1]) before the convolution.
        fused: one grouped convolution with per-sample kernels (True), or the equivalent input/output scaling
            around one shared-kernel convolution (False).

    Returns:
        (N, out, H, W), or (N, out, 2H, 2W) when ``up``.
    """
    if x.ndim != 4 or weight.ndim != 4 or styles.ndim != 2:
        raise GankitError(
            f"modulated_conv2d needs x (N, in, H, W), weight (out, in, k, k), styles (N, in); got "
            f"{tuple(x.shape)}, {tuple(weight.shape)}, {tuple(styles.shape)}"
        )
    n, cin = x.shape[:2]
    cout, k = weight.shape[0], weight.shape[-1]
    if weight.shape[1] != cin or styles.shape != (n, cin):
        raise GankitError(
            f"modulated_conv2d: x has {cin} channels and batch {n}, so weight must be (out, {cin}, k, k) and "
            f"styles ({n}, {cin}); got {tuple(weight.shape)} and {tuple(styles.shape)}"
        )
    if not fused:
        x = x * styles[:, :, None, None]  # eq. 1 applied to the input instead of the kernel
        out = upsample_conv2d(x, weight) if up else F.conv2d(x, weight, padding=k // 2)
        if demodulate:  # eq. 3: sum_{i,k} (s_i w_{o,i,k})^2 = sum_i s_i^2 sum_k w_{o,i,k}^2
            dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).T + DEMOD_EPS)
            out = out * dcoefs[:, :, None, None]
        return out
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]  # (N, out, in, k, k), eq. 1
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + DEMOD_EPS)  # eq. 3
    x = x.reshape(1, n * cin, *x.shape[2:])
    w = w.reshape(n * cout, cin, k, k)
    out = upsample_conv2d(x, w, groups=n) if up else F.conv2d(x, w, padding=k // 2, groups=n)
    return out.reshape(n, cout, *out.shape[2:])


class ModulatedConv2d(nn.Module):
    """A StyleGAN2 modulated convolution: a learned affine map w -> styles s (initialised to 1, Karras et al.
    2019 Sec. 2), then :func:`modulated_conv2d` with an equalized-learning-rate kernel (stored ~ N(0, 1),
    used times 1 / sqrt(in * k * k)). No bias, noise or activation: :class:`gankit.models.stylegan` adds them.

    Args:
        in_channels, out_channels, kernel_size: sizes (kernel odd).
        w_dim: size of the intermediate latent w that the styles are computed from.
        demodulate: True in the synthesis convolutions, False in the toRGB layers.
        up: up-sample the input 2x (FIR [1, 3, 3, 1]) first.
        fused: one grouped convolution (True) or the equivalent scaled shared-kernel convolution (False).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        demodulate: bool = True,
        up: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise GankitError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.up, self.fused = demodulate, up, fused
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        """The per-sample input-channel scales s = A(w), (N, in_channels)."""
        return self.affine(w)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x (N, in, H, W) and w (N, w_dim) -> (N, out, H, W), or (N, out, 2H, 2W) when ``up``."""
        return modulated_conv2d(x, self.weight * self.weight_gain, self.styles(w), self.demodulate, self.up, self.fused)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"demodulate={self.demodulate}, up={self.up}, fused={self.fused}"
        )
