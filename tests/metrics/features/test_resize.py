"""The TF1 bilinear resize against torch-fidelity's TensorFlow-exact implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.metrics.features.resize import resize, tf1_bilinear_matrix


@pytest.mark.parametrize(("height", "width"), [(8, 8), (32, 32), (28, 40), (300, 310), (512, 512)])
def test_tf1_bilinear_equals_torch_fidelity(height, width):
    module = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")
    images = torch.randint(0, 256, (2, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    reference = module.interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(299, 299), align_corners=False)
    assert torch.allclose(resize(images, 299), reference, atol=1e-4, rtol=0)


def test_tf1_weights_closed_form():
    # 4 -> 8: source coordinates o * 0.5; the last output clamps its upper neighbour to row 3.
    matrix = tf1_bilinear_matrix(4, 8)
    assert torch.allclose(matrix.sum(1), torch.ones(8))
    assert matrix[3, 1] == 0.5 and matrix[3, 2] == 0.5
    assert matrix[7, 3] == 1.0


def test_pil_bicubic_equals_pil_on_each_channel():
    images = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = resize(images, 29, "pil-bicubic")
    channel = Image.fromarray(images[0, 1].numpy().astype(np.float32)).resize((29, 29), Image.Resampling.BICUBIC)
    assert np.allclose(out[0, 1].numpy(), np.asarray(channel).clip(0, 255))
    assert out.min() >= 0 and out.max() <= 255


def test_same_size_is_unchanged_and_unknown_methods_are_named():
    images = torch.randint(0, 256, (1, 1, 299, 299), dtype=torch.uint8)
    assert torch.equal(resize(images, 299), images.float())
    with pytest.raises(GankitError, match="tf1-bilinear, pil-bicubic, torch-bilinear"):
        resize(images, 10, "area")
