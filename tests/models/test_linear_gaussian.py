"""The baselines as generators: x = mu_c + A_c u + s_c e has the fitted model's covariance (closed form), samples
with its moments and component weights, round-trips through its file, and is read by sampling and eval sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from gankit.baselines import PPCA, Gaussian, GaussianMixture
from gankit.baselines.run import as_generator
from gankit.errors import GankitError
from gankit.models.linear_gaussian import LinearGaussianGenerator, find_generator_file, load_linear_gaussian
from gankit.sampling import generate, load_generator


def vectors(n: int, dim: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    return torch.randn(n, dim, generator=g, dtype=torch.float64) @ mixing + torch.arange(dim) * 0.3


def implied_covariance(G: LinearGaussianGenerator, c: int = 0) -> np.ndarray:
    A = G.factors[c].double().numpy()
    return A @ A.T + float(G.noise_std[c]) ** 2 * np.eye(A.shape[0])


@pytest.mark.parametrize("kind", ["gaussian", "ppca"])
def test_the_generator_has_the_models_mean_and_covariance(kind):
    data = vectors(400, 6, 0)
    model = Gaussian().fit(data) if kind == "gaussian" else PPCA(2).fit(data)
    G = as_generator(model)
    np.testing.assert_allclose(implied_covariance(G), model.covariance().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(G.means[0].double().numpy(), model.mean.numpy(), rtol=1e-6)
    assert G.z_dim == (6 if kind == "gaussian" else 2 + 6)
    samples = generate(G, 40000, seed=1).double().numpy()
    np.testing.assert_allclose(samples.mean(0), model.mean.numpy(), atol=0.06)
    np.testing.assert_allclose(np.cov(samples.T), model.covariance().numpy(), rtol=0.05, atol=0.1)


def test_mixture_components_are_drawn_with_their_weights():
    data = torch.cat([vectors(300, 3, 1) - 8, vectors(100, 3, 2) + 8])
    model = GaussianMixture(2, seed=0).fit(data)
    G = as_generator(model)
    for c in range(2):
        np.testing.assert_allclose(implied_covariance(G, c), model.covariances[c].numpy(), rtol=1e-5, atol=1e-6)
    z = G.sample_latent(20000, torch.Generator().manual_seed(0))
    counts = torch.bincount(G.component(z[:, 0]), minlength=2).numpy()
    assert chisquare(counts, 20000 * model.weights.numpy()).pvalue > 1e-3
    # each sample is its component's mean plus its factor times u: the selector picks the component
    x = G(z[:8])
    c = G.component(z[:8, 0])
    expected = G.means[c] + torch.einsum("ndm,nm->nd", G.factors[c], z[:8, 1:])
    torch.testing.assert_close(x, expected)


def test_file_round_trip_and_loading_through_sampling(tmp_path):
    images = torch.randint(0, 256, (60, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    G = as_generator(PPCA(3).fit(images))
    G.save(tmp_path / "generator.safetensors")
    assert find_generator_file(tmp_path) == tmp_path / "generator.safetensors"
    loaded = load_generator(tmp_path)
    z = G.sample_latent(5, torch.Generator().manual_seed(2))
    torch.testing.assert_close(loaded(z), G(z))
    assert loaded(z).shape == (5, 1, 4, 4) and float(loaded(z).abs().max()) <= 1
    assert load_linear_gaussian(tmp_path / "generator.safetensors").source["baseline"] == "ppca"
    (tmp_path / "checkpoints").mkdir()  # a gankit train run is not a baseline run
    assert find_generator_file(tmp_path) is None


def test_sefa_weight_is_the_whole_linear_map():
    G = as_generator(PPCA(2).fit(vectors(100, 5, 3)))
    A = G.sefa_weight()
    z = G.sample_latent(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z @ A.T + G.means[0], G.linear(z))


def test_bad_files_and_shapes_are_one_line_errors(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(GankitError, match="not a readable gankit generator"):
        load_linear_gaussian(bad)
    G = as_generator(Gaussian().fit(vectors(50, 3, 0)))
    with pytest.raises(GankitError, match="latents of shape"):
        G(torch.zeros(2, 4))
    with pytest.raises(GankitError, match="weights"):
        LinearGaussianGenerator(torch.tensor([0.5]), torch.zeros(1, 3), torch.zeros(1, 3, 2), torch.zeros(1), (3,))
    mixture = as_generator(GaussianMixture(2, seed=0).fit(vectors(80, 3, 1)))
    with pytest.raises(GankitError, match="one linear map per component"):
        mixture.sefa_weight()
