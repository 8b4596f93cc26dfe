"""Training objectives: what D (or a critic) and G minimise, given the networks and a batch.

An objective is an object with two methods, so that losses which need more than logits (gradient
penalties, MMD on critic features, instance noise) plug in without touching the training loop:

- ``discriminator_loss(D, real, fake, y_real, y_fake) -> (loss, stats)``
- ``generator_loss(D, fake, real, y_fake, y_real) -> (loss, stats)``

``stats`` maps names to detached scalar tensors that the loop logs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.errors import GankitError
from gankit.objectives.adversarial import (
    hinge_d_loss,
    hinge_g_loss,
    logistic_d_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
)

LogitLoss = Callable[..., torch.Tensor]

ADVERSARIAL_LOSSES: dict[str, tuple[LogitLoss, LogitLoss]] = {
    "minimax": (logistic_d_loss, minimax_g_loss),
    "ns": (logistic_d_loss, nonsaturating_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
}


class AdversarialObjective:
    """A discriminator that outputs logits, trained with one of :data:`ADVERSARIAL_LOSSES`."""

    def __init__(self, loss: str) -> None:
        if loss not in ADVERSARIAL_LOSSES:
            raise GankitError(f"unknown objective.loss '{loss}'; valid losses: {', '.join(ADVERSARIAL_LOSSES)}")
        self.name = loss
        self.d_loss, self.g_loss = ADVERSARIAL_LOSSES[loss]

    def discriminator_loss(
        self,
        D: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        y_real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on a real and a (detached) fake batch, with D's mean logits and accuracy."""
        real_logits = D(real, y_real).float()
        fake_logits = D(fake, y_fake).float()
        loss = self.d_loss(real_logits, fake_logits)
        accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        stats = {"d_real": real_logits.mean(), "d_fake": fake_logits.mean(), "d_accuracy": accuracy}
        return loss, {k: v.detach() for k, v in stats.items()}

    def generator_loss(
        self,
        D: nn.Module,
        fake: torch.Tensor,
        real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
        y_real: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss on a fake batch (gradients flow through D into G)."""
        return self.g_loss(D(fake, y_fake).float()), {}


def build_objective(config: ObjectiveConfig) -> AdversarialObjective:
    """The objective named by ``objective.loss``."""
    return AdversarialObjective(config.loss)


__all__ = ["ADVERSARIAL_LOSSES", "AdversarialObjective", "build_objective"]
