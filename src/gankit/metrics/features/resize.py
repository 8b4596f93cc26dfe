"""Resizing images to the feature extractor's input size, the way each reference FID code does it.

The resize changes FID noticeably (Parmar et al., "On Aliased Resizing and Surprising Subtleties in GAN
Evaluation", CVPR 2022), so it is a named, recorded setting:

- ``tf1-bilinear`` (default): TensorFlow 1's ``tf.image.resize_bilinear(align_corners=False)``, the
  resize inside the graph of the original FID code (Heusel et al. 2017) and of torch-fidelity. Source
  coordinate = output index x (in / out), no half-pixel offset; the upper neighbour is clamped to the
  last row. It is separable, so it is applied as two small interpolation matrices.
- ``pil-bicubic``: PIL's bicubic resize of each channel as float, clipped to [0, 255] (clean-fid).
- ``torch-bilinear``: ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
  (pytorch-fid's resize).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.defaults import RESIZE, RESIZE_METHODS
from gankit.errors import GankitError


@lru_cache(maxsize=32)
def tf1_bilinear_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """(out_size, in_size) float32 matrix of TF1 bilinear weights: row o holds 1 - t at floor(s) and t
    at min(floor(s) + 1, in_size - 1), with s = o * (in_size / out_size) computed in float32 as TF does."""
    scale = np.float32(in_size) / np.float32(out_size)
    source = np.arange(out_size, dtype=np.float32) * scale
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    frac = source - low.astype(np.float32)
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1 - frac)
    np.add.at(matrix, (rows, high), frac)
    return torch.from_numpy(matrix)


def _pil_bicubic(images: torch.Tensor, size: int) -> torch.Tensor:
    array = images.cpu().numpy().astype(np.float32)
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for i, image in enumerate(array):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel).resize((size, size), resample=Image.Resampling.BICUBIC)
            out[i, c] = np.asarray(resized)
    return torch.from_numpy(out.clip(0, 255)).to(images.device)


def check_resize_method(method: str) -> None:
    """The one-line error for a resize method that is not one of :data:`RESIZE_METHODS`."""
    if method not in RESIZE_METHODS:
        raise GankitError(f"unknown resize '{method}'; choose one of {', '.join(RESIZE_METHODS)}")


def resize(images: torch.Tensor, size: int, method: str = RESIZE) -> torch.Tensor:
    """(N, C, H, W) images with values in [0, 255] -> float32 (N, C, size, size) by ``method``."""
    check_resize_method(method)
    if method == "pil-bicubic":
        return _pil_bicubic(images, size)
    x = images.float()
    if x.shape[-2:] == (size, size):
        return x
    if method == "torch-bilinear":
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    rows = tf1_bilinear_matrix(x.shape[-2], size).to(x.device)
    cols = tf1_bilinear_matrix(x.shape[-1], size).to(x.device)
    return rows @ x @ cols.T
