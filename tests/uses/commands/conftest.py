"""Tiny trained models shared by the tests of the ``gankit use`` commands: a DCGAN on 8x8 digits (a few steps)
and a probabilistic PCA fitted to them, both as run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gankit.cli import main

TINY_GAN = [
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "train.steps=3",
    "train.batch_size=16",
    "log.every=1",
    "log.sample_every=3",
    "log.ckpt_every=3",
    "log.tensorboard=false",
    "eval.every=0",
]


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "gan"
    assert main(["train", "digits", *TINY_GAN, "--out", str(run), "--quiet"]) == 0
    return run


@pytest.fixture(scope="session")
def ppca_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "ppca"
    args = ["fit-baseline", "ppca", "--components", "4", "--data", "digits", "--resolution", "8", "--test", "none"]
    assert main([*args, "--out", str(run)]) == 0
    return run


def use(name: str, *args: str, tmp_path: Path) -> dict:
    """Run ``gankit use NAME`` with ``--out`` and ``--json`` in ``tmp_path``; return the JSON."""
    out = tmp_path / name
    assert main(["use", name, *args, "--out", str(out), "--json", str(out / "numbers.json")]) == 0
    return json.loads((out / "numbers.json").read_text())
