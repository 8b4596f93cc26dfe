"""Evaluation during training: logged at the right steps, identical on resume, and invisible to the
training trajectory."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.config import resolve
from gankit.errors import GankitError
from gankit.training.loop import Trainer

BASE = ["train.steps=4", "log.every=1", "log.sample_every=4", "log.ckpt_every=2", "log.tensorboard=false"]
SMALL = ["model.width=8", "train.batch_size=16", "eval.n=200", "eval.kid_subset_size=100", "eval.fid_bootstrap=3"]


def train(run_dir, *overrides):
    trainer = Trainer(resolve("digits", [*BASE, *SMALL, *overrides]), run_dir)
    trainer.config.log.progress = False
    return trainer, trainer.fit()


def test_evaluations_are_logged_and_do_not_change_training(tmp_path):
    trainer, result = train(tmp_path / "with", "eval.every=2", "eval.features=auto")
    records = [json.loads(line) for line in (tmp_path / "with" / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert records[-1]["settings"]["extractor"] == "classifier:digits"
    assert records[-1]["fid"] == result.evaluation["fid"] > 0
    assert records[0]["fid"] != records[1]["fid"]
    plain, _ = train(tmp_path / "without", "eval.every=0")
    for (name, a), b in zip(trainer.G.state_dict().items(), plain.G.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.filterwarnings("ignore:FID from 200 samples")
def test_resumed_run_keeps_one_record_per_evaluation(tmp_path):
    run = tmp_path / "run"
    train(run, "eval.every=2", "eval.features=pixels")
    before = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    (run / "checkpoints" / "step-000004.pt").unlink()
    trainer = Trainer.resume(run)
    trainer.config.log.progress = False
    trainer.fit()
    after = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in after] == [2, 4]
    assert after[1]["fid"] == before[1]["fid"] and after[1]["kid_mean"] == before[1]["kid_mean"]


def test_configuration_errors():
    with pytest.raises(GankitError, match="eval.every needs image data"):
        Trainer(resolve("ring-ns", ["eval.every=10"]), "unused")
    with pytest.raises(GankitError, match="eval.metrics must be a list drawn from"):
        resolve("digits", ["eval.metrics=[fid, lpips]"])
    with pytest.raises(GankitError, match="needs class logits, which pixels features do not give"):
        Trainer(resolve("digits", [*SMALL, "eval.every=2", "eval.features=pixels", "eval.metrics=[is]"]), "unused")
