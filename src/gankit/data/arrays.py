"""A whole image data set in memory: what the classic baselines fit and what the uses measure on.

Training streams draw batches; the baselines (closed-form fits) and the uses (held-out test images, one-class
splits) need all images at once. This reads the data set of a :class:`~gankit.config.DataConfig` (any image
data set ``gankit train`` accepts) as one uint8 tensor, with its labels when it has them.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from gankit.config import DataConfig
from gankit.data import IMAGE_DATASETS, load_image_dataset
from gankit.data.named import NAMED_DATASETS
from gankit.errors import GankitError


def load_arrays(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 (N, C, R, R) images of ``config`` at ``data.resolution`` and int64 labels (None when unlabelled)."""
    if config.name not in IMAGE_DATASETS:
        raise GankitError(f"'{config.name}' is not an image data set; valid: {', '.join(IMAGE_DATASETS)}")
    dataset, _ = load_image_dataset(config)
    images = getattr(dataset, "images", None)
    if images is None:
        images = torch.stack([dataset[i] for i in range(len(dataset))])
    return images, getattr(dataset, "labels", None)


def held_out_split(config: DataConfig) -> DataConfig | None:
    """The held-out counterpart of a training data set: the ``test`` split of a named data set read as ``train``
    (MNIST, Fashion-MNIST, CIFAR-10, faces), else None (digits, npz files and folders have no split)."""
    if config.name in NAMED_DATASETS and config.split == "train":
        return replace(config, split="test")
    return None
