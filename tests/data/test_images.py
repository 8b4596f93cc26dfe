import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits as sklearn_digits

from gankit.data.images import ImageFolder, load_digits, load_npz
from gankit.errors import GankitError


def test_digits_are_sklearn_digits_as_uint8():
    images, labels = load_digits(8)
    bunch = sklearn_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.uint8
    np.testing.assert_array_equal(images[:, 0].numpy(), np.rint(bunch.images * 255 / 16))
    np.testing.assert_array_equal(labels.numpy(), bunch.target)


def test_digits_resized():
    images, _ = load_digits(16)
    assert images.shape == (1797, 1, 16, 16)
    assert images.max() > 200 and images.min() == 0


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    if layout == "nhwc":
        array = nchw.transpose(0, 2, 3, 1)
    elif layout == "nhw":
        nchw = nchw[:, :1]
        array = nchw[:, 0]
    else:
        array = nchw
    np.savez(tmp_path / "d.npz", x=array, y=np.arange(6))
    images, labels = load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(images.numpy(), nchw)
    assert labels.tolist() == list(range(6))


def test_npz_only_array_and_errors(tmp_path):
    np.savez(tmp_path / "one.npz", imgs=np.zeros((2, 4, 4), np.uint8))
    images, labels = load_npz(tmp_path / "one.npz")
    assert images.shape == (2, 1, 4, 4) and labels is None
    np.savez(tmp_path / "float.npz", x=np.zeros((2, 4, 4), np.float32))
    with pytest.raises(GankitError, match="expected uint8 images"):
        load_npz(tmp_path / "float.npz")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4, 4), np.uint8), b=np.zeros(2))
    with pytest.raises(GankitError, match="no array named 'x'"):
        load_npz(tmp_path / "two.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(GankitError, match="not a readable .npz"):
        load_npz(tmp_path / "junk.npz")


def test_image_folder_recursive_resize_and_crop(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (16, 16), (0, 255, 0)).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "notes.txt").write_text("ignored")
    dataset = ImageFolder(tmp_path, 8)
    assert len(dataset) == 2
    first = dataset[0]
    assert first.shape == (3, 8, 8) and first.dtype == torch.uint8
    assert first[0].min() == 255 and first[1].max() == 0
    assert ImageFolder(tmp_path, 8, grayscale=True)[1].shape == (1, 8, 8)


def test_image_folder_names_the_corrupt_file(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(GankitError, match="bad.png"):
        ImageFolder(tmp_path, 8)


def test_empty_folder(tmp_path):
    with pytest.raises(GankitError, match="no images"):
        ImageFolder(tmp_path, 8)
