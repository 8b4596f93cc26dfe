"""Stopping a run by signal (README: SIGTERM or Ctrl-C stop between iterations with a checkpoint; a second Ctrl-C
stops at once): real signals sent to this process."""

import os
import signal

import pytest

from gankit.config import resolve
from gankit.runtime import checkpoint as checkpoint_io
from gankit.training.loop import Trainer, _StopRequest

QUIET = ["log.progress=false", "log.tensorboard=false", "train.steps=8", "log.ckpt_every=100", "log.sample_every=100"]


def test_second_ctrl_c_stops_at_once_and_handlers_are_restored():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with _StopRequest() as stop:
        assert not stop.requested
        for sig in before:  # both caught (checked first: an uncaught SIGTERM would end the test process)
            assert signal.getsignal(sig) not in (before[sig], signal.SIG_DFL, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested  # the first one only asks
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # a repeated SIGTERM still only asks
        except KeyboardInterrupt:
            pytest.fail("a second SIGTERM must not stop at once")
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert {sig: signal.getsignal(sig) for sig in before} == before
    with _StopRequest() as fresh:
        os.kill(os.getpid(), signal.SIGTERM)
        assert fresh.requested


def test_sigterm_stops_between_iterations_with_a_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(resolve("ring-ns", QUIET), tmp_path)
    original = Trainer.train_step

    def step_then_terminate(self, measure=False):
        stats = original(self, measure)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return stats

    monkeypatch.setattr(Trainer, "train_step", step_then_terminate)
    result = trainer.fit()
    assert result.interrupted and result.step == 3 and trainer.step == 3
    assert [p.name for p in checkpoint_io.list_checkpoints(tmp_path / "checkpoints")] == ["step-000003.pt"]
    assert checkpoint_io.load(result.checkpoint)["step"] == 3
