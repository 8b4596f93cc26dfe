import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.imaging import grid_image, to_uint8, write_samples


def test_to_uint8_rounds_to_nearest_level():
    x = torch.linspace(-1.2, 1.2, 10_001)
    expected = np.clip(np.floor((x.double().numpy() + 1) * 127.5 + 0.5), 0, 255)
    np.testing.assert_array_equal(to_uint8(x).numpy(), expected)
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]


def test_grid_layout():
    images = torch.full((6, 3, 4, 4), 1.0)
    grid = grid_image(images, nrow=3, min_width=0)
    assert grid.shape == (2 * 6 + 2, 3 * 6 + 2, 3)
    assert grid[2, 2].tolist() == [255, 255, 255] and grid[0, 0].tolist() == [0, 0, 0]


def test_write_samples_png_npz_folder(tmp_path):
    samples = torch.rand(5, 1, 8, 8) * 2 - 1
    write_samples(samples, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "L"
    write_samples(samples, tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as archive:
        assert archive["x"].shape == (5, 8, 8, 1) and archive["x"].dtype == np.uint8
        np.testing.assert_array_equal(archive["x"][..., 0], to_uint8(samples)[:, 0].numpy())
    write_samples(samples, tmp_path / "folder")
    assert sorted(p.name for p in (tmp_path / "folder").iterdir())[:2] == ["000000.png", "000001.png"]
    with pytest.raises(GankitError, match="use a .png"):
        write_samples(samples, tmp_path / "s.jpg")


def test_small_images_are_enlarged_by_an_integer_nearest_neighbour_factor():
    images = torch.linspace(-1, 1, 16 * 16).reshape(1, 1, 16, 16).repeat(64, 1, 1, 1)
    grid = grid_image(images)  # 8 x 16 px = 128 px wide: factor 4
    assert grid.shape[1] >= 512 and grid.shape == (8 * (64 + 2) + 2, 8 * (64 + 2) + 2, 1)
    tile = grid[2 : 2 + 64, 2 : 2 + 64, 0]
    expected = to_uint8(images[0, 0]).numpy().repeat(4, 0).repeat(4, 1)
    assert (tile == expected).all()
