"""Full-covariance Gaussian: ML fit, conditioning against the precision-matrix form, dequantised bits/dim
against exact bin probabilities, imputation, files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from gankit.baselines import Gaussian, load_baseline
from gankit.baselines.base import DEQUANTISATION_VARIANCE
from gankit.baselines.gaussian import gaussian_conditional
from gankit.errors import GankitError


def random_gaussian(dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    return torch.randn(dim, generator=g, dtype=torch.float64), a @ a.T + 0.5 * torch.eye(dim, dtype=torch.float64)


def random_images(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(60, 200, (1, *shape), generator=g)
    return (base + torch.randint(-50, 50, (n, *shape), generator=g)).clamp(0, 255).to(torch.uint8)


def test_conditional_equals_the_precision_matrix_form():
    # Bishop (2006) Eqs. 2.73, 2.75: Sigma_{h|v} = Lambda_hh^-1, mu_{h|v} = mu_h - Lambda_hh^-1 Lambda_hv (x_v - mu_v)
    mean, cov = random_gaussian(6, 0)
    visible = torch.tensor([True, False, True, False, False, True])
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cond_mean, cond_cov = gaussian_conditional(mean, cov, x, visible)
    precision = np.linalg.inv(cov.numpy())
    h, v = (~visible).numpy(), visible.numpy()
    lam_hh = precision[np.ix_(h, h)]
    expected_cov = np.linalg.inv(lam_hh)
    expected_mean = mean.numpy()[h] - (expected_cov @ precision[np.ix_(h, v)] @ (x.numpy()[:, v] - mean.numpy()[v]).T).T
    np.testing.assert_allclose(cond_cov.numpy(), expected_cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cond_mean.numpy(), expected_mean, rtol=1e-10, atol=1e-12)


def test_conditional_samples_have_the_conditional_moments():
    mean, cov = random_gaussian(4, 2)
    model = Gaussian.from_moments(mean, cov)
    visible = torch.tensor([True, False, False, True])
    x = mean[None].clone() + 1.0
    imputation = model.conditional(x.expand(20000, -1).clone(), visible)
    draws = imputation.sample(torch.Generator().manual_seed(3)).double()
    assert torch.equal(draws[:, visible], x.expand(20000, -1)[:, visible].float().double())
    hidden = draws[:, ~visible].numpy()
    np.testing.assert_allclose(hidden.mean(0), imputation.mean[0, ~visible].numpy(), atol=0.05)
    np.testing.assert_allclose(np.cov(hidden.T), imputation.covariance.numpy(), rtol=0.05, atol=0.02)


def test_imputing_a_fully_visible_image_returns_the_image():
    images = random_images(50, (1, 4, 4), 0)
    model = Gaussian().fit(images)
    visible = torch.ones(1, 4, 4, dtype=torch.bool)
    imputation = model.conditional(images[:3], visible)
    expected = images[:3].float() / 127.5 - 1
    torch.testing.assert_close(imputation.mean, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(imputation.sample(torch.Generator().manual_seed(0)), expected, rtol=0, atol=1e-6)
    assert imputation.covariance.shape == (0, 0)


def test_per_image_masks_match_one_mask_at_a_time():
    images = random_images(80, (1, 3, 3), 1)
    model = Gaussian().fit(images)
    masks = torch.rand(5, 1, 3, 3, generator=torch.Generator().manual_seed(0)) > 0.5
    masks[0] = masks[3]
    together = model.conditional(images[:5], masks).mean
    for i in range(5):
        torch.testing.assert_close(together[i], model.conditional(images[i : i + 1], masks[i]).mean[0])


def test_fit_is_maximum_likelihood_with_the_dequantisation_ridge():
    images = random_images(200, (1, 3, 3), 2)
    model = Gaussian().fit(images)
    v = images.flatten(1).double().numpy() / 127.5 - 1
    expected_cov = np.cov(v.T, bias=True) + DEQUANTISATION_VARIANCE * np.eye(9)
    np.testing.assert_allclose(model.covariance().numpy(), expected_cov, rtol=1e-10, atol=1e-14)
    expected = multivariate_normal(v.mean(0), expected_cov).logpdf(v[:5])
    np.testing.assert_allclose(model.log_likelihood(images[:5]).numpy(), expected, rtol=1e-10)


def test_bits_per_dim_bounds_the_exact_discrete_code_length():
    # one pixel: P(x) = Phi((x + 1/2 - m) / s) - Phi((x - 1/2 - m) / s) in pixel units; bits/dim must be
    # >= -log2 P(x) (Jensen) and, for bins much narrower than s, within a hair of it (a wrong pixel scale,
    # e.g. 255 for 127.5, is off by a whole bit)
    images = torch.tensor([[[[v]]] for v in (90, 100, 120, 130, 131, 150, 170)], dtype=torch.uint8)
    model = Gaussian(ridge=0.0).fit(images)
    m = 127.5 * (float(model.mean[0]) + 1)
    s = 127.5 * math.sqrt(float(model.covariance()[0, 0]))
    x = np.array([100.0, 128.0, 200.0])
    exact = -np.log2(norm.cdf((x + 0.5 - m) / s) - norm.cdf((x - 0.5 - m) / s))
    bits = model.bits_per_dim(torch.tensor(x, dtype=torch.uint8).reshape(3, 1, 1, 1)).numpy()
    assert np.all(bits >= exact - 1e-12)
    np.testing.assert_allclose(bits, exact, atol=2e-3)


def test_exact_dequantisation_expectation_equals_monte_carlo():
    # the dequantisation excess E_u[-log p(v + u/127.5)] + log p(v) against 100k antithetic noise pairs
    # (u and -u: the same expectation, without the zero-mean linear term's Monte Carlo noise)
    images = random_images(100, (1, 2, 2), 3)
    model = Gaussian().fit(images)
    v = images[:2].flatten(1).double() / 127.5 - 1
    excess = (model.bits_per_dim(images[:2]) * 4 * math.log(2) - 4 * math.log(127.5)) + model.log_likelihood(images[:2])
    noise = (torch.rand(100_000, 1, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 0.5) / 127.5
    draws = [-model._log_likelihood((v + sign * noise).reshape(-1, 4)).reshape(-1, 2) for sign in (1, -1)]
    monte_carlo = torch.cat(draws).mean(0) + model.log_likelihood(images[:2])
    torch.testing.assert_close(excess, monte_carlo, rtol=0.02, atol=0)


def test_save_and_load_round_trip(tmp_path):
    images = random_images(60, (1, 3, 3), 4)
    model = Gaussian().fit(images)
    path = model.save(tmp_path / "g.safetensors")
    loaded = load_baseline(path)
    assert isinstance(loaded, Gaussian) and loaded.shape == (1, 3, 3) and loaded.pixels
    torch.testing.assert_close(loaded.log_likelihood(images), model.log_likelihood(images), rtol=0, atol=0)
    a, b = (m.sample(5, torch.Generator().manual_seed(9)) for m in (model, loaded))
    assert torch.equal(a, b) and a.shape == (5, 1, 3, 3) and a.abs().max() <= 1


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(GankitError, match="not positive definite"):
        Gaussian(ridge=0.0).fit(torch.zeros(10, 3, dtype=torch.float64))
    model = Gaussian().fit(random_images(20, (1, 2, 2), 5))
    with pytest.raises(GankitError, match="fitted on"):
        model.log_likelihood(random_images(2, (1, 3, 3), 5))
    with pytest.raises(GankitError, match="uint8 images"):
        model.bits_per_dim(torch.zeros(2, 1, 2, 2))
    with pytest.raises(GankitError, match="bool tensor"):
        model.conditional(random_images(2, (1, 2, 2), 5), torch.ones(1, 2, 2))
    with pytest.raises(GankitError, match="expected uint8 images or float"):
        Gaussian().fit(torch.zeros(4, 3, dtype=torch.int64))
    (tmp_path / "x.safetensors").write_bytes(b"not a file")
    with pytest.raises(GankitError, match="not a readable safetensors"):
        load_baseline(tmp_path / "x.safetensors")
