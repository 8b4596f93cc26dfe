"""Training objectives: what D (or a critic) and G minimise, given the networks and a batch.

An objective is an object with three methods, so that losses which need more than logits (gradient
penalties, MMD on critic features, instance noise) plug in without touching the training loop:

- ``discriminator_loss(D, real, fake, y_real, y_fake, step, d_step) -> (loss, stats)``
- ``after_discriminator_step(D)``: a projection after each D update (weight clipping)
- ``generator_loss(D, fake, real, y_fake, y_real, step) -> (loss, stats)``

``step`` counts generator iterations done, ``d_step`` discriminator updates done; ``stats`` maps
names to detached scalar tensors that the loop logs.
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
    wasserstein_d_loss,
    wasserstein_g_loss,
)
from gankit.objectives.mmd_losses import MMD_LOSSES, MMDObjective
from gankit.objectives.penalties import (
    add_instance_noise,
    clip_weights,
    gradient_penalty,
    instance_noise_std,
    zero_centered_penalty,
)

LogitLoss = Callable[..., torch.Tensor]

ADVERSARIAL_LOSSES: dict[str, tuple[LogitLoss, LogitLoss]] = {
    "minimax": (logistic_d_loss, minimax_g_loss),
    "ns": (logistic_d_loss, nonsaturating_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
    "wasserstein": (wasserstein_d_loss, wasserstein_g_loss),
}


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision outputs (bf16 autocast) are upcast so that losses are computed in fp32 or better."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class AdversarialObjective:
    """A discriminator that outputs one value per sample, trained with one of :data:`ADVERSARIAL_LOSSES`,
    plus any combination of gradient penalty, R1, R2, weight clipping and instance noise."""

    def __init__(self, config: ObjectiveConfig) -> None:
        if config.loss not in ADVERSARIAL_LOSSES:
            valid = ", ".join((*ADVERSARIAL_LOSSES, *MMD_LOSSES))
            raise GankitError(f"unknown objective.loss '{config.loss}'; valid losses: {valid}")
        self.config = config
        self.name = config.loss
        self.uses_discriminator = True
        self.d_loss, self.g_loss = ADVERSARIAL_LOSSES[config.loss]

    def noise_std(self, step: int) -> float:
        """The instance-noise standard deviation at generator iteration ``step``."""
        return instance_noise_std(self.config.noise_std, self.config.noise_anneal, step)

    def discriminator_loss(
        self,
        D: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        y_real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
        step: int = 0,
        d_step: int = 0,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on a real and a (detached) fake batch, with its regularisers and statistics."""
        cfg = self.config
        std = self.noise_std(step)
        real, fake = add_instance_noise(real, std), add_instance_noise(fake, std)
        real_logits = at_least_fp32(D(real, y_real))
        fake_logits = at_least_fp32(D(fake, y_fake))
        loss = self.d_loss(real_logits, fake_logits)
        stats = {"d_real": real_logits.mean(), "d_fake": fake_logits.mean()}
        if self.name != "wasserstein":
            stats["d_accuracy"] = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        else:
            stats["wasserstein_estimate"] = real_logits.mean() - fake_logits.mean()
        if cfg.gp > 0:
            stats["gp"] = gradient_penalty(D, real, fake, y_real, cfg.gp_one_sided)
            loss = loss + cfg.gp * stats["gp"]
        if d_step % cfg.reg_every == 0:
            if cfg.r1 > 0:
                stats["r1"] = zero_centered_penalty(D, real, y_real)
                loss = loss + 0.5 * cfg.r1 * cfg.reg_every * stats["r1"]
            if cfg.r2 > 0:
                stats["r2"] = zero_centered_penalty(D, fake, y_fake)
                loss = loss + 0.5 * cfg.r2 * cfg.reg_every * stats["r2"]
        if cfg.noise_std > 0:
            stats["noise_std"] = torch.tensor(std)
        return loss, {k: v.detach() for k, v in stats.items()}

    def after_discriminator_step(self, D: nn.Module) -> None:
        """WGAN weight clipping to [-c, c] when ``objective.clip`` > 0."""
        if self.config.clip > 0:
            clip_weights(D, self.config.clip)

    def generator_loss(
        self,
        D: nn.Module,
        fake: torch.Tensor,
        real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
        y_real: torch.Tensor | None = None,
        step: int = 0,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss on a fake batch (gradients flow through D into G); D sees the same instance noise."""
        fake = add_instance_noise(fake, self.noise_std(step))
        return self.g_loss(at_least_fp32(D(fake, y_fake))), {}


def build_objective(
    config: ObjectiveConfig, features: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> AdversarialObjective | MMDObjective:
    """The objective named by ``objective.loss``, with the regularisers ``config`` switches on; ``features``
    is the fixed feature map of a GMMN (data space when None)."""
    if config.loss in MMD_LOSSES:
        return MMDObjective(config, features)
    return AdversarialObjective(config)


LOSSES = (*ADVERSARIAL_LOSSES, *MMD_LOSSES)

__all__ = ["ADVERSARIAL_LOSSES", "LOSSES", "AdversarialObjective", "MMDObjective", "build_objective"]
