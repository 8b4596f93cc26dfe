"""gankit use anomaly: the Gaussian row against scipy's density and scikit-learn's AUROC, the GAN's D row against
the loaded discriminator, Ruff et al.'s columns on the MNIST test set, and one-line errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.metrics import roc_auc_score

from gankit.baselines.base import DEQUANTISATION_VARIANCE
from gankit.cli import main
from gankit.data.images import load_digits
from gankit.data.named import dataset_folder
from gankit.uses.commands.common import load_model

from .conftest import TINY_GAN, use


def test_gaussian_row_equals_scipy_and_sklearn(tmp_path):
    numbers = use(
        "anomaly",
        "--data",
        "digits",
        "--test",
        "digits",
        "--resolution",
        "8",
        "--classes",
        "0,7",
        "--components",
        "4",
        "--knn",
        "1",
        tmp_path=tmp_path,
    )
    images, labels = load_digits(8)
    v = images.flatten(1).double().numpy() / 127.5 - 1
    for c in (0, 7):
        normal = v[labels.numpy() == c]
        density = multivariate_normal(
            normal.mean(0), np.cov(normal.T, bias=True) + DEQUANTISATION_VARIANCE * np.eye(64)
        )
        expected = roc_auc_score(labels.numpy() != c, -density.logpdf(v))
        assert numbers["rows"]["Gaussian NLL"]["per_class"][str(c)] == pytest.approx(expected, abs=1e-9)
    assert set(numbers["rows"]) == {"Gaussian NLL", "PPCA k=4 NLL", "kNN k=1 (pixels)"}
    assert numbers["train_counts"] == {"0": 178, "7": 179} and numbers["published"] is None


def test_gan_rows_use_the_runs_discriminator(tmp_path, gan_run):
    numbers = use(
        "anomaly",
        "--run",
        str(gan_run),
        "--normal-class",
        "3",
        "--test",
        "digits",
        "--no-baselines",
        "--gan-n",
        "300",
        "--steps",
        "2",
        "--seed",
        "1",
        tmp_path=tmp_path,
    )
    images, labels = load_digits(8)
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))[:300]
    D = load_model(str(gan_run)).discriminator
    with torch.no_grad():
        scores = -D(images[pick].float() / 127.5 - 1)
    expected = roc_auc_score((labels[pick] != 3).numpy(), scores.numpy())
    assert numbers["rows"]["D score (GAN run)"]["per_class"]["3"] == pytest.approx(expected, abs=1e-9)
    assert 0 <= numbers["rows"]["AnoGAN (GAN run, 2 steps)"]["per_class"]["3"] <= 1
    assert numbers["figure"].endswith("anomaly-class3.png")


@pytest.mark.slow  # reads and scores the 10,000 MNIST test images: about 15 s on a busy 2-core machine
def test_published_columns_on_the_mnist_test_set(tmp_path, assets, capsys):
    raw = dataset_folder("mnist") / "raw"
    raw.mkdir(parents=True)
    for path in (assets / "mnist").glob("t10k-*.gz"):
        shutil.copy(path, raw / path.name)
    numbers = use(
        "anomaly",
        "--data",
        "mnist-test",
        "--test",
        "mnist-test",
        "--classes",
        "1",
        "--components",
        "4",
        "--knn",
        "1",
        tmp_path=tmp_path,
    )
    assert numbers["published"]["AnoGAN"][1] == 99.2
    out = capsys.readouterr().out
    assert "Deep SVDD (one-class) (Ruff et al. 2018)" in out and "Ruff" in out
    assert numbers["rows"]["Gaussian NLL"]["per_class"]["1"] > 0.9


def test_bad_input_is_a_one_line_error(tmp_path, gan_run, capsys):
    base = ["use", "anomaly", "--test", "digits", "--out", str(tmp_path)]
    cases = [
        (["--run", str(gan_run), "--normal-class", "12"], "class 12 is absent"),
        (["--data", "digits", "--classes", "11"], "class 11 is absent"),
        (["--run", str(gan_run)], "--run needs --normal-class"),
    ]
    gmmn = tmp_path / "gmmn"
    assert main(["train", "digits-gmmn", *TINY_GAN, "--out", str(gmmn), "--quiet"]) == 0
    cases.append((["--run", str(gmmn), "--normal-class", "3", "--no-baselines"], "needs the discriminator"))
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
