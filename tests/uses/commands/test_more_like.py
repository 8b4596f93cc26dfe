"""gankit use more-like: draws keep the chosen pixels of x and average to the closed-form conditional mean, are
closer to x than free samples, and generator runs go through the projection of gankit more-like."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.baselines import Gaussian
from gankit.cli import main
from gankit.uses.commands.more_like import draws_around

from .conftest import use


def test_draws_keep_x_and_average_to_the_conditional_mean():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(6, 6, generator=g, dtype=torch.float64)
    cov = mixing @ mixing.T / 6 + 0.1 * torch.eye(6, dtype=torch.float64)
    model = Gaussian.from_moments(torch.zeros(6, dtype=torch.float64), cov)
    model.shape = (1, 2, 3)
    x = torch.tensor([[[[0.5, -0.2, 0.1], [0.3, 0.0, -0.4]]]])
    draws, masks = draws_around(model, x, 4000, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(draws[masks], x.expand_as(draws)[masks])
    assert int((~masks[0]).sum()) == 3
    # the draws of one mask average to mu_h + S_hv S_vv^-1 x_v (Bishop 2006, Eq. 2.81)
    first = masks[0].flatten()
    same = (masks.flatten(1) == first).all(1)
    h, v = (~first).numpy(), first.numpy()
    S = cov.numpy()
    expected = S[np.ix_(h, v)] @ np.linalg.solve(S[np.ix_(v, v)], x.flatten().double().numpy()[v])
    np.testing.assert_allclose(draws.flatten(1)[same][:, h].mean(0).numpy(), expected, atol=0.08)
    assert int(same.sum()) > 100


def test_command_on_a_baseline_run(tmp_path, ppca_run):
    numbers = use("more-like", "--run", str(ppca_run), "--test", "digits", "-n", "3", "--draws", "4", tmp_path=tmp_path)
    assert len(numbers["distance_draws"]) == 3
    assert np.mean(numbers["distance_draws"]) < np.mean(numbers["distance_free_samples"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--keep", "1"], "strictly between 0 and 1"), (["--keep", "0"], "strictly between 0 and 1")],
)
def test_bad_keep_is_a_one_line_error(tmp_path, capsys, extra, message):
    assert main(["use", "more-like", "--data", "digits", "--test", "digits", *extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_generator_runs_are_projected_as_by_gankit_more_like(tmp_path, gan_run):
    numbers = use(
        "more-like",
        "--run",
        str(gan_run),
        "--test",
        "digits",
        "-n",
        "1",
        "--draws",
        "2",
        "--steps",
        "3",
        "--features",
        "none",
        tmp_path=tmp_path,
    )
    assert numbers["space"] == "z" and len(numbers["images"][0]["pixel_near"]) == 2
