"""Eigenfaces against scikit-learn's PCA on the Olivetti faces; the PCA-space Gaussian's samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from gankit.baselines.eigenfaces import components_for, fit_eigenfaces
from gankit.data.faces import load_faces
from gankit.errors import GankitError


@pytest.fixture
def faces(assets):
    return load_faces(assets / "faces", download=False)


def test_eigen_images_are_orthonormal_and_equal_sklearn_components_up_to_sign(faces):
    images = faces[0][:120]  # 12 people keep the SVDs small
    eigenfaces = fit_eigenfaces(images, 40)
    u = eigenfaces.components.numpy()
    np.testing.assert_allclose(u @ u.T, np.eye(40), atol=1e-10)
    pca = PCA(n_components=40, svd_solver="full").fit(images.flatten(1).double().numpy() / 127.5 - 1)
    signs = np.sign((u * pca.components_).sum(1))
    np.testing.assert_allclose(u * signs[:, None], pca.components_, atol=1e-8)
    np.testing.assert_allclose(eigenfaces.variances.numpy(), pca.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(eigenfaces.explained_variance_ratio.numpy(), pca.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(eigenfaces.mean.numpy(), pca.mean_, atol=1e-12)


def test_reconstruction_with_all_components_is_exact_and_samples_have_the_variances(faces):
    images, _ = faces
    eigenfaces = fit_eigenfaces(images[:60], 59)
    coefficients = eigenfaces.project(images[:60])
    torch.testing.assert_close(eigenfaces.reconstruct(coefficients), images[:60].float() / 127.5 - 1, atol=1e-5, rtol=0)
    assert components_for(eigenfaces, 1.0) == 59 and components_for(eigenfaces, 0.5) < 10
    samples = eigenfaces.sample(4000, torch.Generator().manual_seed(0), components=3)
    observed = eigenfaces.project(samples)[:, :3].var(0)
    torch.testing.assert_close(observed, eigenfaces.variances[:3], rtol=0.1, atol=0)


def test_too_many_components_is_an_error(faces):
    with pytest.raises(GankitError, match="components must be in 1..9"):
        fit_eigenfaces(faces[0][:10], 10)
