import json
import os
import signal

import pytest
import torch

from gankit.config import resolve
from gankit.errors import TrainingDiverged
from gankit.runtime import checkpoint as checkpoint_io
from gankit.training.logging import read_metrics
from gankit.training.loop import Trainer

TINY_DIGITS = [
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "train.batch_size=16",
    "log.every=2",
    "log.sample_every=4",
    "log.ckpt_every=4",
    "log.progress=false",
    "log.tensorboard=false",
    "ema.start=2",
]


def tiny(preset="digits", *extra):
    return resolve(preset, [*TINY_DIGITS, *extra] if preset == "digits" else ["log.progress=false", *extra])


def assert_same_state(a: dict, b: dict):
    for key in ("G", "D", "G_ema"):
        assert (a[key] is None) == (b[key] is None)
        for name, tensor in (a[key] or {}).items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs"
    assert a["optimizers"].keys() == b["optimizers"].keys()
    for player, optimizer in a["optimizers"].items():
        for pid, slots in optimizer["state"].items():
            for slot, value in slots.items():
                other = b["optimizers"][player]["state"][pid][slot]
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(other)), f"{player} optimizer differs"


def test_same_seed_is_bit_identical_and_other_seed_is_not(tmp_path):
    runs = [
        Trainer(tiny("digits", "train.steps=6", f"train.seed={s}"), tmp_path / str(i)) for i, s in enumerate([1, 1, 2])
    ]
    for trainer in runs:
        trainer.fit()
    states = [r.state_dict() for r in runs]
    assert_same_state(states[0], states[1])
    assert not torch.equal(states[0]["G"]["net.0.weight"], states[2]["G"]["net.0.weight"])


def strip_timing(records):
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in records]


@pytest.mark.parametrize(
    ("preset", "extra"), [("digits", []), ("ring-ns", []), ("digits", ["train.channels_last=true"])]
)
def test_interrupted_and_resumed_run_equals_straight_run(tmp_path, preset, extra, monkeypatch):
    steps = ["train.steps=10", "log.ckpt_every=4", "log.every=2", *extra]
    straight = Trainer(tiny(preset, *steps), tmp_path / "straight")
    straight.fit()

    interrupted = Trainer(tiny(preset, *steps), tmp_path / "interrupted")
    original = Trainer.train_step

    def step_then_signal(self, measure=False):
        stats = original(self, measure)
        if self.step == 5:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, handled between iterations
        return stats

    monkeypatch.setattr(Trainer, "train_step", step_then_signal)
    result = interrupted.fit()
    monkeypatch.setattr(Trainer, "train_step", original)
    assert result.interrupted and result.step == 5
    assert checkpoint_io.list_checkpoints(tmp_path / "interrupted" / "checkpoints")[-1].name == "step-000005.pt"

    resumed = Trainer.resume(tmp_path / "interrupted")
    assert resumed.step == 5
    resumed.fit()
    assert resumed.step == 10
    assert_same_state(straight.state_dict(), resumed.state_dict())
    assert strip_timing(read_metrics(tmp_path / "straight")) == strip_timing(read_metrics(tmp_path / "interrupted"))


def test_channels_last_trains_the_same_networks_in_nhwc_order(tmp_path):
    """The weights and real batches are channels-last, and stay so through Adam steps; the run computes the same
    function as the default memory order up to float rounding (other convolution kernels)."""
    import numpy as np

    rgb = np.random.default_rng(0).integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", x=rgb)
    data = ["data.name=npz", f"data.path={tmp_path / 'rgb.npz'}", "eval.every=0"]
    runs = {}
    for name in ("nchw", "nhwc"):
        config = tiny("digits", *data, "train.steps=3", f"train.channels_last={name == 'nhwc'}")
        trainer = Trainer(config, tmp_path / name)
        trainer.fit()
        runs[name] = trainer
    for network in (runs["nhwc"].G, runs["nhwc"].D):
        conv = next(p for p in network.parameters() if p.ndim == 4)
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    real = runs["nhwc"]._batch("all", None).real
    assert real.is_contiguous(memory_format=torch.channels_last) and not real.is_contiguous()
    for key in ("G", "D"):
        a, b = runs["nchw"].state_dict()[key], runs["nhwc"].state_dict()[key]
        for name in a:
            torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=f"{key}.{name}")


def test_channels_last_is_refused_for_vectors(tmp_path):
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="train.channels_last is a memory order for images; this data set has shape"):
        Trainer(tiny("ring-ns", "train.channels_last=true"), tmp_path)


def test_resume_from_periodic_checkpoint_drops_later_log_lines(tmp_path):
    trainer = Trainer(tiny("digits", "train.steps=6"), tmp_path)
    trainer.fit()
    (tmp_path / "checkpoints" / "step-000006.pt").unlink()
    resumed = Trainer.resume(tmp_path)
    assert resumed.step == 4
    resumed.fit()
    assert [r["step"] for r in read_metrics(tmp_path)] == [2, 4, 6]


def test_run_directory_contents(tmp_path):
    config = resolve(
        "digits", [*TINY_DIGITS, "train.steps=4", "log.tensorboard=true", "log.keep=1", "log.ckpt_every=2"]
    )
    Trainer(config, tmp_path).fit()
    assert (tmp_path / "config.yaml").read_text().startswith("name: digits")
    assert [p.name for p in checkpoint_io.list_checkpoints(tmp_path / "checkpoints")] == ["step-000004.pt"]
    assert (tmp_path / "samples" / "step-000004.png").is_file()
    assert any((tmp_path / "tb").iterdir())
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    expected = {
        "loss_d",
        "loss_g",
        "d_real",
        "d_fake",
        "d_accuracy",
        "grad_norm_d",
        "grad_norm_g",
        "lr_g",
        "images_per_s",
    }
    assert expected <= set(record)
    assert not list((tmp_path / "checkpoints").glob(".*tmp"))


def test_linear_lr_decay(tmp_path):
    trainer = Trainer(tiny("digits", "train.steps=8", "optim.lr_decay=linear", "optim.lr_g=0.001"), tmp_path)
    for _ in range(6):
        trainer.train_step()
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(0.001 * (1 - 6 / 8), rel=1e-12)


def test_n_critic_draws_n_real_batches_per_iteration(tmp_path):
    trainer = Trainer(tiny("digits", "train.steps=3", "train.n_critic=3"), tmp_path)
    trainer.train_step()
    trainer.train_step()
    assert trainer.stream.consumed == 6


def test_nan_loss_stops_with_step_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(tiny("digits", "train.steps=10", "log.ckpt_every=2"), tmp_path)
    original = trainer.objective.loss

    def poisoned(phase, *args, **kwargs):
        loss, stats = original(phase, *args, **kwargs)
        if phase == "G" and trainer.step == 2:
            loss = loss * float("nan")
            stats = {**stats, "loss_g": loss}
        return loss, stats

    monkeypatch.setattr(trainer.objective, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss_g is nan at step 3.*step-000002\.pt"):
        trainer.fit()
    assert [p.name for p in checkpoint_io.list_checkpoints(tmp_path / "checkpoints")] == ["step-000002.pt"]


def test_ema_before_and_after_start(tmp_path):
    # half-life of one batch (16 images): the per-step decay is 0.5
    trainer = Trainer(tiny("digits", "train.steps=5", "ema.start=2", "ema.half_life_images=16"), tmp_path)
    trainer.train_step()
    trainer.train_step()
    for p_ema, p in zip(trainer.G_ema.parameters(), trainer.G.parameters(), strict=True):
        assert torch.equal(p_ema, p)
    before = [p.clone() for p in trainer.G_ema.parameters()]
    trainer.train_step()
    for old, p_ema, p in zip(before, trainer.G_ema.parameters(), trainer.G.parameters(), strict=True):
        torch.testing.assert_close(p_ema, 0.5 * old + 0.5 * p, rtol=0, atol=1e-7)


def test_resume_skips_a_damaged_newest_checkpoint_and_says_so(tmp_path, capsys):
    from gankit.cli import main

    trainer = Trainer(tiny("digits", "train.steps=6", "log.ckpt_every=2", "eval.every=0"), tmp_path)
    trainer.fit()
    newest = tmp_path / "checkpoints" / "step-000006.pt"
    newest.write_bytes(b"not a checkpoint")
    assert main(["train", "--resume", str(tmp_path), "train.steps=8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped step-000006.pt" in out and "resuming from" in out and "step-000004.pt (step 4)" in out
    assert (tmp_path / "checkpoints" / "step-000006.pt.damaged").is_file()
    assert (tmp_path / "checkpoints" / "step-000008.pt").is_file()


def test_resume_from_a_checkpoint_file(tmp_path):
    trainer = Trainer(tiny("digits", "train.steps=6", "log.ckpt_every=2", "eval.every=0"), tmp_path)
    trainer.fit()
    resumed = Trainer.resume(tmp_path / "checkpoints" / "step-000004.pt")
    assert resumed.step == 4 and resumed.run_dir == tmp_path
