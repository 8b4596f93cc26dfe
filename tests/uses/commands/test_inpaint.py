"""gankit use inpaint: the Gaussian mean fill's MSE against the precision-matrix conditional computed with numpy,
the GAN row and figure, and one-line errors for bad masks and mismatched images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.baselines.base import DEQUANTISATION_VARIANCE
from gankit.cli import main
from gankit.data.images import load_digits

from .conftest import use


def test_gaussian_mean_fill_matches_the_closed_form(tmp_path):
    numbers = use(
        "inpaint",
        "--data",
        "digits",
        "--test",
        "digits",
        "--resolution",
        "8",
        "--masks",
        "centre",
        "-n",
        "30",
        "--features",
        "pixels",
        "--seed",
        "2",
        tmp_path=tmp_path,
    )
    row = {r["method"]: r for r in numbers["masks"]["centre"]["rows"]}["gaussian mean"]
    images, _ = load_digits(8)
    v = images.flatten(1).double().numpy() / 127.5 - 1
    cov = np.cov(v.T, bias=True) + DEQUANTISATION_VARIANCE * np.eye(64)
    precision = np.linalg.inv(cov)
    hidden = np.zeros((8, 8), dtype=bool)
    hidden[2:6, 2:6] = True
    h, vis = hidden.ravel(), ~hidden.ravel()
    test = v[torch.randperm(len(v), generator=torch.Generator().manual_seed(2))[:30].numpy()]
    # Bishop (2006) Eq. 2.75: mu_h - Lambda_hh^-1 Lambda_hv (x_v - mu_v)
    mean = v.mean(0)
    fill = (
        mean[h] - (np.linalg.solve(precision[np.ix_(h, h)], precision[np.ix_(h, vis)] @ (test[:, vis] - mean[vis]).T)).T
    )
    expected = np.mean(((np.clip(fill, -1, 1) - test[:, h]) ** 2).mean(1))
    assert row["mse"] == pytest.approx(expected, rel=1e-5)
    assert row["n"] == 30 and row["gradient_ratio"] < 1.5


def test_gan_fill_row_and_figure(tmp_path, gan_run):
    numbers = use(
        "inpaint",
        "--run",
        str(gan_run),
        "--test",
        "digits",
        "--masks",
        "half,random",
        "-n",
        "12",
        "--steps",
        "3",
        "--features",
        "pixels",
        "--show",
        "4",
        tmp_path=tmp_path,
    )
    for mask in ("half", "random"):
        methods = [r["method"] for r in numbers["masks"][mask]["rows"]]
        assert methods == ["gaussian mean", "gaussian sample", "GAN (Yeh et al.)"]
        assert all(np.isfinite(r["fid"]) and np.isfinite(r["mse"]) for r in numbers["masks"][mask]["rows"])
        width, height = Image.open(numbers["masks"][mask]["figure"]).size
        assert height == pytest.approx(5 / 4 * width, rel=0.05)  # rows: masked, mean, sample, GAN, truth; 4 columns
    assert numbers["train"] == "digits" and numbers["latent_search"]["steps"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fraction", "0"], "strictly between 0 and 1"),
        (["--masks", "corner"], "unknown mask 'corner'"),
        (["--resolution", "16"], "do not match"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, gan_run, capsys, extra, message):
    args = ["use", "inpaint", "--run", str(gan_run), "--test", "digits", "-n", "4", "--steps", "1"]
    assert main([*args, "--features", "pixels", *extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
