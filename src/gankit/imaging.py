"""Turning generator outputs into pictures and files: uint8 quantisation, grids, scatter plots.

Quantisation follows the reference metric code (StyleGAN2-ADA ``generate.py``; torch-fidelity's
generator wrapper): x in [-1, 1] -> clamp(x * 127.5 + 128, 0, 255) truncated to uint8, i.e. rounding
to the nearest of the 256 levels.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from gankit.defaults import GRID_MIN_WIDTH
from gankit.errors import GankitError


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], rounding to nearest (x * 127.5 + 128, clamped, truncated)."""
    return (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1), the inverse of :func:`to_uint8` on the
    256 levels. Always a new tensor: a float32 input (already a level array) is left as it is."""
    return images.to(torch.float32, copy=True).div_(127.5).sub_(1.0)


def enlargement(width: int, min_width: int = GRID_MIN_WIDTH) -> int:
    """The integer nearest-neighbour factor that brings an image ``width`` pixels wide to at least ``min_width``."""
    return max(1, -(-min_width // max(width, 1)))


def grid_image(images: torch.Tensor, nrow: int | None = None, min_width: int = GRID_MIN_WIDTH) -> np.ndarray:
    """A grid of images in [-1, 1] (``nrow`` per row, default square-ish) as an (H, W, C) uint8 array with 2-px
    black padding; small images are enlarged by an integer nearest-neighbour factor so that the grid is at least
    ``min_width`` pixels wide (0: never enlarged)."""
    nrow = nrow or max(1, round(len(images) ** 0.5))
    pixels = to_uint8(images.cpu())
    factor = enlargement(min(nrow, len(images)) * images.shape[-1], min_width) if min_width else 1
    if factor > 1:
        pixels = pixels.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
    grid = make_grid(pixels, nrow=nrow, padding=2, pad_value=0)
    array = grid.permute(1, 2, 0).numpy()
    return array[..., :1] if images.shape[1] == 1 else array


def save_image(array: np.ndarray, path: str | Path) -> None:
    """Write an (H, W, C) uint8 array as PNG."""
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


def scatter_figure(fake: torch.Tensor, real: torch.Tensor | None = None, title: str = "") -> plt.Figure:
    """A scatter plot of 2-D samples (orange) over data (blue), on equal axes."""
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if real is not None:
        ax.scatter(*real.cpu().T.numpy(), s=2, c="tab:blue", alpha=0.3, label="data")
    ax.scatter(*fake.detach().cpu().T.numpy(), s=2, c="tab:orange", alpha=0.6, label="samples")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    return fig


def figure_to_array(fig: plt.Figure) -> np.ndarray:
    """Render a matplotlib figure to an (H, W, 3) uint8 array and close it."""
    fig.canvas.draw()
    array = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return array


def write_samples(samples: torch.Tensor, path: str | Path) -> Path:
    """Write samples to ``path``: ``.png`` one grid, ``.npz`` uint8 arrays under ``x``, else a folder of PNGs.

    Vector samples (2-D toys) go to ``.npz`` as float32 or to ``.png`` as a scatter plot.
    """
    path = Path(path)
    is_image = samples.ndim == 4
    if path.suffix == ".png":
        path.parent.mkdir(parents=True, exist_ok=True)
        array = grid_image(samples) if is_image else figure_to_array(scatter_figure(samples))
        save_image(array, path)
    elif path.suffix == ".npz":
        path.parent.mkdir(parents=True, exist_ok=True)
        data = to_uint8(samples).permute(0, 2, 3, 1).numpy() if is_image else samples.float().cpu().numpy()
        np.savez(path, x=data)
    elif path.suffix:
        raise GankitError(f"--out {path}: use a .png (one grid), a .npz (arrays) or a folder name")
    else:
        if not is_image:
            raise GankitError(f"--out {path}: vector samples go to a .npz or a .png scatter plot, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(to_uint8(samples).permute(0, 2, 3, 1).numpy()):
            save_image(image, path / f"{i:06d}.png")
    return path
