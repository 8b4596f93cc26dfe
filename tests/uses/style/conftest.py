"""Tiny run directories for the ``gankit style`` / ``project`` / ``more-like`` command tests: a StyleGAN2 and a
DCGAN on the 16x16 digits, two training steps each (untrained networks: the tests check plumbing against
independent re-computations, not quality)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gankit.cli import main

COMMON = [
    "data.resolution=16",
    "model.z_dim=8",
    "train.steps=2",
    "train.batch_size=8",
    "log.every=1",
    "log.sample_every=2",
    "log.ckpt_every=2",
    "log.tensorboard=false",
    "eval.every=0",
]
TINY_STYLE = [
    "model.arch=stylegan2",
    "stylegan.w_dim=8",
    "stylegan.mapping_layers=1",
    "stylegan.channel_base=64",
    "stylegan.channel_max=8",
]


@pytest.fixture(scope="session")
def style_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "style"
    assert main(["train", "digits", *COMMON, *TINY_STYLE, "--out", str(run), "--quiet"]) == 0
    return run


@pytest.fixture(scope="session")
def dcgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "digits", *COMMON, "model.width=8", "--out", str(run), "--quiet"]) == 0
    return run


def command(*args: str, out: Path) -> dict:
    """Run ``gankit ARGS --out OUT --json OUT/numbers.json``; return the JSON."""
    assert main([*args, "--out", str(out), "--json", str(out / "numbers.json")]) == 0
    return json.loads((out / "numbers.json").read_text())
