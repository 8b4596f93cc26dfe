"""gankit fit-baseline: the run directory (safetensors model and generator, bits/dim, samples, config), read back
by gankit sample and gankit eval like a trained generator; bits/dim against the closed form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from gankit.baselines.base import DEQUANTISATION_VARIANCE
from gankit.baselines.run import BASELINE_FILE, baseline_options, fit_run, is_baseline_run, load_run
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data.images import load_digits
from gankit.errors import GankitError
from gankit.metrics.sources import load_source


def exact_bits_per_dim(train: torch.Tensor, test: torch.Tensor) -> float:
    """The Gaussian's dequantised bits/dim from scipy's density: E_u[-log p] = -log p(v) + tr(P) var / 2."""
    v_train = train.flatten(1).double().numpy() / 127.5 - 1
    v_test = test.flatten(1).double().numpy() / 127.5 - 1
    dim = v_train.shape[1]
    cov = np.cov(v_train.T, bias=True) + DEQUANTISATION_VARIANCE * np.eye(dim)
    nll = -multivariate_normal(v_train.mean(0), cov).logpdf(v_test)
    nll = nll + 0.5 * DEQUANTISATION_VARIANCE * np.trace(np.linalg.inv(cov))
    return float(np.mean((nll + dim * math.log(127.5)) / (dim * math.log(2))))


def test_fit_run_writes_a_readable_run(tmp_path):
    images, _ = load_digits(8)
    record = fit_run("gaussian", {}, DataConfig(name="digits", resolution=8), tmp_path, ("digits", images[:100]))
    assert {"baseline.safetensors", "generator.safetensors", "config.yaml", "results.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert (tmp_path / "samples" / "samples.png").is_file()
    assert record == json.loads((tmp_path / "results.json").read_text())
    assert record["test"]["bits_per_dim"] == pytest.approx(exact_bits_per_dim(images, images[:100]), rel=1e-6)
    assert record["train_bits_per_dim"] == pytest.approx(exact_bits_per_dim(images, images), rel=1e-6)
    assert is_baseline_run(tmp_path) and load_run(tmp_path).kind == "gaussian"
    source = load_source(str(tmp_path), n=30, seed=4)
    assert source.generated and source.images.shape == (30, 1, 8, 8) and source.images.dtype == torch.uint8
    assert torch.equal(source.images, load_source(str(tmp_path), n=30, seed=4).images)
    with pytest.raises(GankitError, match="already holds a run"):
        fit_run("gaussian", {}, DataConfig(name="digits", resolution=8), tmp_path)


def test_cli_fit_sample_eval(tmp_path, capsys):
    run = tmp_path / "ppca"
    args = ["fit-baseline", "ppca", "--components", "4", "--data", "digits", "--resolution", "8"]
    assert main([*args, "--test", "digits@8", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "bits/dim" in out and "test:" in out
    record = json.loads((run / "results.json").read_text())
    assert record["options"] == {"components": 4} and record["test"]["n"] == 1797
    assert main(["sample", str(run), "-n", "9", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as archive:
        assert archive[archive.files[0]].shape[0] == 9
    evaluation = ["eval", "--real", "digits@8", "--fake", str(run), "--features", "pixels", "--metrics", "kid"]
    assert main([*evaluation, "--n", "200", "--kid-subset-size", "50", "--quiet", "--no-cache"]) == 0
    assert "KID" in capsys.readouterr().out


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(GankitError, match="needs --components"):
        baseline_options("ppca")
    with pytest.raises(GankitError, match="not a baseline run"):
        load_run(tmp_path)
    args = ["fit-baseline", "gaussian", "--data", "digits", "--resolution", "8", "--test", "digits@16"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    assert "do not match the training images" in capsys.readouterr().err
    assert not (tmp_path / "r" / BASELINE_FILE).exists()
