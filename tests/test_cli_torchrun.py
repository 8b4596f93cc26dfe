"""``gankit train`` and ``gankit eval`` under torchrun (gloo, 2 processes): one header, one run directory chosen by
rank 0, one-line errors printed once, a killed process stops the other with a clear message and leaves a
checkpoint that resumes; and ``gankit env``."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit.cli import main
from gankit.runtime import checkpoint as checkpoint_io

REPO = Path(__file__).resolve().parents[1]
TINY_DIGITS = [
    "digits",
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "train.batch_size=16",
    "train.steps=4",
    "eval.every=0",
    "log.every=2",
    "log.sample_every=4",
    "log.ckpt_every=2",
    "log.tensorboard=false",
]
RING = ["ring-ns", "model.width=16", "model.depth=1", "train.batch_size=16", "log.tensorboard=false"]
EVAL = ["--real", "digits@8", "--features", "pixels", "--metrics", "fid,kid", "--kid-subsets", "10"]
EVAL += ["--kid-subset-size", "50", "--fid-bootstrap", "0", "--n", "300", "--no-cache", "--quiet"]


@pytest.fixture(scope="module")
def torchrun_run(ranks, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``torchrun --standalone --nproc_per_node=2 -m gankit train`` with the default (timestamped) run directory."""
    cwd = tmp_path_factory.mktemp("torchrun")
    env = ranks.environment(0, 1, 0)
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "gankit", "train", *TINY_DIGITS, "--quiet"]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd, done


def test_torchrun_trains_in_one_run_directory_and_prints_once(torchrun_run):
    cwd, done = torchrun_run
    (run,) = (cwd / "runs").iterdir()  # rank 0 chose the timestamped name; rank 1 used it
    assert run.name.startswith("digits-")
    header = [line for line in done.stdout.splitlines() if line.startswith("gankit ")]
    assert len(header) == 1 and "x 2 processes (global batch 16 = 2 x 8)" in header[0]
    assert done.stdout.count("checkpoint: ") == 1
    state = checkpoint_io.load(checkpoint_io.list_checkpoints(run / "checkpoints")[-1])
    assert state["step"] == 4 and state["world_size"] == 2


@pytest.mark.slow  # the same numbers are compared without the command line in tests/metrics/test_distributed.py
def test_distributed_eval_command_equals_one_process(torchrun_run, ranks, tmp_path):
    cwd, _ = torchrun_run
    (run,) = (cwd / "runs").iterdir()
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["eval", *EVAL, "--fake", str(run), "--json", str(one)]) == 0
    results = ranks.run(["-m", "gankit", "eval", *EVAL, "--fake", str(run), "--json", str(two)], timeout=300)
    assert [code for code, _, _ in results] == [0, 0], results[0][2][-2000:]
    assert "FID" in results[0][1] and results[1][1] == ""  # rank 0 prints, rank 1 is silent
    expected, got = json.loads(one.read_text()), json.loads(two.read_text())
    for key in ("fid", "kid_mean", "kid_std", "n_real", "n_fake"):
        assert got[key] == pytest.approx(expected[key], rel=1e-6), key
    assert got["fake"]["processes"] == 2 and got["fake"]["n"] == 300


def test_a_batch_the_processes_cannot_share_is_one_error_line(ranks, tmp_path):
    start = time.monotonic()
    results = ranks.run(["-m", "gankit", "train", *RING, "train.batch_size=33", "--out", str(tmp_path / "r")])
    assert time.monotonic() - start < 120
    assert [code for code, _, _ in results] == [2, 2], "\n".join(err[-2000:] for _, _, err in results)
    errors = [line for _, _, err in results for line in err.splitlines() if line.startswith("gankit: error")]
    assert errors == [
        "gankit: error: train.batch_size=33 is not divisible by the 2 processes; use a multiple of 2 "
        "(the batch size is the global batch)"
    ]


def test_an_unwritable_run_directory_is_one_error_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train", *RING, "--out", str(tmp_path / "file" / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gankit: error: cannot write the run directory {tmp_path / 'file' / 'run'} (Not a")
    assert err.count("\n") == 1


def wait_for_checkpoint(run: Path, min_step: int, processes: list[subprocess.Popen], seconds: float = 300) -> None:
    """Until a checkpoint of step >= ``min_step`` exists. Any step, not one file: on a fast machine the run
    writes and rotates checkpoints (``log.keep``) faster than a poll sees a given one."""
    deadline = time.monotonic() + seconds
    while not any(int(p.stem.split("-")[1]) >= min_step for p in (run / "checkpoints").glob("step-*.pt")):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            for p in processes:
                p.kill()
            outputs = [p.communicate()[1][-2000:] for p in processes]
            pytest.fail(f"no checkpoint of step >= {min_step} in {run}; stderr: {outputs}")
        time.sleep(0.2)


def test_killed_process_stops_the_other_with_a_message_and_the_checkpoint_resumes(ranks, tmp_path, capsys):
    run = tmp_path / "run"
    args = [*RING, "train.steps=100000", "log.ckpt_every=5", "log.every=5", "dist.timeout_s=30", "--quiet"]
    processes = ranks.start(["-m", "gankit", "train", *args, "--out", str(run)])
    wait_for_checkpoint(run, 10, processes)
    killed_at = time.monotonic()
    os.kill(processes[1].pid, signal.SIGKILL)
    _, err = processes[0].communicate(timeout=60)
    assert time.monotonic() - killed_at < 30 + 10  # dist.timeout_s, and in practice at once
    assert processes[0].returncode == 1 and processes[1].wait() == -signal.SIGKILL
    (line,) = [line for line in err.splitlines() if line.startswith("gankit: error")]
    assert line.startswith("gankit: error: rank 0: lost contact with another process at step ")
    assert f"continue with: gankit train --resume {run}" in line
    newest = checkpoint_io.newest_readable(run)
    assert not newest.skipped and newest.state["world_size"] == 2
    step = newest.state["step"]
    assert main(["train", "--resume", str(run), f"train.steps={step + 3}", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"resuming from {newest.path} (step {step})" in out
    assert "written by 2 process(es), this run has 1" in out
    assert checkpoint_io.list_checkpoints(run / "checkpoints")[-1].name == f"step-{step + 3:06d}.pt"


@pytest.mark.slow
def test_a_stop_signal_to_one_process_stops_both_at_the_same_step_and_resume_continues(ranks, tmp_path):
    run = tmp_path / "run"
    args = [*RING, "train.steps=100000", "log.ckpt_every=5", "log.every=5", "dist.timeout_s=30", "--quiet"]
    processes = ranks.start(["-m", "gankit", "train", *args, "--out", str(run)])
    wait_for_checkpoint(run, 5, processes)
    processes[1].send_signal(signal.SIGTERM)  # as a scheduler's preemption notice reaching one node first
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [130, 130], outputs[0][1][-2000:]
    assert "interrupted at step" in outputs[0][0] and outputs[1][0] == ""
    step = int(outputs[0][0].split("interrupted at step ")[1].split(";")[0])
    assert checkpoint_io.list_checkpoints(run / "checkpoints")[-1].name == f"step-{step:06d}.pt"
    # and the command the message gives continues it under torchrun
    resumed = ranks.run(["-m", "gankit", "train", "--resume", str(run), f"train.steps={step + 2}", "--quiet"])
    assert [code for code, _, _ in resumed] == [0, 0], resumed[0][2][-2000:]
    assert f"(step {step})" in resumed[0][1] and resumed[1][1] == ""
    assert checkpoint_io.list_checkpoints(run / "checkpoints")[-1].name == f"step-{step + 2:06d}.pt"


def test_env_reports_versions_backends_and_launch(capsys, monkeypatch):
    from gankit.runtime.environment import LAUNCH_VARIABLES

    for name in LAUNCH_VARIABLES:  # e.g. OMP_NUM_THREADS set by the caller's shell
        monkeypatch.delenv(name, raising=False)
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for row in ("gankit", "torch", "CUDA", "distributed backends", "launch"):
        assert any(line.startswith(row) for line in out.splitlines()), row
    assert "gloo" in out and "torchrun --nproc_per_node=N -m gankit env" in out
