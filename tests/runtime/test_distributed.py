"""The process group: agreed failures (no hang), rank-0 decisions, collectives with gradients, and the
single-process behaviour of every helper."""

import json
from pathlib import Path

import pytest
import torch

from gankit.errors import GankitError
from gankit.runtime.distributed import (
    DistributedContext,
    PeerLost,
    from_environment,
    is_lost_peer,
    short_reason,
    single_process,
)

WORKER = Path(__file__).resolve().parents[1] / "ddp_worker.py"


@pytest.fixture(scope="module")
def outcomes(ranks, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ddp-errors")
    results = ranks.run([str(WORKER), "errors", str(out)], timeout=300)
    for rank, (code, _, err) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{err[-3000:]}"
    return [json.loads((out / f"errors-{rank}.json").read_text()) for rank in (0, 1)]


def test_a_batch_the_processes_cannot_share_fails_on_every_process(outcomes):
    for seen in outcomes:
        assert seen["batch"] == (
            "train.batch_size=33 is not divisible by the 2 processes; use a multiple of 2 (the batch size is the "
            "global batch)"
        )


def test_one_process_failing_stops_every_process_with_its_message(outcomes):
    own, other = outcomes[1]["one_rank"], outcomes[0]["one_rank"]
    assert "no-such-data" in own
    assert other == f"rank 1 failed: {own}"


def test_rank_0_decisions_reach_every_process_with_their_error(outcomes):
    assert outcomes[0]["main_write"].startswith(("FileExistsError", "NotADirectoryError"))
    assert outcomes[1]["main_write"].startswith("GankitError: ")
    assert outcomes[1]["main_write"].endswith(outcomes[0]["main_write"])
    assert outcomes[0]["broadcast"] == outcomes[1]["broadcast"] == {"from": 0}


def test_processes_still_talk_after_the_failures(outcomes):
    assert outcomes[0]["still_talking"] == outcomes[1]["still_talking"] == 0.5


def test_collectives_with_gradients(outcomes):
    # loss = sum_i w_i * gathered_i on both processes, w = 1..6: each process's rows get the sum of both gradients
    assert outcomes[0]["gathered_grad"] == [2.0, 4.0, 6.0]
    assert outcomes[1]["gathered_grad"] == [8.0, 10.0, 12.0]
    # mean over processes of y^2 with y = 1, 2: 2.5; d/dy_r summed over both processes' losses = 2 y_r
    assert [o["mean"] for o in outcomes] == [2.5, 2.5]
    assert [o["mean_grad"] for o in outcomes] == [2.0, 4.0]
    assert outcomes[0]["uneven"] == outcomes[1]["uneven"] == [0.0, 0.0, 1.0]


def test_environment_check_of_the_group(outcomes):
    lines = outcomes[0]["env"]
    assert lines[0].startswith("rank 0: host ") and lines[1].startswith("rank 1: host ")
    assert lines[2] == "all-reduce over 2 processes (gloo): ok"
    assert lines[3].startswith("all-reduce of 1 MiB:")


def test_one_process_helpers_are_identities():
    context = DistributedContext()
    x = torch.randn(3, 2, requires_grad=True)
    assert context.gather_rows(x) is x and context.mean_over_processes(x) is x and context.all_gather_cat(x) is x
    assert context.broadcast_object(5) == 5 and context.all_gather_object(5) == [5]
    assert context.run_on_main(lambda: 7) == 7
    with pytest.raises(ValueError, match="own"), context.agreement():
        raise ValueError("own error")


def test_from_environment_without_torchrun_is_one_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert from_environment("cpu") == single_process("cpu")


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("nccl", "dist.backend=nccl needs CUDA devices, this process runs on cpu; use dist.backend=gloo"),
        ("mpi", "dist.backend='mpi' is unknown; use one of: auto, nccl, gloo"),
    ],
)
def test_a_backend_the_machine_lacks_is_refused_before_joining(monkeypatch, backend, message):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(GankitError) as info:
        from_environment("cpu", backend)
    assert str(info.value) == message


def test_lost_peer_errors_are_recognised():
    gloo = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer [::1]:5")
    assert is_lost_peer(gloo) and short_reason(gloo) == "Connection closed by peer [::1]:5"
    assert is_lost_peer(torch.distributed.DistBackendError("NCCL communicator was aborted"))
    assert not is_lost_peer(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert issubclass(PeerLost, GankitError)
