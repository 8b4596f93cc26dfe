"""PPCA: the Tipping & Bishop closed form, scikit-learn's PCA likelihood, and the eigen-form density."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from gankit.baselines import PPCA, Gaussian, load_baseline
from gankit.errors import GankitError


def low_rank_data(n: int, dim: int, rank: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    loading = torch.randn(dim, rank, generator=g, dtype=torch.float64) * 3
    z = torch.randn(n, rank, generator=g, dtype=torch.float64)
    return z @ loading.T + 0.5 * torch.randn(n, dim, generator=g, dtype=torch.float64) + 2.0


def closed_form(x: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Tipping & Bishop (1999) Eqs. 7-8 from the eigen-decomposition of the 1/N sample covariance."""
    values, vectors = np.linalg.eigh(np.cov(x.T, bias=True))
    values, vectors = values[::-1], vectors[:, ::-1]
    sigma2 = values[k:].mean()
    return vectors[:, :k] * np.sqrt(values[:k] - sigma2), sigma2


@pytest.mark.parametrize("n, dim, k", [(300, 10, 3), (20, 50, 5)])
def test_fit_matches_the_closed_form(n, dim, k):
    x = low_rank_data(n, dim, 4, 0)
    model = PPCA(k, ridge=0.0).fit(x)
    weight, sigma2 = closed_form(x.numpy(), k)
    assert model.noise_variance == pytest.approx(sigma2, rel=1e-9)
    np.testing.assert_allclose(model.weight.numpy() @ model.weight.numpy().T, weight @ weight.T, atol=1e-8)
    np.testing.assert_allclose(np.abs(model.weight.numpy()), np.abs(weight), atol=1e-7)  # columns up to sign


def test_average_log_likelihood_equals_sklearn_pca_score():
    # scikit-learn's PCA uses the 1/(N-1) covariance; fitted on centred data scaled by sqrt((N-1)/N) its
    # covariance is the 1/N maximum-likelihood one, and its score(X) is the PPCA average log-likelihood of X
    x = low_rank_data(400, 12, 3, 1)
    x = x - x.mean(0)
    n = len(x)
    model = PPCA(3, ridge=0.0).fit(x)
    sklearn_pca = PCA(n_components=3, svd_solver="full").fit(x.numpy() * np.sqrt((n - 1) / n))
    ours = float(model.log_likelihood(x).mean())
    assert ours == pytest.approx(sklearn_pca.score(x.numpy()), rel=1e-6)
    np.testing.assert_allclose(model.covariance().numpy(), sklearn_pca.get_covariance(), atol=1e-10)


def test_eigen_form_density_and_bits_equal_the_dense_gaussian():
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (60, 1, 4, 4), generator=g, dtype=torch.uint8)
    model = PPCA(4).fit(images)
    dense = Gaussian.from_moments(model.mean, model.covariance())
    v = images.flatten(1).double() / 127.5 - 1
    torch.testing.assert_close(model.log_likelihood(images), dense._log_likelihood(v), rtol=1e-10, atol=0)
    assert model.precision_trace() == pytest.approx(dense.precision_trace(), rel=1e-9)


def test_maximum_likelihood_is_a_maximum():
    x = low_rank_data(200, 8, 2, 3)
    model = PPCA(2, ridge=0.0).fit(x)
    best = float(model.log_likelihood(x).sum())
    for scale_w, scale_s in [(1.05, 1.0), (0.95, 1.0), (1.0, 1.1), (1.0, 0.9)]:
        other = PPCA(2, ridge=0.0).fit(x)
        other.eigenvalues = (other.eigenvalues - other.noise_variance) * scale_w**2 + other.noise_variance * scale_s
        other.noise_variance *= scale_s
        assert float(other.log_likelihood(x).sum()) < best


def test_samples_have_the_model_covariance(tmp_path):
    x = low_rank_data(500, 6, 2, 4)
    model = PPCA(2).fit(x)
    samples = model.sample(40000, torch.Generator().manual_seed(0)).double().numpy()
    np.testing.assert_allclose(
        np.cov(samples.T), model.covariance().numpy(), atol=0.15 * float(model.eigenvalues[0]) ** 0.5
    )
    loaded = load_baseline(model.save(tmp_path / "p.safetensors"))
    torch.testing.assert_close(loaded.log_likelihood(x), model.log_likelihood(x), rtol=0, atol=0)


def test_bad_component_counts_are_errors():
    with pytest.raises(GankitError, match="below the dimension"):
        PPCA(6).fit(low_rank_data(50, 6, 2, 0))
    with pytest.raises(GankitError, match="positive integer"):
        PPCA(0)
    with pytest.raises(GankitError, match="sigma\\^2 = 0"):
        PPCA(2, ridge=0.0).fit(low_rank_data(50, 6, 2, 0)[:, :2].repeat(1, 3))
