"""Two gloo processes against one: DDP equivalence per objective, rank-0-only writes, resume 2 -> 2 and 2 -> 1,
one all-reduce per wrapper and optimizer step, identical buffers; and the DDP rules in one process."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from gankit.config import resolve
from gankit.errors import GankitError
from gankit.objectives.base import ParameterReach, reached_parameters
from gankit.runtime import checkpoint as checkpoint_io
from gankit.runtime.distributed import DistributedContext
from gankit.training.ddp import Players, convert_sync_batchnorm
from gankit.training.logging import read_metrics
from gankit.training.loop import Trainer

WORKER = Path(__file__).resolve().parents[1] / "ddp_worker.py"
sys.path.insert(0, str(WORKER.parent))
import ddp_worker  # noqa: E402

COMMON, EQUIVALENCE, GRADIENTS = ddp_worker.COMMON, ddp_worker.EQUIVALENCE, ddp_worker.GRADIENTS


@pytest.fixture(scope="module")
def two_processes(ranks, tmp_path_factory) -> Path:
    """One 2-process launch of the worker's ``train`` scenario; the tests below read what it left."""
    out = tmp_path_factory.mktemp("ddp-train")
    results = ranks.run([str(WORKER), "train", str(out)], timeout=600)
    for rank, (code, _, err) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{err[-3000:]}"
    return out


def final_state(run: Path) -> dict:
    return checkpoint_io.load(checkpoint_io.list_checkpoints(run / "checkpoints")[-1])


def assert_close(a: dict, b: dict, rel: float) -> None:
    """Every tensor of the networks and of the optimizers' state within ``rel`` of the other (relative to its
    largest entry); ``rel`` 0 means bit for bit."""
    for key in ("G", "D", "G_ema"):
        assert (a[key] is None) == (b[key] is None)
        for name, x in (a[key] or {}).items():
            y = b[key][name]
            if rel == 0 or not x.is_floating_point():
                assert torch.equal(x, y), f"{key}.{name} differs"
            else:
                assert (x - y).abs().max() <= rel * y.abs().max().clamp(min=1e-12), f"{key}.{name} differs"
    for player, optimizer in a["optimizers"].items():
        for pid, slots in optimizer["state"].items():
            for slot, x in slots.items():
                y = torch.as_tensor(b["optimizers"][player]["state"][pid][slot])
                x = torch.as_tensor(x)
                assert (x - y).abs().max() <= rel * y.abs().max().clamp(min=1e-12), f"{player} {slot} differs"


@pytest.mark.parametrize("name", list(EQUIVALENCE))
def test_two_processes_of_batch_b_equal_one_process_of_batch_2b(two_processes, tmp_path, name):
    preset, extra = EQUIVALENCE[name]
    single = Trainer(resolve(preset, [*COMMON, *extra]), tmp_path / name)
    single.fit()
    distributed = final_state(two_processes / "runs" / name)
    assert distributed["step"] == 20 and distributed["world_size"] == 2
    assert_close(distributed, single.state_dict(), rel=1e-5)
    # the logged statistics are means over both processes, i.e. over the global batch
    logged, expected = read_metrics(two_processes / "runs" / name), read_metrics(tmp_path / name)
    assert [r["step"] for r in logged] == [r["step"] for r in expected] == [5, 10, 15, 20]
    for record, reference in zip(logged, expected, strict=True):
        for key in ("loss_d", "loss_g"):
            if key in reference:
                assert record[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_mmd_objectives_gather_the_global_batch(two_processes, tmp_path, name):
    preset, extra = GRADIENTS[name]
    single = ddp_worker.record_gradients(Trainer(resolve(preset, [*COMMON, *extra]), tmp_path / name))
    distributed = torch.load(two_processes / f"gradients-{name}.pt", weights_only=True)
    assert [s["player"] for s in distributed] == [s["player"] for s in single]
    for got, expected in zip(distributed, single, strict=True):
        scale = max(float(g.abs().max()) for g in expected["grads"].values())
        assert scale > 0 and got["grads"].keys() == expected["grads"].keys()
        for key, g in expected["grads"].items():
            assert (got["grads"][key] - g).abs().max() <= 1e-5 * scale, f"{got['player']} {key}"


def test_only_rank_0_writes_and_the_run_directory_matches_one_process(two_processes, tmp_path):
    assert json.loads((two_processes / "rank1-writes.json").read_text()) == []
    preset, extra = EQUIVALENCE["ns"]
    Trainer(resolve(preset, [*COMMON, *extra]), tmp_path / "ns").fit()

    def listing(run: Path) -> list[str]:
        return sorted(str(p.relative_to(run)) for p in run.rglob("*"))

    assert listing(two_processes / "runs" / "ns") == listing(tmp_path / "ns")
    assert "checkpoints/step-000020.pt" in listing(tmp_path / "ns")


def test_resume_two_to_two_processes_is_exact(two_processes):
    assert_close(final_state(two_processes / "runs" / "resumed"), final_state(two_processes / "runs" / "ns"), rel=0)


def test_resume_two_to_one_process_says_how_the_data_position_maps(two_processes, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(two_processes / "at-step-10", run)
    trainer = Trainer.resume(run, ["train.steps=20"])
    assert trainer.step == 10 and trainer.stream.consumed == 10
    note = next(n for n in trainer.resume_notes if "written by" in n)
    assert "written by 2 process(es), this run has 1" in note
    assert "10 global batches of 32 consumed, each process now takes 32 rows" in note
    trainer.fit()
    assert_close(trainer.state_dict(), final_state(two_processes / "runs" / "ns"), rel=1e-5)


def test_each_wrapper_all_reduces_once_per_optimizer_step(two_processes):
    # 3 iterations x (2 critic steps of 2 accumulation rounds + 1 G step); each small network is one bucket
    for rank in (0, 1):
        counts = json.loads((two_processes / f"allreduce-counts-{rank}.json").read_text())
        assert counts == {"D": 6, "G": 3}


def test_buffers_are_identical_on_every_process(two_processes):
    states = [torch.load(two_processes / f"buffers-{r}.pt", weights_only=True) for r in (0, 1)]
    for key in ("G", "D", "G_ema"):
        for name, tensor in states[0][key].items():
            assert torch.equal(tensor, states[1][key][name]), f"{key}.{name} differs between processes"
    running = [v for k, v in states[0]["G"].items() if k.endswith("running_var")]
    assert running and not all(torch.equal(v, torch.ones_like(v)) for v in running)  # BN statistics moved
    assert any(k.endswith("_u") for k in states[0]["D"])  # spectral norm's vectors are among them
    nhwc = [v for v in states[0]["G"].values() if v.ndim == 4 and v.shape[1] > 1]
    assert nhwc and all(v.is_contiguous(memory_format=torch.channels_last) and not v.is_contiguous() for v in nhwc)


def test_parameter_reach_ties_missed_parameters_and_gives_back_none():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(5, 3, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    penalty = grad.pow(2).sum()  # an R1-like penalty never reaches the last bias
    parameters = {id(p) for p in net.parameters()}
    assert reached_parameters(penalty) & parameters == parameters - {id(net[2].bias)}
    reference = torch.autograd.grad(penalty, list(net.parameters())[:3], retain_graph=True)
    reach = ParameterReach(net)
    tied = reach.tie(penalty)
    assert tied.item() == penalty.item()
    tied.backward()
    assert torch.equal(net[2].bias.grad, torch.zeros(1))  # DDP sees a gradient for every parameter
    reach.release()
    assert net[2].bias.grad is None  # and the optimizer sees what one process would see
    for p, expected in zip(list(net.parameters())[:3], reference, strict=True):
        assert torch.equal(p.grad, expected)


def test_one_process_wraps_nothing():
    G, D = nn.Linear(2, 2), nn.Linear(2, 1)
    players = Players(G, D, DistributedContext())
    assert players.for_phase("D") == (G, D) and players.reach("D") is None
    assert convert_sync_batchnorm(nn.BatchNorm1d(3), DistributedContext()).__class__ is nn.BatchNorm1d


def test_sync_batchnorm_needs_cuda():
    context = DistributedContext(rank=0, world_size=2)
    with pytest.raises(GankitError, match="train.sync_bn=true needs CUDA"):
        convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)), context)
    assert resolve("digits", ["train.sync_bn=true"]).train.sync_bn
