"""The named-data-set code on the real idx files from ../shared/assets (no network)."""

import shutil

import pytest
import torch

from gankit.data.named import dataset_folder, load_cifar10, load_idx_dataset
from gankit.errors import GankitError

# Published class counts of the MNIST test set (LeCun et al.; also torchvision's MNIST docs).
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def install(assets, name, prefix):
    raw = dataset_folder(name) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for path in (assets / name).glob(f"{prefix}-*-ubyte.gz"):
        shutil.copy(path, raw / path.name)
    return raw


def test_mnist_test_split(assets):
    install(assets, "mnist", "t10k")
    images, labels = load_idx_dataset("mnist", "test", download=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == MNIST_TEST_COUNTS


def test_fashion_mnist_both_splits(assets):
    install(assets, "fashion-mnist", "t10k")
    install(assets, "fashion-mnist", "train")
    test_images, test_labels = load_idx_dataset("fashion-mnist", "test", download=False)
    train_images, train_labels = load_idx_dataset("fashion-mnist", "train", download=False)
    assert test_images.shape == (10000, 1, 28, 28) and train_images.shape == (60000, 1, 28, 28)
    assert torch.bincount(test_labels).tolist() == [1000] * 10
    assert torch.bincount(train_labels).tolist() == [6000] * 10


def test_corrupt_file_fails_its_checksum(assets):
    raw = install(assets, "mnist", "t10k")
    target = raw / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])
    with pytest.raises(GankitError, match="corrupt .*MD5"):
        load_idx_dataset("mnist", "test", download=False)


def test_missing_files_say_where_to_put_them():
    with pytest.raises(GankitError) as info:
        load_idx_dataset("mnist", "train", download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(dataset_folder("mnist")) in message
    with pytest.raises(GankitError, match="cifar-10-python.tar.gz"):
        load_cifar10("train", download=False)


def test_unknown_split():
    with pytest.raises(GankitError, match="valid splits: train, test"):
        load_idx_dataset("mnist", "validation", download=False)
