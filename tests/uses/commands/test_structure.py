"""gankit use structure: SeFa directions of a PPCA run against numpy's eigenvectors of A^T A for A = [W, sigma I],
the figures of a GAN run, and one-line errors."""

from __future__ import annotations

import numpy as np

from gankit.baselines.run import load_run
from gankit.cli import main

from .conftest import use


def test_sefa_of_a_ppca_run_is_the_top_eigenvectors_of_its_linear_map(tmp_path, ppca_run):
    numbers = use(
        "structure",
        "--run",
        str(ppca_run),
        "-k",
        "3",
        "--samples",
        "300",
        "--pairs",
        "2",
        "--maps",
        "pca",
        "-n",
        "100",
        "--features",
        "pixels",
        tmp_path=tmp_path,
    )
    model = load_run(ppca_run)
    A = np.hstack([model.weight.numpy(), np.sqrt(model.noise_variance) * np.eye(64)])
    values, vectors = np.linalg.eigh(A.T @ A)
    top = vectors[:, ::-1][:, :3].T
    found = np.array(numbers["sefa"]["directions"])
    np.testing.assert_allclose(np.abs((found * top).sum(1)), 1, atol=1e-4)
    np.testing.assert_allclose(numbers["sefa"]["values"], values[::-1][:3], rtol=1e-4)
    assert numbers["space"] == "z" and numbers["generator"] == "LinearGaussianGenerator"


def test_gan_run_writes_every_figure(tmp_path, gan_run):
    numbers = use(
        "structure",
        "--run",
        str(gan_run),
        "-k",
        "2",
        "--samples",
        "200",
        "--pairs",
        "2",
        "-n",
        "60",
        "--features",
        "pixels",
        tmp_path=tmp_path,
    )
    expected = {"interpolation-linear-z", "interpolation-spherical-z", "sefa", "ganspace", "map-pca", "map-tsne"}
    assert set(numbers["figures"]) == expected
    assert all(0 <= a <= 1 + 1e-9 for a in numbers["alignment"])
    assert set(numbers["path_lengths"]) == {"linear in z", "spherical in z"}


def test_bad_input_is_a_one_line_error(tmp_path, gan_run, capsys):
    base = ["use", "structure", "--out", str(tmp_path), "--features", "pixels"]
    ring = tmp_path / "ring"
    assert main(["train", "ring-ns", "train.steps=2", "log.tensorboard=false", "--out", str(ring), "--quiet"]) == 0
    for extra, message in [
        (["--run", str(ring), "--data", "digits"], "vectors, not images"),
        (["--run", str(gan_run), "--maps", "umap"], "unknown map 'umap'"),
        (["--run", str(gan_run), "-k", "99"], "k=99"),
    ]:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
