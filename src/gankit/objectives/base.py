"""The seam between objectives and the training loop: a batch record, phases as data, per-step context.

An objective owns the forward passes of G and D for each of its phases (the seam of stylegan2-ada-pytorch's
``training/loss.py``): the loop hands it a :class:`Batch` (real samples and labels, latents and fake labels)
and a :class:`StepContext`, and the objective computes the phase's loss, multiplies it by ``ctx.gain`` and
back-propagates. The loop only schedules phases, accumulates rounds and steps optimizers, so losses that
need G's latents, intermediate latents or their own state (path length, annealing) need no loop change.

Random draws inside an objective (interpolation points, instance noise, path-length directions) come from
``ctx.random``: per-sample draws for the whole global batch of the optimizer step, from a generator the
trainer owns and checkpoints, sliced to the rows this round and process hold. Training is therefore the same
function of the seed whatever the number of accumulation rounds or processes.

Several processes (``ctx.world``): each process's loss is a mean over its rows, and DistributedDataParallel
averages the gradients, which gives the gradient of the global-batch mean. An estimator that needs the whole
batch (the MMD) gathers the rows with ``ctx.world.gather_rows`` (gradients flow back to each process's rows).
DDP all-reduces a gradient bucket only once every parameter in it has received a gradient, so a phase whose
loss does not reach every parameter (a lazy R1 penalty never reaches D's last bias) would stall the next
step: ``ctx.reach`` (a :class:`ParameterReach`) ties the loss to the parameters it misses with a zero term,
and after the step's last round gives those parameters back the ``None`` gradient one process would have
left them, so that Adam skips them exactly as it does in one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from gankit.runtime.distributed import DistributedContext


@dataclass(frozen=True)
class Batch:
    """What one forward round sees: ``real`` samples and their labels, latents ``z`` and fake labels.

    ``offset`` is the row of the global batch (all rounds, all processes) at which this batch starts."""

    real: torch.Tensor
    y_real: torch.Tensor | None
    z: torch.Tensor
    y_fake: torch.Tensor | None
    offset: int = 0

    def __len__(self) -> int:
        return len(self.real)

    def split(self, rounds: int) -> list[Batch]:
        """The batch cut into ``rounds`` equal consecutive parts (gradient accumulation)."""
        if rounds == 1:
            return [self]
        size = len(self) // rounds

        def part(t: torch.Tensor | None, i: int) -> torch.Tensor | None:
            return None if t is None else t[i * size : (i + 1) * size]

        return [
            Batch(
                part(self.real, i), part(self.y_real, i), part(self.z, i), part(self.y_fake, i), self.offset + i * size
            )
            for i in range(rounds)
        ]

    def with_latents(self, z: torch.Tensor, y_fake: torch.Tensor | None) -> Batch:
        """The same real samples with new latents and fake labels."""
        return replace(self, z=z, y_fake=y_fake)


class StepRandom:
    """Per-sample random draws for one optimizer step, identical however the global batch is split.

    The ``i``-th draw of a round is the ``i``-th draw of the step: drawn once for all ``global_size`` rows
    from the trainer's generator, then sliced to the round's rows, so accumulation rounds and processes see
    the rows a single process with the whole batch would see."""

    def __init__(self, generator: torch.Generator, global_size: int) -> None:
        self.generator = generator
        self.global_size = global_size
        self._draws: list[torch.Tensor] = []
        self._cursor = 0
        self._rows = slice(0, global_size)

    def start_round(self, offset: int, size: int) -> None:
        """The next draws are for rows ``offset .. offset + size`` of the global batch."""
        self._cursor = 0
        self._rows = slice(offset, offset + size)

    def _draw(self, kind: Callable[..., torch.Tensor], shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        return self._draw_all(kind, shape, dtype)[self._rows]

    def _draw_all(self, kind: Callable[..., torch.Tensor], shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """The step's next draw for all ``global_size`` rows (drawn in the first round, reused in the others)."""
        if self._cursor == len(self._draws):
            full = kind((self.global_size, *shape), generator=self.generator, device=self.generator.device, dtype=dtype)
            self._draws.append(full)
        full = self._draws[self._cursor]
        if tuple(full.shape[1:]) != tuple(shape):
            raise RuntimeError(
                f"draw {self._cursor} of this step changed shape from {tuple(full.shape[1:])} to {shape}"
            )
        self._cursor += 1
        return full

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """U[0, 1) of shape (rows, *shape)."""
        return self._draw(torch.rand, shape, dtype)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """N(0, 1) of shape (rows, *shape)."""
        return self._draw(torch.randn, shape, dtype)

    def shared_rand(self, n: int) -> torch.Tensor:
        """``n`` U[0, 1) numbers for the whole step: the same in every round and on every process (the first
        row of a per-sample draw), for decisions made once per batch such as StyleGAN's mixing crossover."""
        return self._draw_all(torch.rand, (n,), torch.float32)[0]

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        """N(0, 1) shaped like ``x`` (rows first), on ``x``'s device and dtype."""
        return self.randn(*x.shape[1:], dtype=torch.float32).to(device=x.device, dtype=x.dtype)

    def rand_per_sample(self, x: torch.Tensor) -> torch.Tensor:
        """U[0, 1) of shape (rows, 1, ..., 1), broadcastable against ``x``."""
        return self.rand(*([1] * (x.ndim - 1))).to(device=x.device, dtype=x.dtype)


@dataclass
class StepContext:
    """What an objective needs to know about the optimizer step it contributes to."""

    step: int
    gain: float
    random: StepRandom
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    world: DistributedContext = field(default_factory=DistributedContext)
    reach: ParameterReach | None = None

    @classmethod
    def standalone(cls, batch_size: int, seed: int = 0, step: int = 0) -> StepContext:
        """A context for calling an objective's losses outside the training loop (experiments, tests): one
        round of ``batch_size`` rows whose draws come from a generator seeded with ``seed``."""
        return cls(step, 1.0, StepRandom(torch.Generator().manual_seed(seed), batch_size))


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of an iteration: ``name``, whose parameters it updates (``player`` G or D), every how many
    iterations it runs, and what it draws fresh (``all``: real batch and latents; ``latents``: latents only,
    the real batch of the previous phase reused; ``none``: the previous phase's batch)."""

    name: str
    player: str
    interval: int = 1
    draws: str = "all"
    repeats: int = 1


def lazy_optimizer_scale(interval: int) -> float:
    """c = k / (k + 1) for a regulariser applied every k steps (Karras et al. 2020, StyleGAN2, Appendix B:
    the learning rate becomes c * lr and the Adam betas beta ** c, so the sum of main and lazy steps behaves
    like the non-lazy schedule)."""
    return interval / (interval + 1)


class Objective:
    """Base class of training objectives; see the module docstring for the contract."""

    name: str = ""
    uses_discriminator: bool = True

    def phases(self, n_critic: int) -> list[PhaseSpec]:
        """The phases of one iteration, in order."""
        raise NotImplementedError

    def loss(
        self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Phase ``phase``'s loss on ``batch`` (the forward passes of G and D included) and its statistics."""
        raise NotImplementedError

    def accumulate(self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext) -> dict:
        """Compute phase ``phase``'s loss on ``batch``, back-propagate ``loss * ctx.gain``, return detached stats."""
        loss, stats = self.loss(phase, G, D, batch, ctx)
        if ctx.reach is not None:
            loss = ctx.reach.tie(loss)
        (loss * ctx.gain).backward()
        return detached(stats)

    def after_step(self, phase: str, G: nn.Module, D: nn.Module | None) -> None:
        """Called after the optimizer step of ``phase`` (e.g. a projection such as weight clipping)."""

    def state_dict(self) -> dict[str, Any]:
        """The objective's own state (running means, schedules), saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


def reached_parameters(output: torch.Tensor) -> set[int]:
    """The ``id`` of every leaf tensor (parameter) whose gradient ``output.backward()`` would set: the variables
    of the AccumulateGrad nodes reachable from ``output.grad_fn`` in the autograd graph."""
    found: set[int] = set()
    seen: set[Any] = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            found.add(id(variable))
        stack.extend(child for child, _ in node.next_functions)
    return found


class ParameterReach:
    """Makes one optimizer step's losses reach every trainable parameter of ``module`` without changing the step.

    :meth:`tie` adds 0 * (the sum of the parameters the loss's graph misses), so that every parameter receives a
    gradient and DistributedDataParallel can all-reduce (StyleGAN2-ADA adds ``real_logits * 0`` to its R1 phase
    for the same reason); :meth:`release`, after the step's last round, sets the gradient of the parameters that
    no round reached back to ``None``, as one process would have left it (Adam skips a ``None`` gradient but
    moves a parameter with a zero gradient by its momentum)."""

    def __init__(self, module: nn.Module) -> None:
        self.parameters = [p for p in module.parameters() if p.requires_grad]
        self.unreached: set[int] | None = None

    def tie(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus a zero term through every parameter it does not reach."""
        reached = reached_parameters(loss)
        missing = [p for p in self.parameters if id(p) not in reached]
        ids = {id(p) for p in missing}
        self.unreached = ids if self.unreached is None else self.unreached & ids
        if not missing:
            return loss
        return loss + 0.0 * torch.stack([p.sum() for p in missing]).sum()

    def release(self) -> None:
        """Forget the zero gradients of the parameters that no round's loss reached."""
        for p in self.parameters:
            if id(p) in (self.unreached or ()):
                p.grad = None


def detached(stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Statistics with their graphs dropped."""
    return {k: v.detach() for k, v in stats.items()}


__all__ = [
    "Batch",
    "Objective",
    "ParameterReach",
    "PhaseSpec",
    "StepContext",
    "StepRandom",
    "detached",
    "lazy_optimizer_scale",
    "reached_parameters",
]
