"""The generic truncation curve: psi for style generators (psi = 0 collapses every z onto w_avg's image, psi = 1 is
the plain generator), the truncated normal for the others (the latents' variance is scipy's truncnorm variance),
and FID / precision / recall rows equal to scipy / scikit-learn computations on the same samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from sklearn.neighbors import NearestNeighbors

from gankit.errors import GankitError
from gankit.imaging import to_uint8
from gankit.metrics.features.extractors import PixelFeatures
from gankit.models.base import Generator
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.truncation_curve import truncated_samples, truncation_curve, truncation_kind, truncation_row


class LatentImage(Generator):
    """A z generator whose 'image' is its latent z (4 values as 1 x 2 x 2), squashed to [-1, 1] by z / 4."""

    def __init__(self) -> None:
        super().__init__(4, (1, 2, 2))
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        return (z / 4 + self.anchor).view(-1, 1, 2, 2)


def tiny_style() -> StyleGAN2Generator:
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=8, channels=1, resolution=8, w_dim=8, mapping_layers=1, channel_base=32, channel_max=4)
    with torch.no_grad():
        G.mapping_network.w_avg.normal_()
        for layer in G.noise_layers():
            layer.strength.zero_()  # images depend on w only
    return G.eval()


def test_psi_zero_gives_the_image_of_w_avg_for_every_z_and_psi_one_the_plain_generator():
    G = tiny_style()
    collapsed = truncated_samples(G, 5, 0.0, seed=1)
    with torch.no_grad():
        expected = G.synthesis(G.w_avg.expand(1, G.num_ws, -1))
    assert torch.allclose(collapsed, expected.expand(5, -1, -1, -1), atol=1e-5)
    plain = truncated_samples(G, 5, 1.0, seed=1)
    with torch.no_grad():
        z = G.sample_latent(5, torch.Generator().manual_seed(1))
        assert torch.allclose(plain, G(z), atol=1e-5)
    half = truncated_samples(G, 5, 0.5, seed=1)
    assert not torch.allclose(half, plain, atol=1e-3) and not torch.allclose(half, collapsed, atol=1e-3)
    assert truncation_kind(G) == "psi"


def test_psi_outside_the_unit_interval_warns():
    with pytest.warns(UserWarning, match="outside"):
        truncated_samples(tiny_style(), 2, 1.5)


def test_thresholds_draw_from_the_truncated_normal():
    G = LatentImage()
    assert truncation_kind(G) == "threshold"
    z = truncated_samples(G, 4000, 0.8, seed=2).flatten() * 4
    assert float(z.abs().max()) <= 0.8
    assert float(z.var()) == pytest.approx(scipy.stats.truncnorm(-0.8, 0.8).var(), rel=0.05)
    plain = truncated_samples(G, 4000, math.inf, seed=2).flatten() * 4
    assert float(plain.var()) == pytest.approx(1.0, rel=0.06)
    with pytest.raises(GankitError, match="threshold"):
        truncated_samples(G, 2, 1e-5)


def test_truncation_row_puts_the_values_of_one_latent_side_by_side():
    G = LatentImage()
    row = truncation_row(G, 3, (math.inf, 0.5), seed=3)
    assert row.shape == (6, 1, 2, 2)
    assert torch.equal(row[0::2], truncated_samples(G, 3, math.inf, seed=3))
    assert torch.equal(row[1::2], truncated_samples(G, 3, 0.5, seed=3))


def _fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def _inside(queries: np.ndarray, centers: np.ndarray, k: int = 3) -> float:
    radii = NearestNeighbors(n_neighbors=k + 1).fit(centers).kneighbors(centers)[0][:, -1]
    distances = np.linalg.norm(queries[:, None] - centers[None], axis=2)
    return float((distances <= radii[None]).any(axis=1).mean())


def test_curve_rows_equal_scipy_fid_and_sklearn_precision_recall_and_trade_variety_for_fidelity():
    G = LatentImage()
    real = to_uint8(truncated_samples(G, 300, math.inf, seed=10))
    rows = truncation_curve(G, PixelFeatures((1, 2, 2)), real, (math.inf, 0.3), n=300, seed=5)
    real_f = real.flatten(1).double().numpy() / 255
    for row in rows:
        fake_f = to_uint8(truncated_samples(G, 300, row["value"], seed=5)).flatten(1).double().numpy() / 255
        assert row["fid"] == pytest.approx(_fid(real_f, fake_f), rel=1e-4, abs=1e-6)
        assert row["precision"] == pytest.approx(_inside(fake_f, real_f))
        assert row["recall"] == pytest.approx(_inside(real_f, fake_f))
        assert row["n_real"] == row["n_fake"] == 300
    untruncated, truncated = rows
    assert truncated["recall"] < untruncated["recall"] - 0.3
    assert truncated["fid"] > untruncated["fid"]
