"""The process group a command runs in: rank, world size and local device, passed explicitly.

Under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``) :func:`from_environment`
joins the process group (NCCL on CUDA, gloo on the CPU); in a plain process it is rank 0 of 1 and
nothing is initialised. Everything that writes files, prints progress or logs asks :attr:`is_main`.

Failing together instead of hanging: a collective waits for every process, so a process that fails
alone would leave the others waiting until ``dist.timeout_s``. Setup code therefore runs inside
:meth:`DistributedContext.agreement` (every process reports success or its error, and all raise the
same :class:`~gankit.errors.GankitError` if any failed), decisions that touch shared files (the run
directory, which checkpoint to resume, writing a checkpoint) are made by rank 0 in
:meth:`DistributedContext.run_on_main` and broadcast, and a collective that fails because another
process died raises :class:`PeerLost`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from gankit.errors import GankitError
from gankit.runtime.device import select_device

BACKENDS = ("auto", "nccl", "gloo")
T = TypeVar("T")

# Messages of the collective backends when a peer process is gone or silent (gloo, NCCL, the TCP store).
_LOST_PEER_MARKERS = (
    "Connection closed by peer",
    "Connection reset by peer",
    "Broken pipe",
    "timed out",
    "Timed out",
    "Timeout",
    "NCCL communicator was aborted",
    "NCCL error",
    "failed to recv",
    "Socket Timeout",
)


class PeerLost(GankitError):
    """Another process of the run died or stopped answering; this one stopped too (rank-local message)."""


def is_lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another process died or timed out."""
    if isinstance(exc, dist.DistError):
        return True
    return isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in _LOST_PEER_MARKERS)


def short_reason(exc: BaseException) -> str:
    """The first line of a backend error, without the source location gloo prefixes it with."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]
    return text if len(text) <= 160 else text[:157] + "..."


class _GatherRows(torch.autograd.Function):
    """all_gather of equal-sized row blocks with a gradient: the backward sums, over processes, the gradient of
    every process's output with respect to this process's rows (all_reduce, then this rank's slice)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
        ctx.rank, ctx.rows = rank, len(x)
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows], None, None


class _SumOverProcesses(torch.autograd.Function):
    """all_reduce (sum) with a gradient: every process's output is the same sum, so the gradient with respect
    to this process's input is the sum of every process's output gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        total = x.detach().clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


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

    def _comm_device(self) -> torch.device:
        """Where tensors of collectives live: the process's GPU under NCCL, the CPU under gloo."""
        if self.distributed and dist.get_backend() == "nccl":
            return self.device
        return torch.device("cpu")

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
        device = tensor.device
        tensor = tensor.to(self._comm_device())
        sizes = [torch.zeros((), dtype=torch.long, device=tensor.device) for _ in range(self.world_size)]
        dist.all_gather(sizes, torch.tensor(len(tensor), device=tensor.device))
        longest = int(max(sizes))
        padded = tensor.new_zeros((longest, *tensor.shape[1:]))
        padded[: len(tensor)] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[: int(n)] for part, n in zip(parts, sizes, strict=True)]).to(device)

    def gather_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Every process's rows of ``x`` (equal counts), concatenated in rank order, with gradients flowing back
        to each process's own rows: for estimators that need the whole global batch (the MMD)."""
        if not self.distributed:
            return x
        return _GatherRows.apply(x, self.rank, self.world_size)

    def mean_over_processes(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of ``x`` over processes, differentiable (a per-process mean becomes the global-batch mean)."""
        if not self.distributed:
            return x
        return _SumOverProcesses.apply(x) / self.world_size

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every process's ``obj`` (picklable), in rank order."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if not self.distributed:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def run_on_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only and return its (picklable) result on every process; if it raises, rank 0
        re-raises and every other process raises a :class:`GankitError` with the same message."""
        if not self.distributed:
            return fn()
        result, error, failure = None, None, None
        if self.is_main:
            try:
                result = fn()
            except Exception as exc:  # reported to every process, re-raised below
                failure = exc
                error = str(exc) if isinstance(exc, GankitError) else f"{exc.__class__.__name__}: {exc}"
        result, error = self.broadcast_object((result, error))
        if failure is not None:
            raise failure
        if error is not None:
            raise GankitError(error)
        return result

    @contextlib.contextmanager
    def agreement(self) -> Iterator[None]:
        """Run the block on every process, then compare outcomes: if any process raised, every process raises
        (the failing one its own exception, the others a :class:`GankitError` naming the rank and its message),
        so that no process goes on to a collective that the failed one will never join. The block must not
        itself run collectives."""
        if not self.distributed:
            yield
            return
        failure: BaseException | None = None
        try:
            yield
        except Exception as exc:
            failure = exc
        message = None
        if failure is not None:
            message = str(failure) if isinstance(failure, GankitError) else f"{failure.__class__.__name__}: {failure}"
        outcomes = self.all_gather_object(message)
        if failure is not None:
            raise failure
        failed = [(rank, text) for rank, text in enumerate(outcomes) if text is not None]
        if failed:
            rank, text = failed[0]
            raise GankitError(f"rank {rank} failed: {text}")

    def broadcast_buffers(self, module: nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm statistics, spectral-norm vectors) into every process's ``module``:
        one broadcast per dtype of all buffers flattened together."""
        if not self.distributed:
            return
        groups: dict[torch.dtype, list[torch.Tensor]] = {}
        for buffer in module.buffers():
            groups.setdefault(buffer.dtype, []).append(buffer)
        device = self._comm_device()
        with torch.no_grad():
            for buffers in groups.values():
                flat = torch.cat([b.detach().reshape(-1).to(device) for b in buffers])
                dist.broadcast(flat, src=0)
                offset = 0
                for b in buffers:
                    b.copy_(flat[offset : offset + b.numel()].view_as(b))
                    offset += b.numel()


def single_process(device: str | torch.device = "auto") -> DistributedContext:
    """Rank 0 of 1 on ``device`` (``auto``: CUDA if available, else the CPU)."""
    return DistributedContext(device=select_device(str(device)))


def under_torchrun() -> bool:
    """Whether the torchrun environment variables are set."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def exit_process(code: int) -> NoReturn:
    """Exit with ``code``. A process of a torchrun group leaves with ``os._exit`` once its output is flushed (its
    logs, checkpoints and process group are closed by then): in fresh-clone CI runs, Python's own teardown sometimes
    met a c10d thread that was still joinable and aborted ("terminate called without an active exception"), turning
    exit status 2 into -6 after a failure and 0 into -6 after a success (the gankit command and the tests'
    multi-process worker both)."""
    if under_torchrun():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def environment_rank() -> int:
    """This process's rank from torchrun's environment (0 outside torchrun), readable before the group exists."""
    return int(os.environ.get("RANK", "0") or 0)


def from_environment(device: str = "auto", backend: str = "auto", timeout_s: float = 600.0) -> DistributedContext:
    """The process group of this command: joined from torchrun's environment, else a single process.

    Every check here depends only on the command line and the machine, so every process fails the same way
    (and the command prints the error once, on rank 0)."""
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
    if backend == "nccl" and chosen.type != "cuda":
        raise GankitError(f"dist.backend=nccl needs CUDA devices, this process runs on {chosen}; use dist.backend=gloo")
    if chosen.type == "cuda":
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise GankitError(
                f"local rank {local_rank} asks for {chosen}, but this node has {torch.cuda.device_count()} GPUs; "
                "start at most one process per GPU (torchrun --nproc_per_node)"
            )
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
        except Exception as exc:
            if not is_lost_peer(exc):
                raise
            raise PeerLost(
                f"rank {rank} could not join the {world} processes ({short_reason(exc)}); check MASTER_ADDR / "
                "--rdzv-endpoint and that every node started"
            ) from exc
    return DistributedContext(rank, world, local_rank, chosen)


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (after the last collective, or after a failure)."""
    if context.distributed and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
