"""Data sets by name: 2-D toys, embedded digits, image folders, ``.npz`` files and downloadable sets."""

from __future__ import annotations

from functools import partial

import torch

from gankit.config import DataConfig
from gankit.data.images import ImageFolder, load_digits, load_npz, resize_square
from gankit.data.named import NAMED_DATASETS, load_named
from gankit.data.streams import ImageStream, TensorImages, ToyStream
from gankit.data.toy import grid_centers, ring_centers, sample_mixture, sample_spiral
from gankit.defaults import TOY_DATASETS
from gankit.errors import GankitError

IMAGE_DATASETS = ("digits", "folder", "npz", *NAMED_DATASETS)
DATASETS = (*TOY_DATASETS, *IMAGE_DATASETS)

Stream = ToyStream | ImageStream


def toy_sampler(config: DataConfig):
    """A function ``(n, generator) -> points`` for a toy data set of ``config``."""
    if config.name == "ring":
        centers = ring_centers(8, config.radius)
        return lambda n, g: sample_mixture(centers, config.std, n, g)[0]
    if config.name == "grid":
        centers = grid_centers()
        return lambda n, g: sample_mixture(centers, config.std, n, g)[0]
    if config.name == "spiral":
        return partial(sample_spiral, std=config.std)
    raise GankitError(f"'{config.name}' is not a toy data set; toy data sets: {', '.join(TOY_DATASETS)}")


def load_image_dataset(config: DataConfig) -> tuple[torch.utils.data.Dataset, int]:
    """The image data set of ``config`` (uint8 NCHW at ``data.resolution``) and its number of classes."""
    name, resolution = config.name, config.resolution
    if name == "digits":
        images, labels = load_digits(resolution)
    elif name == "npz":
        if not config.path:
            raise GankitError("data.name=npz needs data.path=FILE.npz")
        images, labels = load_npz(config.path, resolution)
    elif name == "folder":
        if not config.path:
            raise GankitError("data.name=folder needs data.path=FOLDER")
        return ImageFolder(config.path, resolution, config.grayscale), 0
    elif name in NAMED_DATASETS:
        images, labels = load_named(name, config.split, config.download)
        images = resize_square(images, resolution)
    else:
        raise GankitError(f"unknown data set '{name}'; valid data sets: {', '.join(DATASETS)}")
    if config.grayscale and images.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        images = (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    num_classes = int(labels.max()) + 1 if labels is not None else 0
    return TensorImages(images, labels), num_classes


def build_stream(
    config: DataConfig, batch_size: int, seed: int, device: torch.device, rank: int = 0, world: int = 1
) -> Stream:
    """The endless stream of global batches of ``batch_size`` that the training loop draws from; process
    ``rank`` of ``world`` receives its rows of each (see :mod:`gankit.data.streams`)."""
    if config.name in TOY_DATASETS:
        return ToyStream(toy_sampler(config), batch_size, seed, device, rank, world)
    dataset, num_classes = load_image_dataset(config)
    if config.conditional and not num_classes:
        raise GankitError(
            f"data.conditional=true needs labels, and data set '{config.name}' has none; "
            "use a labelled data set (digits, mnist, fashion-mnist, cifar10, an .npz with y) or data.conditional=false"
        )
    return ImageStream(dataset, batch_size, seed, device, num_classes, config.num_workers, rank, world)


__all__ = [
    "DATASETS",
    "IMAGE_DATASETS",
    "TOY_DATASETS",
    "ImageStream",
    "Stream",
    "ToyStream",
    "build_stream",
    "load_image_dataset",
    "toy_sampler",
]
