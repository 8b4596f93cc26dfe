"""2x up- and down-sampling with StyleGAN2's [1, 3, 3, 1] FIR filter, in plain PyTorch (Karras et al., CVPR
2020, Appendix B; the filter is the separable binomial filter of Zhang, ICML 2019, "Making convolutional
networks shift-invariant again").

- :func:`upsample_2x`: zero insertion, then the 4x4 filter f f^T with f = [1, 3, 3, 1] / 4 (gain 4 in 2-D),
  as one depthwise transposed convolution. Away from the border this is exactly bilinear interpolation
  (weights 3/4 and 1/4, ``align_corners=False``); at the border the filter sees zeros where bilinear
  repeats the edge pixel.
- :func:`downsample_2x`: the 4x4 filter with f = [1, 3, 3, 1] / 8 (unit gain), evaluated at every other pixel
  (one depthwise strided convolution).
- :func:`upsample_conv2d`: "up-sample 2x, then a 'same' k x k convolution", computed as the paper's
  implementation does, as a stride-2 transposed convolution followed by the filter. Filtering and
  convolution commute, so the two orders give the same function on the zero-extended image, at a quarter
  of the multiply-adds of convolving the up-sampled map (the two-step version, which crops between its
  steps, differs only in the outermost pixel).
- :func:`conv2d_downsample`: "a 'same' k x k convolution, then down-sample 2x", computed as filtering, then a
  stride-2 convolution: again the same function on the zero-extended image, at a quarter of the
  multiply-adds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def fir_filter_2d(channels: int, gain: float, like: torch.Tensor) -> torch.Tensor:
    """The depthwise (channels, 1, 4, 4) kernel f f^T, f = [1, 3, 3, 1] normalised to sum 1, times ``gain``."""
    f = torch.tensor(FIR_TAPS, dtype=like.dtype, device=like.device)
    f = f / f.sum()
    return (torch.outer(f, f) * gain).expand(channels, 1, 4, 4)


def upsample_2x(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W): zero insertion and the [1, 3, 3, 1] filter (bilinear away from the border)."""
    c = x.shape[1]
    return F.conv_transpose2d(x, fir_filter_2d(c, 4.0, x), stride=2, padding=1, groups=c)


def downsample_2x(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H/2, W/2): the [1, 3, 3, 1] low-pass filter sampled at every other pixel."""
    c = x.shape[1]
    return F.conv2d(x, fir_filter_2d(c, 1.0, x), stride=2, padding=1, groups=c)


def _filter(x: torch.Tensor, pad: int, gain: float) -> torch.Tensor:
    c = x.shape[1]
    return F.conv2d(F.pad(x, (pad, pad, pad, pad)), fir_filter_2d(c, gain, x), groups=c)


def upsample_conv2d(x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """conv2d(upsample_2x(x), weight, padding=k // 2, groups=groups), as a transposed convolution and a filter.

    ``weight``: (out, in / groups, k, k) with k odd and <= 5. Returns (N, out, 2H, 2W).
    """
    out, cin_g, k = weight.shape[0], weight.shape[1], weight.shape[-1]
    # conv_transpose2d correlates with the flipped kernel and wants (in, out / groups, k, k)
    w = weight.reshape(groups, out // groups, cin_g, k, k).transpose(1, 2).flip(3, 4)
    y = F.conv_transpose2d(x, w.reshape(groups * cin_g, out // groups, k, k), stride=2, groups=groups)
    return _filter(y, (5 - k) // 2, 4.0)


def conv2d_downsample(x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """downsample_2x(conv2d(x, weight, padding=k // 2, groups=groups)), as a filter and a stride-2 convolution.

    ``weight``: (out, in / groups, k, k) with k odd. Returns (N, out, H/2, W/2).
    """
    k = weight.shape[-1]
    return F.conv2d(_filter(x, k // 2 + 1, 1.0), weight, stride=2, groups=groups)
