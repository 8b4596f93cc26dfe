"""Equalized learning rate: linear and convolution layers whose weights are scaled at run time.

Karras et al., ICLR 2018 ("Progressive growing of GANs", Sec. 4.1): weights are stored as
w_hat ~ N(0, 1) and used as w = w_hat * c with He's constant c = 1 / sqrt(fan_in). Because Adam
normalises each update by the gradient's scale, every layer then learns at the same speed whatever its
fan-in. StyleGAN (Karras et al., CVPR 2019, Sec. 2 and Appendix C) adds a learning-rate multiplier
``lr_multiplier`` (0.01 in the mapping network): the stored weight starts at N(0, 1 / lr_multiplier^2)
and is used times ``lr_multiplier / sqrt(fan_in)``, so the effective weight starts at the same He scale
but an Adam step moves it ``lr_multiplier`` times as far. Biases are stored as ``bias_init /
lr_multiplier`` and used times ``lr_multiplier``.

Activations: ``"lrelu"`` is LeakyReLU(0.2) times sqrt(2), the gain that keeps the signal's second moment
(He et al., ICCV 2015) and that StyleGAN2 uses after every weight layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.nn.resample import conv2d_downsample

ACTIVATIONS = ("linear", "lrelu")
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def scaled_lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU(0.2) times sqrt(2) (He et al. 2015 gain; StyleGAN2's ``lrelu`` activation)."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def _activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise GankitError(f"unknown activation '{name}'; valid: {', '.join(ACTIVATIONS)}")
    return name


def _check_lr_multiplier(lr_multiplier: float) -> float:
    if not lr_multiplier > 0:
        raise GankitError(f"lr_multiplier must be > 0, got {lr_multiplier}")
    return float(lr_multiplier)


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate (Karras et al. 2018, Sec. 4.1) and a
    learning-rate multiplier (Karras et al. 2019, mapping network at 0.01).

    Args:
        in_features, out_features: sizes.
        bias: whether the layer has a bias.
        bias_init: the bias's initial effective value (1 for StyleGAN's style affines).
        lr_multiplier: scales the effective learning rate of this layer's weight and bias.
        activation: ``"linear"`` or ``"lrelu"`` (LeakyReLU(0.2) times sqrt(2)).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        self.lr_multiplier = _check_lr_multiplier(lr_multiplier)
        self.activation = _activation(activation)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / self.lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / self.lr_multiplier)) if bias else None
        self.weight_gain = self.lr_multiplier / math.sqrt(in_features)

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer computes with: stored weight * lr_multiplier / sqrt(in_features)."""
        return self.weight * self.weight_gain

    def effective_bias(self) -> torch.Tensor | None:
        """The bias the layer computes with: stored bias * lr_multiplier."""
        return None if self.bias is None else self.bias * self.lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.effective_weight(), self.effective_bias())
        return scaled_lrelu(y) if self.activation == "lrelu" else y

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, "
            f"lr_multiplier={self.lr_multiplier:g}, activation={self.activation}"
        )


class EqualizedConv2d(nn.Module):
    """2-D convolution ('same' padding for odd kernels) with equalized learning rate (Karras et al. 2018,
    Sec. 4.1): the stored kernel ~ N(0, 1) is used times 1 / sqrt(in * k * k). With ``down``, the convolution
    is followed by 2x down-sampling with the [1, 3, 3, 1] filter (StyleGAN2; :mod:`gankit.nn.resample`),
    before the bias and the activation.

    Args:
        in_channels, out_channels, kernel_size: sizes.
        bias: whether the layer has a bias (initialised to 0).
        lr_multiplier: scales the effective learning rate (1 everywhere in StyleGAN2's convolutions).
        activation: ``"linear"`` or ``"lrelu"`` (LeakyReLU(0.2) times sqrt(2)).
        down: halve the resolution after the convolution (FIR [1, 3, 3, 1] filter).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        lr_multiplier: float = 1.0,
        activation: str = "linear",
        down: bool = False,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise GankitError(f"kernel_size must be odd and >= 1 for 'same' padding, got {kernel_size}")
        self.lr_multiplier = _check_lr_multiplier(lr_multiplier)
        self.activation = _activation(activation)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.down = down
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.randn(shape) / self.lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = self.lr_multiplier / math.sqrt(in_channels * kernel_size * kernel_size)

    def effective_weight(self) -> torch.Tensor:
        """The kernel the layer computes with: stored kernel * lr_multiplier / sqrt(in * k * k)."""
        return self.weight * self.weight_gain

    def effective_bias(self) -> torch.Tensor | None:
        """The bias the layer computes with: stored bias * lr_multiplier."""
        return None if self.bias is None else self.bias * self.lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            y = conv2d_downsample(x, self.effective_weight())
            bias = self.effective_bias()
            y = y if bias is None else y + bias.view(1, -1, 1, 1)
        else:
            y = F.conv2d(x, self.effective_weight(), self.effective_bias(), padding=self.kernel_size // 2)
        return scaled_lrelu(y) if self.activation == "lrelu" else y

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"bias={self.bias is not None}, lr_multiplier={self.lr_multiplier:g}, activation={self.activation}, "
            f"down={self.down}"
        )
