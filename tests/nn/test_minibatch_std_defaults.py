"""Minibatch standard deviation (Karras et al., ICLR 2018, Sec. 3; StyleGAN2's defaults: groups of 4, one
feature) with its default arguments, the module's arguments passed through, groups of one, and the shape error."""

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.nn.minibatch_std import MinibatchStdDev, minibatch_stddev


def explicit(x, g, f):
    """Population std over groups {k, k + n/g, ...}, averaged per channel slice and position (loops)."""
    n, c, h, w = x.shape
    m = n // g
    extra = np.zeros((n, f, h, w))
    for k in range(m):
        members = [k + j * m for j in range(g)]
        for s in range(f):
            value = np.std(x[members][:, s * c // f : (s + 1) * c // f], axis=0).mean()
            extra[members, s] = value
    return np.concatenate([x, extra], axis=1)


def test_defaults_are_groups_of_four_and_one_feature():
    x = torch.randn(8, 4, 2, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(minibatch_stddev(x).numpy(), explicit(x.double().numpy(), 4, 1), atol=1e-5)
    np.testing.assert_allclose(MinibatchStdDev()(x).numpy(), explicit(x.double().numpy(), 4, 1), atol=1e-5)
    layer = MinibatchStdDev(group_size=2, num_features=2)
    np.testing.assert_allclose(layer(x).numpy(), explicit(x.double().numpy(), 2, 2), atol=1e-5)


def test_groups_of_one_give_zero_deviation():
    x = torch.randn(3, 2, 2, 2, generator=torch.Generator().manual_seed(1))
    out = minibatch_stddev(x, group_size=1)
    assert out.shape == (3, 3, 2, 2) and float(out[:, 2].abs().max()) < 1e-3  # sqrt(0 + 1e-8)


def test_flat_input_is_a_one_line_error_naming_the_shape():
    with pytest.raises(GankitError, match=r"needs \(N, C, H, W\) feature maps, got shape \(3, 4\)"):
        minibatch_stddev(torch.randn(3, 4))
