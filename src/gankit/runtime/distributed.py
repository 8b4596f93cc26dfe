"""The process group a command runs in: rank, world size and local device, passed explicitly.

Under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``) :func:`from_environment`
joins the process group (NCCL on CUDA, gloo on the CPU); in a plain process it is rank 0 of 1 and
nothing is initialised. Everything that writes files, prints progress or logs asks :attr:`is_main`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from gankit.errors import GankitError
from gankit.runtime.device import select_device

BACKENDS = ("auto", "nccl", "gloo")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``local_rank`` on the node, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files, logs and progress (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every process (a no-op in one process)."""
        if self.distributed:
            dist.barrier()

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of ``tensor`` over processes (``tensor`` itself in one process)."""
        if not self.distributed:
            return tensor
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor / self.world_size

    def all_gather_cat(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rows of ``tensor`` from every process, concatenated in rank order (no gradient)."""
        if not self.distributed:
            return tensor
        sizes = [torch.zeros((), dtype=torch.long, device=tensor.device) for _ in range(self.world_size)]
        dist.all_gather(sizes, torch.tensor(len(tensor), device=tensor.device))
        longest = int(max(sizes))
        padded = tensor.new_zeros((longest, *tensor.shape[1:]))
        padded[: len(tensor)] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[: int(n)] for part, n in zip(parts, sizes, strict=True)])


def single_process(device: str | torch.device = "auto") -> DistributedContext:
    """Rank 0 of 1 on ``device`` (``auto``: CUDA if available, else the CPU)."""
    return DistributedContext(device=select_device(str(device)))


def under_torchrun() -> bool:
    """Whether the torchrun environment variables are set."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def from_environment(device: str = "auto", backend: str = "auto", timeout_s: float = 600.0) -> DistributedContext:
    """The process group of this command: joined from torchrun's environment, else a single process."""
    if not under_torchrun():
        return single_process(device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world == 1:
        return DistributedContext(0, 1, local_rank, select_device(device, local_rank))
    chosen = select_device(device, local_rank)
    if backend not in BACKENDS:
        raise GankitError(f"dist.backend='{backend}' is unknown; use one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "nccl" if chosen.type == "cuda" else "gloo"
    available = {"nccl": dist.is_nccl_available(), "gloo": dist.is_gloo_available()}
    if not available[backend]:
        raise GankitError(f"the {backend} backend is not available in this torch build; use dist.backend=gloo")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s), device_id=None)
    return DistributedContext(rank, world, local_rank, chosen)


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (after the last collective)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
