"""A whole data set in memory: images and labels of any image data set, and the held-out split of named ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data.arrays import held_out_split, load_arrays
from gankit.data.images import load_digits
from gankit.errors import GankitError


def test_digits_npz_and_folders(tmp_path):
    images, labels = load_arrays(DataConfig(name="digits", resolution=8))
    expected, expected_labels = load_digits(8)
    assert torch.equal(images, expected) and torch.equal(labels, expected_labels)
    np.savez(tmp_path / "a.npz", x=np.arange(2 * 16, dtype=np.uint8).reshape(2, 4, 4), y=np.array([3, 1]))
    images, labels = load_arrays(DataConfig(name="npz", path=str(tmp_path / "a.npz"), resolution=4))
    assert images.shape == (2, 1, 4, 4) and labels.tolist() == [3, 1] and int(images[1, 0, 0, 0]) == 16
    (tmp_path / "pictures").mkdir()
    for i in range(3):
        Image.fromarray(np.full((6, 6), 40 * i, dtype=np.uint8)).save(tmp_path / "pictures" / f"{i}.png")
    images, labels = load_arrays(
        DataConfig(name="folder", path=str(tmp_path / "pictures"), resolution=6, grayscale=True)
    )
    assert images.shape == (3, 1, 6, 6) and labels is None and sorted(images[:, 0, 0, 0].tolist()) == [0, 40, 80]


def test_held_out_split_of_named_data_sets_only():
    assert held_out_split(DataConfig(name="mnist", split="train")).split == "test"
    assert held_out_split(DataConfig(name="faces", split="train", resolution=32)).resolution == 32
    assert held_out_split(DataConfig(name="digits")) is None
    assert held_out_split(DataConfig(name="mnist", split="test")) is None
    with pytest.raises(GankitError, match="not an image data set"):
        load_arrays(DataConfig(name="ring"))
