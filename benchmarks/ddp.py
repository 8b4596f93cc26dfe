"""Data-parallel throughput: images/s of gankit's training iteration with 1, 2, ... processes under torchrun, with
the per-process batch fixed (so the global batch grows with the processes), and the share of each iteration
spent on the gradient all-reduce.

Every configuration runs in its own ``torchrun --standalone --nproc_per_node=N`` job (gloo on the CPU, NCCL
with ``--device cuda``, one GPU per process). Each process times ``--iters`` iterations of ``Trainer.train_step``
as training runs them, then the same iterations with every DDP wrapper in ``no_sync`` (no gradient all-reduce;
the weights drift apart, which does not change the work). The all-reduce share is
``1 - time(no_sync) / time(synced)``; scaling efficiency is ``images/s(N) / (N * images/s(1))``.

    python benchmarks/ddp.py                  # CPU (gloo, 1 and 2 processes); and NCCL on 1, 2, 4, ... GPUs if any
    python benchmarks/ddp.py --device cuda --procs 1,2,4,8 --setup sngan32 --batch 64

Images per iteration are those D sees: global batch x n_critic (as ``images_per_s`` in ``metrics.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SETUPS = {
    "dcgan32": ["model.arch=dcgan", "model.width=64", "model.z_dim=100", "objective.loss=ns", "model.d_norm=none"],
    "sngan32": [
        "model.arch=resnet",
        "model.width=256",
        "model.d_width=128",
        "model.z_dim=128",
        "model.spectral_norm=true",
        "objective.loss=hinge",
        "train.n_critic=5",
    ],
    "wgan-gp32": [
        "model.arch=resnet",
        "model.width=128",
        "model.d_width=128",
        "model.z_dim=128",
        "objective.loss=wasserstein",
        "objective.gp=10",
        "train.n_critic=5",
    ],
}


def worker(args: argparse.Namespace) -> None:
    """One process of a torchrun job: time synced and no_sync iterations; rank 0 prints one JSON line."""
    from gankit.config import resolve
    from gankit.runtime.distributed import from_environment, shutdown
    from gankit.training.loop import Trainer

    device = "auto" if args.device == "cuda" else "cpu"
    context = from_environment(device, "auto", 300)
    world = context.world_size
    overrides = [
        *SETUPS[args.setup],
        *(["model.width=" + str(args.width)] if args.width else []),
        f"data.path={args.data}",
        "data.name=npz",
        "data.resolution=32",
        f"train.batch_size={args.batch * world}",
        f"train.device={device}",
        "train.steps=1000000",
        "ema.enabled=false",
        "eval.every=0",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(resolve("digits", overrides), Path(tmp) / "run", context)

        def timed(iterations: int) -> float:
            for _ in range(args.warmup):
                trainer.train_step()
            if trainer.device.type == "cuda":
                torch.cuda.synchronize(trainer.device)
            context.barrier()
            start = time.perf_counter()
            for _ in range(iterations):
                trainer.train_step()
            if trainer.device.type == "cuda":
                torch.cuda.synchronize(trainer.device)
            seconds = torch.tensor([(time.perf_counter() - start) / iterations], device=context.device)
            if context.distributed:
                torch.distributed.all_reduce(seconds, op=torch.distributed.ReduceOp.MAX)
            return float(seconds)

        synced = timed(args.iters)
        with trainer.players.no_sync_all():
            unsynced = timed(args.iters)
        n_critic = trainer.config.train.n_critic
    if context.is_main:
        record = {
            "setup": args.setup,
            "processes": world,
            "device": str(context.device.type),
            "backend": torch.distributed.get_backend() if context.distributed else "none",
            "batch_per_process": args.batch,
            "global_batch": args.batch * world,
            "seconds_per_iteration": synced,
            "seconds_without_allreduce": unsynced,
            "images_per_s": args.batch * world * n_critic / synced,
            "allreduce_share": max(0.0, 1 - unsynced / synced) if world > 1 else 0.0,
            "threads_per_process": torch.get_num_threads(),
        }
        print(json.dumps(record), flush=True)
    shutdown(context)


def launch(args: argparse.Namespace, processes: int, data: Path) -> dict:
    """One torchrun job of ``processes`` workers; rank 0's JSON record."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command += [__file__, "--worker", "--data", str(data)]
    for name in ("setup", "batch", "iters", "warmup", "device", "width"):
        command += [f"--{name}", str(getattr(args, name))]
    env = dict(os.environ)
    if args.device == "cpu":
        env["OMP_NUM_THREADS"] = str(args.threads)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{processes} processes failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", default="dcgan32", choices=sorted(SETUPS))
    parser.add_argument("--batch", type=int, default=16, help="per-process batch (default 16)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="all: CPU, and CUDA if any")
    parser.add_argument(
        "--procs", default="", help="process counts, e.g. 1,2,4,8 (default: 1,2 on the CPU, powers of 2 up to the GPUs)"
    )
    parser.add_argument("--width", type=int, default=0, help="override model.width (0: the setup's)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process (default 1: one core each)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
        print("no CUDA device here: CPU numbers only")
    for device in devices:
        table(argparse.Namespace(**{**vars(args), "device": device}))


def default_procs(device: str) -> list[int]:
    if device == "cpu":
        return [1, 2]
    count = torch.cuda.device_count()
    return [n for n in (1, 2, 4, 8, 16) if n <= count]


def table(args: argparse.Namespace) -> None:
    """Run every process count on ``args.device`` and print the table."""
    procs = [int(n) for n in args.procs.split(",")] if args.procs else default_procs(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        rng = np.random.default_rng(0)
        np.savez(data, x=rng.integers(0, 256, (2048, 32, 32, 3), dtype=np.uint8))
        records = [launch(args, n, data) for n in procs]
    base = records[0]["images_per_s"] / records[0]["processes"]
    threads = f"{records[0]['threads_per_process']} thread(s) per process, " if args.device == "cpu" else ""
    print(
        f"{args.setup}, {args.device} ({records[-1]['backend']} between processes), {threads}batch {args.batch} "
        f"per process, {args.iters} iterations"
    )
    print(f"{'processes':>9} {'global batch':>12} {'s/iter':>8} {'images/s':>9} {'efficiency':>10} {'all-reduce':>10}")
    for r in records:
        efficiency = r["images_per_s"] / (r["processes"] * base)
        print(
            f"{r['processes']:>9} {r['global_batch']:>12} {r['seconds_per_iteration']:>8.3f} {r['images_per_s']:>9.1f} "
            f"{efficiency:>10.0%} {r['allreduce_share']:>10.0%}"
        )


if __name__ == "__main__":
    main()
