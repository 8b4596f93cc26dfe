"""Evaluation during training leaves every tensor of the checkpoint as it is without evaluation (README: "a run
with evaluation has the same weights as one without"), on a preset that draws from every random source: StyleGAN2
noise inputs (torch's global generator), style mixing, lazy R1 and path length, instance noise, data order."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from gankit.config import resolve
from gankit.training.loop import Trainer

TINY_STYLEGAN = [
    "data.name=digits",
    "data.resolution=8",
    "stylegan.channel_base=64",
    "stylegan.channel_max=8",
    "stylegan.w_dim=8",
    "model.z_dim=8",
    "stylegan.pl_every=2",
    "objective.reg_every=2",
    "objective.noise_std=0.05",
    "train.batch_size=8",
    "train.steps=4",
    "ema.half_life_images=16",
    "log.every=1",
    "log.sample_every=2",
    "log.ckpt_every=4",
    "log.progress=false",
    "log.tensorboard=false",
    "eval.n=64",
    "eval.kid_subset_size=32",
    "eval.fid_bootstrap=0",
    "eval.features=pixels",
]

# DCGAN: batch norm in G_ema (its running statistics move if evaluation forgets eval mode), WGAN-GP interpolates
TINY_DCGAN = [
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "objective.gp=1.0",
    "objective.noise_std=0.05",
    "ema.start=0",
    *TINY_STYLEGAN[9:],
]


def assert_same(a, b, where="state"):
    """Recursively equal: tensors bit for bit, everything else with ==."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def count_tensors(state) -> int:
    if isinstance(state, dict):
        return sum(count_tensors(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(count_tensors(v) for v in state)
    return int(isinstance(state, torch.Tensor))


CASES = {
    "stylegan2": ("mnist-stylegan", TINY_STYLEGAN),
    "dcgan-ema": ("digits", TINY_DCGAN),
    # without EMA the sampler is G itself, in training mode between iterations: evaluation must switch it to eval
    # mode (batch norm's running statistics) and back; no sample grid at step 2, which would hide a G left in eval
    "dcgan-no-ema": ("digits", [*TINY_DCGAN, "ema.enabled=false", "log.sample_every=4"]),
}


@pytest.mark.filterwarnings("ignore:FID from")
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c == "stylegan2" else c for c in CASES])
def test_every_checkpoint_tensor_is_the_same_with_and_without_evaluation(tmp_path, case):
    runs = {}
    preset, overrides = CASES[case]
    for name, every in (("with", "eval.every=2"), ("without", "eval.every=0")):
        trainer = Trainer(resolve(preset, [*overrides, every]), tmp_path / name)
        result = trainer.fit()
        runs[name] = (trainer.state_dict(), result)
    (with_eval, result), (without, _) = runs["with"], runs["without"]
    assert result.evaluation is not None and (tmp_path / "with" / "eval.jsonl").is_file()
    assert not (tmp_path / "without" / "eval.jsonl").exists()
    with_eval["config"].pop("eval"), without["config"].pop("eval")
    assert count_tensors(with_eval) > 30  # G, D, G_ema (with buffers), both optimizers' moments
    assert_same(with_eval, without)


def test_evaluating_leaves_numpy_and_python_random_generators_alone(tmp_path):
    """torch's global generator is drawn (the StyleGAN2 noise inputs of G_ema, mode ``random``) and reseeded by
    the next iteration; numpy's and Python's are never touched."""
    trainer = Trainer(resolve("mnist-stylegan", [*TINY_STYLEGAN, "eval.every=2"]), tmp_path)
    trainer.train_step()
    np.random.seed(3), random.seed(3)
    trainer.evaluate()
    after = np.random.get_state()[1], random.getstate()
    np.random.seed(3), random.seed(3)
    assert np.array_equal(after[0], np.random.get_state()[1])
    assert after[1] == random.getstate()
