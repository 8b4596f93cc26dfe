"""gankit use representatives: the reported MMD of the herding and k-medoids selections against an explicit slow
MMD, herding below random subsets, selection among a run's samples, and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.data.images import load_digits

from .conftest import use


def slow_mmd(x: np.ndarray, chosen: list[int], bandwidth: float) -> float:
    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * bandwidth**2))

    s = x[chosen]
    return math.sqrt(max(k(s, s).mean() - 2 * k(s, x).mean() + k(x, x).mean(), 0.0))


def test_reported_mmd_equals_the_explicit_formula(tmp_path):
    numbers = use(
        "representatives",
        "--data",
        "digits",
        "--resolution",
        "8",
        "-n",
        "300",
        "-k",
        "6",
        "--max-k",
        "8",
        "--features",
        "pixels",
        "--seed",
        "3",
        tmp_path=tmp_path,
    )
    images, _ = load_digits(8)
    subset = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(3))[:300]]
    x = subset.flatten(1).double().numpy() / 255
    (bandwidth,) = numbers["bandwidth"]
    for method in ("herding", "kmedoids"):
        chosen = numbers["selections"][method]["indices"]
        assert len(set(chosen)) == 6
        assert numbers["selections"][method]["mmd"] == pytest.approx(slow_mmd(x, chosen, bandwidth), rel=1e-6)
    assert numbers["modes"]["mmd"] == pytest.approx(slow_mmd(x, numbers["modes"]["indices"], bandwidth), rel=1e-6)
    herding = {r["k"]: r for r in numbers["curves"]["herding"]}
    assert sorted(herding) == list(range(1, 9))
    assert all(herding[k]["mmd"] < herding[k]["random_mmd_mean"] for k in (2, 4, 8))
    assert herding[8]["mmd"] < herding[2]["mmd"] < herding[1]["mmd"]
    width, height = Image.open(numbers["figures"]["herding"]).size
    assert width > 5 * height  # one row of 6


def test_representatives_of_a_runs_samples(tmp_path, ppca_run):
    numbers = use(
        "representatives",
        "--run",
        str(ppca_run),
        "-n",
        "200",
        "-k",
        "4",
        "--max-k",
        "4",
        "--methods",
        "herding",
        "--features",
        "pixels",
        tmp_path=tmp_path,
    )
    assert numbers["source"].startswith("200 samples of") and list(numbers["curves"]) == ["herding"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["-k", "0"], "1 <= -k"), (["--methods", "greedy"], "unknown method 'greedy'"), (["-n", "1"], "-n >= 2")],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, extra, message):
    args = ["use", "representatives", "--data", "digits", "--features", "pixels", "-n", "50", "--max-k", "4"]
    assert main([*args, *extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
