"""Image sources for gankit eval: folders, .npz, runs and checkpoints, data set splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics.sources import load_source


def test_npz_and_folder_give_the_same_uint8_images(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    np.savez(tmp_path / "set.npz", x=images)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    from_npz = load_source(str(tmp_path / "set.npz"))
    from_folder = load_source(str(folder))
    assert from_npz.images.dtype == torch.uint8 and from_npz.images.shape == (5, 3, 12, 12)
    assert torch.equal(from_npz.images, from_folder.images)
    assert from_folder.record == {"source": str(folder), "kind": "folder", "n": 5}


def test_named_splits_sizes_and_subsets():
    digits = load_source("digits")
    assert digits.images.shape == (1797, 1, 8, 8)
    assert load_source("digits@16").images.shape == (1797, 1, 16, 16)
    subset = load_source("digits", n=100, seed=3)
    again = load_source("digits", n=100, seed=3)
    assert subset.images.shape[0] == 100 and torch.equal(subset.images, again.images)
    assert subset.record["subset_seed"] == 3
    with pytest.raises(GankitError, match="name the split, mnist-train or mnist-test"):
        load_source("mnist")
    with pytest.raises(GankitError, match="unknown source 'imagenet'.*digits, mnist-train"):
        load_source("imagenet")


def test_a_run_generates_quantised_samples_reproducibly(tmp_path):
    run = tmp_path / "run"
    args = ["train", "digits", "train.steps=2", "log.tensorboard=false", "eval.every=0", "model.width=8"]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    first = load_source(str(run), n=20, seed=1)
    assert first.generated and first.images.shape == (20, 1, 16, 16) and first.images.dtype == torch.uint8
    assert torch.equal(first.images, load_source(str(run), n=20, seed=1).images)
    assert not torch.equal(first.images, load_source(str(run), n=20, seed=2).images)
    checkpoint = next((run / "checkpoints").iterdir())
    assert torch.equal(first.images, load_source(str(checkpoint), n=20, seed=1).images)
