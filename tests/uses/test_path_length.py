"""Perceptual path length against closed forms: a linear "style generator" x = A w, w = B z has, per path, PPL in W
equal to |A B (z1 - z0)|^2 and in Z equal to omega^2 |A B p'(t)/omega|^2 for the unit-sphere slerp p; the outlier
filter against the percentile definition; slerp against gankit.uses.structure.slerp."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.metrics.features.extractors import PixelFeatures
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.path_length import (
    filtered_mean,
    float_feature_fn,
    path_lengths,
    perceptual_path_length,
    unit_slerp,
)
from gankit.uses.structure import slerp


class LinearStyle(StyleGAN2Generator):
    """w = B z (no normalisation), image = A w reshaped to 1 x 4 x 4: every path length has a closed form."""

    def __init__(self) -> None:
        super().__init__(z_dim=3, channels=1, resolution=4, w_dim=5, mapping_layers=1, channel_base=16, channel_max=1)
        g = torch.Generator().manual_seed(0)
        self.B = torch.randn(5, 3, generator=g, dtype=torch.float64)
        self.A = torch.randn(16, 5, generator=g, dtype=torch.float64)

    def mapping(self, z, y=None, psi=1.0, cutoff=None, update_w_avg=False):
        return (z.double() @ self.B.T).unsqueeze(1).expand(-1, self.num_ws, -1)

    def synthesis(self, ws, noise_mode="random", noise=None):
        return (ws[:, 0] @ self.A.T).view(-1, 1, 4, 4)


def identity(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1)


def test_ppl_in_w_is_the_squared_length_of_the_linear_images_path():
    G = LinearStyle()
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64)
    values = path_lengths(G, identity, z0, z1, t, "w")
    expected = ((z1 - z0) @ (G.A @ G.B).T).square().sum(1)
    assert torch.allclose(values, expected, rtol=1e-6)


def test_ppl_in_z_is_the_squared_speed_of_the_unit_slerp():
    G = LinearStyle()
    g = torch.Generator().manual_seed(2)
    z0, z1 = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64)
    values = path_lengths(G, identity, z0, z1, t, "z", eps=1e-6)
    a = z0 / z0.norm(dim=1, keepdim=True)
    b = z1 / z1.norm(dim=1, keepdim=True)
    omega = torch.acos((a * b).sum(1, keepdim=True))
    c = b - torch.cos(omega) * a
    c = c / c.norm(dim=1, keepdim=True)
    velocity = omega * (-a * torch.sin(t[:, None] * omega) + c * torch.cos(t[:, None] * omega))
    expected = (velocity @ (G.A @ G.B).T).square().sum(1)
    assert torch.allclose(values, expected, rtol=1e-4)


def test_unit_slerp_matches_the_general_slerp_on_unit_vectors():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(7, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64)
    a, b = a / a.norm(), b / b.norm()
    path = slerp(a, b, 5)
    ts = torch.linspace(0, 1, 5, dtype=torch.float64)
    ours = unit_slerp(a.expand(5, -1), b.expand(5, -1), ts)
    assert torch.allclose(ours, path, atol=1e-9)
    assert torch.allclose(ours.norm(dim=1), torch.ones(5, dtype=torch.float64))


def test_filtered_mean_keeps_values_between_the_lower_1st_and_higher_99th_percentile():
    values = torch.tensor(np.random.default_rng(0).lognormal(size=250))
    ordered = np.sort(values.numpy())
    n = len(ordered)
    lo, hi = ordered[math.floor(0.01 * (n - 1))], ordered[math.ceil(0.99 * (n - 1))]
    kept = ordered[(ordered >= lo) & (ordered <= hi)]
    assert filtered_mean(values) == pytest.approx(kept.mean(), rel=1e-12)
    assert len(kept) < n


def test_ppl_uses_the_same_endpoints_in_z_and_w_and_refuses_z_generators():
    G = LinearStyle()
    w = perceptual_path_length(G, identity, n=20, space="w", sampling="end", seed=4, batch_size=7)
    again = perceptual_path_length(G, identity, n=20, space="w", sampling="end", seed=4, batch_size=20)
    assert torch.allclose(w.values, again.values)
    from gankit.models.dcgan import DCGANGenerator

    with pytest.raises(GankitError, match="StyleGAN2 generator"):
        perceptual_path_length(DCGANGenerator(8, 1, 8, 8), identity, n=4)


def test_float_pixel_features_equal_the_uint8_extractor_on_uint8_images():
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    extractor = PixelFeatures((1, 8, 8))
    expected, _ = extractor(images)
    assert torch.allclose(float_feature_fn(extractor)(from_uint8(images)), expected, atol=1e-6)
