"""What ``gankit env`` reports: the software and devices a run would use, and whether processes started by
torchrun can talk to each other. The first thing to run on a new machine or cluster.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time

import torch
import torch.distributed as dist

from gankit.runtime.distributed import DistributedContext

# torchrun's variables (and SLURM's, for jobs that start it from sbatch) that decide rank, world and rendezvous.
LAUNCH_VARIABLES = (
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "NCCL_SOCKET_IFNAME",
    "GLOO_SOCKET_IFNAME",
    "SLURM_JOB_ID",
    "SLURM_NNODES",
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "SLURM_JOB_NODELIST",
)


def _cuda_rows() -> list[tuple[str, str]]:
    if not torch.cuda.is_available():
        return [("CUDA", f"not available (torch built for CUDA {torch.version.cuda or 'none'})")]
    rows = [
        ("CUDA", f"{torch.version.cuda} (driver sees {torch.cuda.device_count()} device(s))"),
        ("cuDNN", str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else "not available"),
    ]
    if dist.is_nccl_available():
        rows.append(("NCCL", ".".join(map(str, torch.cuda.nccl.version()))))
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        memory = f"{props.total_memory / 2**30:.1f} GiB"
        rows.append((f"cuda:{i}", f"{props.name}, {memory}, capability {props.major}.{props.minor}"))
    return rows


def report() -> list[tuple[str, str]]:
    """(name, value) rows: gankit, Python, torch, CUDA / cuDNN / NCCL versions, the GPUs, the distributed
    backends this torch build has, CPU threads, and the launch variables that are set."""
    from gankit import __version__

    backends = [
        name
        for name, ok in (
            ("nccl", dist.is_nccl_available()),
            ("gloo", dist.is_gloo_available()),
            ("mpi", dist.is_mpi_available()),
        )
        if ok
    ]
    rows = [
        ("gankit", __version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("torch", torch.__version__),
        *_cuda_rows(),
        ("distributed backends", ", ".join(backends) if dist.is_available() else "torch.distributed unavailable"),
        ("host", socket.gethostname()),
        ("CPU threads", f"{torch.get_num_threads()} of {os.cpu_count()} cores"),
    ]
    launch = [(name, os.environ[name]) for name in LAUNCH_VARIABLES if name in os.environ]
    rows += launch or [("launch", "a single process (no torchrun variables set)")]
    return rows


def check_collectives(context: DistributedContext, megabytes: int = 16, repeats: int = 5) -> list[str]:
    """Under torchrun: one line per process (host, local rank, device), then the result of an all-reduce that
    must sum the ranks exactly, and the bus bandwidth of ``repeats`` all-reduces of ``megabytes`` MiB. Every
    process must call it; the lines are meant for rank 0 to print."""
    device = context.device if dist.get_backend() == "nccl" else torch.device("cpu")
    who = context.all_gather_object((socket.gethostname(), context.local_rank, str(context.device)))
    lines = [
        f"rank {rank}: host {host}, local rank {local}, device {dev}" for rank, (host, local, dev) in enumerate(who)
    ]
    total = torch.tensor([float(context.rank + 1)], device=device)
    dist.all_reduce(total)
    expected = context.world_size * (context.world_size + 1) / 2
    status = "ok" if float(total) == expected else f"WRONG (got {float(total)}, expected {expected})"
    lines.append(f"all-reduce over {context.world_size} processes ({dist.get_backend()}): {status}")
    payload = torch.ones(megabytes * 2**20 // 4, device=device)
    dist.all_reduce(payload)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(payload)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / repeats
    bus = 2 * (context.world_size - 1) / context.world_size * payload.numel() * 4 / seconds / 1e9
    lines.append(f"all-reduce of {megabytes} MiB: {seconds * 1e3:.1f} ms, bus bandwidth {bus:.2f} GB/s")
    return lines
