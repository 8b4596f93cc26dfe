"""Evaluation split over processes equals one process: shares, sharded generation, FID / KID with two gloo
processes, the feature cache, and evaluation during training."""

import json
import sys
from pathlib import Path

import pytest
import torch

from gankit.config import resolve
from gankit.metrics.distributed import block_size, generate_shard, shard
from gankit.metrics.evaluate import EvalOptions, evaluate
from gankit.metrics.features.extractors import build_extractor
from gankit.models.mlp import MLPGenerator
from gankit.runtime.distributed import DistributedContext
from gankit.sampling import generate
from gankit.training.loop import Trainer

WORKER = Path(__file__).resolve().parents[1] / "ddp_worker.py"
sys.path.insert(0, str(WORKER.parent))
import ddp_worker  # noqa: E402

NUMBERS = ("fid", "fid_infinity", "fid_slope", "kid_mean", "kid_std", "kid_ci_low", "kid_ci_high", "n_real", "n_fake")


def images(n: int, seed: int, shift: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 1, 8, 8), generator=g) * 200 + shift).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def two_processes(ranks, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp-metrics")
    torch.save({"real": images(300, 0, 0), "fake": images(250, 1, 30)}, out / "images.pt")
    results = ranks.run([str(WORKER), "metrics", str(out)], timeout=600)
    for rank, (code, _, err) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{err[-3000:]}"
    return out


def assert_same_numbers(got: dict, expected: dict) -> None:
    keys = [k for k in NUMBERS if k in expected]
    assert keys and all(k in got for k in keys)
    for key in keys:
        assert got[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9), key


@pytest.mark.parametrize(("n", "world", "block"), [(1000, 2, 256), (300, 2, 64), (100, 3, 256), (513, 4, 64)])
def test_shares_cover_every_row_once_at_block_boundaries(n, world, block):
    parts = [shard(n, DistributedContext(rank=r, world_size=world), block) for r in range(world)]
    assert [i for p in parts for i in range(n)[p]] == list(range(n))
    assert all(p.start % block == 0 or p.start == n for p in parts)


def test_generated_shares_are_the_single_process_samples():
    generator = MLPGenerator(2, 3, width=8, depth=1).eval()
    expected = generate(generator, 700, seed=5)
    shares = [generate_shard(generator, 700, DistributedContext(rank=r, world_size=3), 5) for r in range(3)]
    assert [len(s) for s in shares] == [256, 256, 188]
    assert torch.equal(torch.cat(shares), expected)
    assert block_size(256, 64) == 256 and block_size(256, 100) == 6400


def test_distributed_fid_and_kid_equal_one_process(two_processes):
    data = torch.load(two_processes / "images.pt", weights_only=True)
    extractor = build_extractor("pixels", (1, 8, 8))
    options = EvalOptions(metrics=("fid", "kid"), kid_subsets=10, kid_subset_size=50, fid_bootstrap=0)
    expected = evaluate(extractor, data["real"], data["fake"], options, 64, False, False)
    for rank in (0, 1):
        saved = torch.load(two_processes / f"metrics-{rank}.pt", weights_only=True)
        assert_same_numbers(json.loads(saved["result"]), expected)
        assert torch.equal(saved["features"], extractor(data["real"])[0])
        assert torch.equal(saved["again"], saved["features"])  # read from rank 0's cache and broadcast


def test_evaluation_during_training_equals_one_process(two_processes, tmp_path):
    trainer = Trainer(resolve("digits", ddp_worker.EVALUATION), tmp_path / "run")
    trainer.load_state_dict(torch.load(two_processes / "eval-trainer.pt", weights_only=True))
    expected = trainer.evaluate()
    for rank in (0, 1):
        got = json.loads(torch.load(two_processes / f"metrics-{rank}.pt", weights_only=True)["training"])
        assert_same_numbers(got, expected)
        assert got["n_fake"] == 300
