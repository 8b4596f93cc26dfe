"""Sampling reads the EMA generator unless told not to (README: "samples come from the EMA generator unless
--no-ema"): the weights loaded, the samples generated and the CLI's output are compared with a generator
rebuilt by hand from the checkpoint's ``G_ema`` and ``G`` tensors."""

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.config import config_from_checkpoint, resolve
from gankit.models import build_generator
from gankit.runtime import checkpoint as checkpoint_io
from gankit.sampling import generate, load_generator
from gankit.training.loop import Trainer

STEPS = ["train.steps=4", "log.ckpt_every=4", "log.sample_every=4", "log.progress=false", "log.tensorboard=false"]


@pytest.fixture
def run(tmp_path):
    # a half-life of 2 batches and no warm-up: after 4 steps G_ema is far from G
    config = resolve("ring-ns", [*STEPS, "ema.enabled=true", "ema.start=0", "ema.half_life_images=512"])
    trainer = Trainer(config, tmp_path / "run")
    trainer.fit()
    assert trainer.sampler is trainer.G_ema
    return tmp_path / "run"


def by_hand(run, key, n, seed):
    state = checkpoint_io.load(checkpoint_io.list_checkpoints(run / "checkpoints")[-1])
    G = build_generator(config_from_checkpoint(state), tuple(state["data_shape"]), 0)
    G.load_state_dict(state[key])
    G.eval()
    with torch.no_grad():
        return G(G.sample_latent(n, torch.Generator().manual_seed(seed)), None), state


def test_load_generator_gives_the_ema_weights_unless_told_not_to(run):
    ema, raw = load_generator(run), load_generator(run, ema=False)
    _, state = by_hand(run, "G", 1, 0)
    for name, tensor in ema.state_dict().items():
        assert torch.equal(tensor, state["G_ema"][name]), name
        assert torch.equal(raw.state_dict()[name], state["G"][name]), name
    assert any(not torch.equal(state["G"][n], state["G_ema"][n]) for n in state["G"])
    expected_ema, _ = by_hand(run, "G_ema", 50, 3)
    expected_raw, _ = by_hand(run, "G", 50, 3)
    torch.testing.assert_close(generate(ema, 50, seed=3), expected_ema, rtol=0, atol=0)
    torch.testing.assert_close(generate(raw, 50, seed=3), expected_raw, rtol=0, atol=0)
    assert (expected_ema - expected_raw).abs().max() > 1e-3


def test_cli_sample_uses_g_ema_and_no_ema_uses_g(run, tmp_path):
    assert main(["sample", str(run), "-n", "20", "--seed", "5", "--out", str(tmp_path / "ema.npz")]) == 0
    assert main(["sample", str(run), "-n", "20", "--seed", "5", "--out", str(tmp_path / "raw.npz"), "--no-ema"]) == 0
    with np.load(tmp_path / "ema.npz") as ema, np.load(tmp_path / "raw.npz") as raw:
        np.testing.assert_array_equal(ema["x"], by_hand(run, "G_ema", 20, 5)[0].numpy())
        np.testing.assert_array_equal(raw["x"], by_hand(run, "G", 20, 5)[0].numpy())


def test_without_ema_the_sampler_is_g(tmp_path):
    trainer = Trainer(resolve("ring-ns", [*STEPS, "ema.enabled=false"]), tmp_path / "plain")
    trainer.fit()
    assert trainer.G_ema is None and trainer.sampler is trainer.G
    state = checkpoint_io.load(checkpoint_io.list_checkpoints(tmp_path / "plain" / "checkpoints")[-1])
    assert state["G_ema"] is None
    loaded = load_generator(tmp_path / "plain")  # falls back to G
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, state["G"][name])
