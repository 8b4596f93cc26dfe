"""G and D under DistributedDataParallel (Li et al., "PyTorch Distributed", VLDB 2020), with the rules that GAN
training needs. In one process nothing is wrapped and every rule below is a no-op.

- **Each wrapper all-reduces only its own gradients, once per optimizer step.** A phase updates one player;
  the objective receives that player's DDP wrapper and the other player's plain module, so the other player's
  forward passes (G under ``no_grad`` in D's phase, D with frozen parameters in G's phase) never arm a
  reducer. Accumulation rounds other than the last run under ``no_sync``; the last round's backward
  all-reduces the accumulated gradients (``find_unused_parameters`` stays off).
- **Several forward passes, double backward.** D's phase runs D on real, fake and penalty points before one
  backward, and gradient penalties differentiate D's input gradient (``create_graph=True``). Neither needs
  ``static_graph``: ``autograd.grad`` with respect to the input never fires the parameters' gradient hooks,
  and the single ``backward`` fires each hook once. What breaks DDP is a loss that does not reach every
  parameter (a lazy R1 phase never reaches D's last bias): the objective ties such losses to the missed
  parameters with a zero term, and the missed parameters' gradients are reset to ``None`` before the optimizer
  step, as in one process (:class:`gankit.objectives.base.ParameterReach`).
- **Buffers.** DDP's own buffer broadcast at every forward is off (``forward_sync_buffers=False``): with three
  forwards per D step it would cost three broadcasts and overwrite batch-norm statistics between the passes
  of one step. Instead :meth:`Players.sync_buffers` copies rank 0's buffers to every process once per
  iteration, before the EMA update. Spectral-norm vectors u, v are computed from identical weights on every
  process, so they agree anyway; batch-norm running statistics are rank 0's (as with DDP's default), unless
  ``train.sync_bn`` turns batch norm into SyncBatchNorm (statistics over the global batch, CUDA only).
- **EMA.** The parameters are identical on every process after each all-reduced step, and the buffers after
  :meth:`Players.sync_buffers`, so every process updates an identical EMA copy.
"""

from __future__ import annotations

import contextlib
import inspect

from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gankit.errors import GankitError
from gankit.objectives.base import ParameterReach
from gankit.runtime.distributed import DistributedContext


def convert_sync_batchnorm(module: nn.Module, context: DistributedContext) -> nn.Module:
    """``module`` with every batch-norm layer replaced by SyncBatchNorm (Ioffe & Szegedy 2015 statistics over
    the global batch, as BigGAN's cross-replica batch norm; Brock et al. 2019, Sec. 4), when several processes
    run; unchanged in one process. PyTorch's SyncBatchNorm runs on CUDA only."""
    if not context.distributed:
        return module
    if context.device.type != "cuda":
        raise GankitError("train.sync_bn=true needs CUDA devices (PyTorch's SyncBatchNorm); set train.sync_bn=false")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


def wrap(module: nn.Module, context: DistributedContext) -> nn.Module:
    """``module`` in DistributedDataParallel (no unused-parameter search, no per-forward buffer broadcast) when
    several processes run; the module itself in one process. Every parameter is made trainable first, since
    DDP only syncs the parameters that require gradients when it is built (the loop toggles them per phase)."""
    if not context.distributed:
        return module
    module.requires_grad_(True)
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    # no buffer broadcast at each forward: newer PyTorch names the switch forward_sync_buffers
    no_forward_sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=False, **no_forward_sync)


class Players:
    """The plain G and D and the modules the objective sees in each phase (see the module docstring)."""

    def __init__(self, G: nn.Module, D: nn.Module | None, context: DistributedContext) -> None:
        self.context = context
        self.plain: dict[str, nn.Module | None] = {"G": G, "D": D}
        self.wrapped: dict[str, nn.Module | None] = {
            name: None if module is None else wrap(module, context) for name, module in self.plain.items()
        }

    def for_phase(self, player: str) -> tuple[nn.Module, nn.Module | None]:
        """(G, D) for a phase that updates ``player``: its wrapper, and the other player's plain module."""
        G = self.wrapped["G"] if player == "G" else self.plain["G"]
        D = self.wrapped["D"] if player == "D" else self.plain["D"]
        return G, D

    def round(self, player: str, last: bool) -> contextlib.AbstractContextManager:
        """The context of one accumulation round: ``no_sync`` unless it is the optimizer step's last round."""
        wrapper = self.wrapped[player]
        if last or not isinstance(wrapper, DistributedDataParallel):
            return contextlib.nullcontext()
        return wrapper.no_sync()

    def no_sync_all(self) -> contextlib.ExitStack:
        """Every wrapper in ``no_sync`` at once (benchmarks: the iteration without its gradient all-reduce)."""
        stack = contextlib.ExitStack()
        for wrapper in self.wrapped.values():
            if isinstance(wrapper, DistributedDataParallel):
                stack.enter_context(wrapper.no_sync())
        return stack

    def reach(self, player: str) -> ParameterReach | None:
        """A fresh :class:`ParameterReach` for one optimizer step of ``player`` (only when DDP needs one)."""
        return ParameterReach(self.plain[player]) if self.context.distributed else None

    def sync_buffers(self) -> None:
        """Rank 0's buffers to every process (once per iteration; see the module docstring)."""
        for module in self.plain.values():
            if module is not None:
                self.context.broadcast_buffers(module)
