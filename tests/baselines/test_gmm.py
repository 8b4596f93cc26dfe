"""Gaussian mixture: our log-likelihood against scikit-learn's, sampling, and the mixture conditional against
numerical integration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.stats import multivariate_normal

from gankit.baselines import Gaussian, GaussianMixture, load_baseline


def blobs(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0]], dtype=torch.float64)
    which = torch.randint(0, 3, (600,), generator=g)
    return centres[which] + torch.randn(600, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 0.6, 0.8])


def test_log_likelihood_equals_sklearn_score_samples():
    x = blobs(0)
    model = GaussianMixture(3, ridge=1e-6).fit(x)
    np.testing.assert_allclose(
        model.log_likelihood(x).numpy(), model.sklearn_model.score_samples(x.numpy()), rtol=1e-10
    )


def test_samples_follow_the_weights_and_means(tmp_path):
    model = GaussianMixture(3, ridge=1e-6).fit(blobs(1))
    samples = model.sample(30000, torch.Generator().manual_seed(0)).double()
    nearest = torch.cdist(samples, model.means).argmin(1)
    fractions = torch.bincount(nearest, minlength=3).double() / len(samples)
    torch.testing.assert_close(fractions, model.weights, atol=0.015, rtol=0)
    loaded = load_baseline(model.save(tmp_path / "m.safetensors"))
    assert torch.equal(
        loaded.sample(7, torch.Generator().manual_seed(3)), model.sample(7, torch.Generator().manual_seed(3))
    )


def test_one_component_conditional_is_the_gaussian_conditional():
    x = blobs(2)
    mixture = GaussianMixture(1, ridge=0.0).fit(x)
    gaussian = Gaussian(ridge=0.0).fit(x)
    visible = torch.tensor([True, False, True])
    torch.testing.assert_close(mixture.conditional(x[:5], visible).mean, gaussian.conditional(x[:5], visible).mean)


def test_conditional_mean_equals_numerical_integration():
    x = blobs(3)[:, :2].contiguous()
    model = GaussianMixture(3, ridge=1e-6).fit(x)
    densities = [
        (float(w), multivariate_normal(m.numpy(), c.numpy()))
        for w, m, c in zip(model.weights, model.means, model.covariances, strict=True)
    ]
    visible = torch.tensor([True, False])
    for x1 in (0.5, 2.5, 4.0):

        def joint(x2, x1=x1):
            return sum(w * d.pdf([x1, x2]) for w, d in densities)

        numerator = quad(lambda x2, j=joint: x2 * j(x2), -30, 30, points=[0, 5, 6], limit=200)[0]
        expected = numerator / quad(joint, -30, 30, points=[0, 5, 6], limit=200)[0]
        query = torch.tensor([[x1, 0.0]], dtype=torch.float64)
        imputation = model.conditional(query, visible)
        assert abs(float(imputation.mean[0, 1]) - expected) < 1e-4
        draws = torch.cat(
            [model.conditional(query.expand(20000, 2).clone(), visible).sample(torch.Generator().manual_seed(1))]
        )
        assert abs(float(draws[:, 1].double().mean()) - expected) < 0.05


def test_monte_carlo_bits_per_dim_of_one_component_equal_the_gaussians_exact_value():
    # pixels of two adjacent levels: the data variance is comparable to the dequantisation noise's, so a
    # wrongly scaled noise moves bits/dim by ~0.1
    g = torch.Generator().manual_seed(4)
    images = torch.randint(127, 129, (300, 1, 2, 2), generator=g, dtype=torch.uint8)
    mixture, gaussian = GaussianMixture(1).fit(images), Gaussian().fit(images)
    copies = images[:1].expand(20000, -1, -1, -1)
    monte_carlo = float(mixture.bits_per_dim(copies, torch.Generator().manual_seed(0)).mean())
    assert monte_carlo == pytest.approx(float(gaussian.bits_per_dim(images[:1])), abs=0.02)
