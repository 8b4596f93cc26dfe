"""Phases as data: which module an optimizer step updates, with which optimizer, every how many iterations.

The loop runs the objective's :class:`~gankit.objectives.base.PhaseSpec` list; for each phase due this
iteration it takes ``repeats`` optimizer steps, each accumulating gradients over ``train.accumulate``
rounds of the (global) batch. Optimizers are built here, with the learning rate and Adam betas of a
player that has a lazy regulariser scaled as in StyleGAN2 (Karras et al. 2020, Appendix B).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from gankit.config import OptimConfig
from gankit.errors import GankitError
from gankit.objectives.base import PhaseSpec, lazy_optimizer_scale

OPTIMIZERS = ("adam", "rmsprop")


def build_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015) with the given betas, or RMSprop (as WGAN, Arjovsky et al. 2017, uses)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise GankitError(f"unknown optim.name '{name}'; valid optimizers: {', '.join(OPTIMIZERS)}")


def player_optimizer(
    config: OptimConfig, player: str, module: nn.Module, phases: list[PhaseSpec]
) -> torch.optim.Optimizer:
    """The optimizer of ``player`` (G or D); a lazy regulariser phase of interval k (> 1) for that player scales
    its learning rate by c = k / (k + 1) and its betas to beta ** c (StyleGAN2, Appendix B)."""
    lr = config.lr_g if player == "G" else config.lr_d
    betas = (config.beta1, config.beta2)
    lazy = [p.interval for p in phases if p.player == player and p.interval > 1]
    if lazy:
        c = lazy_optimizer_scale(lazy[0])
        lr, betas = lr * c, (betas[0] ** c, betas[1] ** c)
    return build_optimizer(config.name, module.parameters(), lr, betas)


def real_images_per_iteration(phases: list[PhaseSpec], batch_size: int) -> float:
    """Real images one iteration draws, on average over the phases' periods: ``batch_size`` for each phase run
    that draws a fresh batch (``draws == "all"``: ``repeats`` times every ``interval`` iterations). Lazy
    regularisers (``draws="none"``) reuse the previous batch and G phases draw latents only, so neither counts."""
    return batch_size * sum(p.repeats / p.interval for p in phases if p.draws == "all")


@dataclass
class Phase:
    """A scheduled phase: its spec, the module it updates, and that module's optimizer."""

    spec: PhaseSpec
    module: nn.Module
    optimizer: torch.optim.Optimizer

    def due(self, iteration: int) -> bool:
        """Whether the phase runs at ``iteration`` (every ``interval`` iterations, from 0)."""
        return iteration % self.spec.interval == 0


class RunningStats:
    """Means of the statistics of one iteration over every round and repeat that reported them (on device)."""

    def __init__(self) -> None:
        self._values: dict[str, list[torch.Tensor]] = defaultdict(list)

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for key, value in stats.items():
            self._values[key].append(value.detach().float().reshape(()))

    def set(self, key: str, value: torch.Tensor) -> None:
        self._values[key] = [value.detach().float().reshape(())]

    def means(self) -> dict[str, torch.Tensor]:
        return {key: torch.stack(values).mean() for key, values in self._values.items()}
