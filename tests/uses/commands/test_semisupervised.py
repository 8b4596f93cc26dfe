"""gankit use semisupervised: GAN runs trained through the loop per seed, the GAN's test error against an explicit
argmax over the checkpoint's discriminator, the supervised baseline on the same labels, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.data.images import load_digits
from gankit.models.semisupervised import SemiSupervisedMLPDiscriminator
from gankit.runtime import checkpoint as checkpoint_io
from gankit.sampling import find_checkpoint
from gankit.uses.semisupervised import supervised_baseline

from .conftest import use

FAST = ["--steps", "3", "--baseline-steps", "3", "--per-class", "2"]
SMALL = ["train.batch_size=20", "model.z_dim=8"]


def test_trains_a_run_per_seed_and_measures_it(tmp_path):
    numbers = use(
        "semisupervised",
        "--data",
        "digits",
        "--test",
        "digits",
        "--resolution",
        "8",
        "--seeds",
        "1",
        *FAST,
        *SMALL,
        tmp_path=tmp_path,
    )
    images, labels = load_digits(8)
    x = images.float() / 127.5 - 1
    for row, seed in zip(numbers["rows"], (1,), strict=True):
        state = checkpoint_io.load(find_checkpoint(row["run"]))
        assert state["config"]["train"]["seed"] == seed and state["config"]["semisupervised"]["label_seed"] == seed
        assert state["step"] == 3 == row["gan_steps"]
        D = SemiSupervisedMLPDiscriminator((1, 8, 8), out_features=10)
        D.load_state_dict(state["D"])
        with torch.no_grad():
            wrong = int((D.eval()(x).argmax(1) != labels).sum())
        assert row["gan_test_error"] == pytest.approx(wrong / len(labels), abs=1e-12)
        again = supervised_baseline(images, labels, images, labels, (seed,), per_class=2, steps=3)
        assert row["supervised_test_error"] == again["rows"][0]["test_error"]
    errors = [r["gan_test_error"] for r in numbers["rows"]]
    assert numbers["gan_test_error_mean"] == pytest.approx(np.mean(errors))
    evaluated = use(
        "semisupervised",
        "--run",
        numbers["rows"][0]["run"],
        "--test",
        "digits",
        "--no-baseline",
        tmp_path=tmp_path / "again",
    )
    assert evaluated["rows"][0]["gan_test_error"] == numbers["rows"][0]["gan_test_error"]


def test_bad_input_is_a_one_line_error(tmp_path, gan_run, capsys):
    unlabelled = tmp_path / "x.npz"
    np.savez(unlabelled, x=np.zeros((30, 8, 8), dtype=np.uint8))
    base = ["use", "semisupervised", "--out", str(tmp_path / "o"), *FAST]
    for extra, message in [
        (["--data", str(unlabelled), "--test", "digits"], "has no labels"),
        (["--run", str(gan_run), "--test", "digits"], "is not an ssgan run"),
        (["--data", "digits", "--test", "digits", "--per-class", "1000"], "fewer than per_class"),
    ]:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
