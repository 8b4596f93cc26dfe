"""Projection targets: PNG files and sliced sources at the generator's shape, resized or refused with the expected
shape in a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from gankit.data.images import resize_square
from gankit.errors import GankitError
from gankit.uses.targets import read_targets


def _png(path, array: np.ndarray) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_grey_png_of_the_right_size_is_read_exactly(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    targets = read_targets([_png(tmp_path / "x.png", array)], (1, 16, 16))
    assert torch.equal(targets.images[0, 0], torch.from_numpy(array))
    assert targets.names == ["x.png"] and targets.notes == []


def test_other_sizes_are_resized_with_a_note_and_grey_rgb_is_grey(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    rgb = np.repeat(array[..., None], 3, axis=2)
    targets = read_targets([_png(tmp_path / "x.png", rgb)], (1, 32, 32))
    expected = resize_square(torch.from_numpy(array)[None, None], 32)
    assert torch.equal(targets.images, expected)
    assert targets.notes and "28x28 -> 32x32" in targets.notes[0]
    coloured = read_targets([_png(tmp_path / "g.png", array)], (3, 28, 28)).images
    assert coloured.shape == (1, 3, 28, 28) and torch.equal(coloured[0, 2], torch.from_numpy(array))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8),
            r"3-channel images, expected .*\(1, 16, 16\)",
        ),
        (np.zeros((16, 20), dtype=np.uint8), r"not square; expected images of shape \(1, 16, 16\)"),
    ],
)
def test_colour_for_a_grey_generator_and_non_square_images_are_refused(tmp_path, array, message):
    with pytest.raises(GankitError, match=message) as info:
        read_targets([_png(tmp_path / "x.png", array)], (1, 16, 16))
    assert "\n" not in str(info.value)


def test_a_sliced_source_gives_those_images_in_order():
    targets = read_targets(["digits:5:8"], (1, 8, 8))
    expected = np.round(load_digits().images[5:8] * 255 / 16).astype(np.uint8)
    assert torch.equal(targets.images[:, 0], torch.from_numpy(expected))
    assert targets.names == ["digits[5]", "digits[6]", "digits[7]"]
    with pytest.raises(GankitError, match="selects no images"):
        read_targets(["digits:9:9"], (1, 8, 8))


def test_missing_files_and_vector_generators_are_one_line_errors(tmp_path):
    with pytest.raises(GankitError, match="no such image file"):
        read_targets([str(tmp_path / "missing.png")], (1, 8, 8))
    with pytest.raises(GankitError, match="vectors"):
        read_targets(["digits"], (2,))
