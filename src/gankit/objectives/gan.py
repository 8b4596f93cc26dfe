"""The adversarial objective: a discriminator with one logit per sample, one of the losses of
:mod:`gankit.objectives.adversarial`, and any combination of the regularisers of
:mod:`gankit.objectives.penalties` (gradient penalty, R1, R2, weight clipping, instance noise).

With an auxiliary-classifier discriminator (``model.d_cond=auxiliary``; AC-GAN, Odena, Olah & Shlens, ICML
2017, Sec. 3, eq. 1-2) D's output has K class logits beside the adversarial logit. With L_C the
log-likelihood of the correct class on real and on generated images, D maximises L_S + L_C and G maximises
L_C - L_S: both losses gain ``objective.ac_weight`` times the cross-entropy of the class logits (D: on real
images with their labels and on generated images with the labels they were drawn for; G: on its images).

Phases: ``D`` (``n_critic`` repeats, each on a fresh batch), ``D_reg`` when R1/R2 are lazy
(``objective.reg_every`` k > 1: the penalty runs every k iterations as its own phase, weighted by k, with
D's optimizer scaled as in StyleGAN2, Appendix B), and ``G``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.errors import GankitError
from gankit.models.base import adversarial_logits, class_logits
from gankit.objectives.adversarial import (
    hinge_d_loss,
    hinge_g_loss,
    logistic_d_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
    wasserstein_d_loss,
    wasserstein_g_loss,
)
from gankit.objectives.base import Batch, Objective, PhaseSpec, StepContext
from gankit.objectives.orthogonal import with_orthogonal_regularization
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


class AdversarialObjective(Objective):
    """A discriminator trained with one of :data:`ADVERSARIAL_LOSSES`, plus the configured regularisers."""

    def __init__(self, config: ObjectiveConfig) -> None:
        if config.loss not in ADVERSARIAL_LOSSES:
            raise GankitError(f"unknown objective.loss '{config.loss}'")
        self.config = config
        self.name = config.loss
        self.d_loss, self.g_loss = ADVERSARIAL_LOSSES[config.loss]
        self.lazy = config.reg_every > 1 and (config.r1 > 0 or config.r2 > 0)

    def phases(self, n_critic: int) -> list[PhaseSpec]:
        """D (``n_critic`` repeats), lazy D_reg every ``objective.reg_every`` iterations, then G."""
        phases = [PhaseSpec("D", "D", repeats=n_critic)]
        if self.lazy:
            phases.append(PhaseSpec("D_reg", "D", self.config.reg_every, draws="none"))
        return [*phases, PhaseSpec("G", "G", draws="latents")]

    def noise_std(self, step: int) -> float:
        """The instance-noise standard deviation at generator iteration ``step``."""
        return instance_noise_std(self.config.noise_std, self.config.noise_anneal, step)

    def _noisy(self, x: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        std = self.noise_std(ctx.step)
        return add_instance_noise(x, std, ctx.random.randn_like(x)) if std > 0 else x

    def loss(
        self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of ``phase`` (D, D_reg or G) on ``batch``, with its statistics."""
        if phase == "D":
            fake = self._fake(G, batch, ctx)
            return self.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake, ctx)
        if phase == "D_reg":
            fake = self._fake(G, batch, ctx) if self.config.r2 > 0 else batch.real
            return self.lazy_penalties(D, batch.real, fake, batch.y_real, batch.y_fake, ctx)
        if phase == "G":
            with ctx.autocast():
                fake = G(batch.z, batch.y_fake)
            loss, stats = self.generator_loss(D, fake, batch.y_fake, ctx)
            return with_orthogonal_regularization(loss, stats, G, self.config.ortho)
        raise GankitError(f"the {self.name} objective has no phase '{phase}'")

    def _fake(self, G: nn.Module, batch: Batch, ctx: StepContext) -> torch.Tensor:
        with torch.no_grad(), ctx.autocast():
            return G(batch.z, batch.y_fake).float()

    def discriminator_loss(
        self,
        D: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        y_real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
        ctx: StepContext | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on a real and a (detached) fake batch, with the non-lazy regularisers and statistics."""
        cfg = self.config
        ctx = ctx or StepContext.standalone(len(real))
        real, fake = self._noisy(real, ctx), self._noisy(fake, ctx)
        with ctx.autocast():
            real_out = at_least_fp32(D(real, y_real))
            fake_out = at_least_fp32(D(fake, y_fake))
        real_logits, fake_logits = adversarial_logits(real_out), adversarial_logits(fake_out)
        loss = self.d_loss(real_logits, fake_logits)
        stats = {"loss_d": loss, "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}
        if real_out.ndim == 2:  # AC-GAN: the class log-likelihood of real and generated images
            real_classes, fake_classes = class_logits(real_out), class_logits(fake_out)
            stats["ac_d"] = F.cross_entropy(real_classes, y_real) + F.cross_entropy(fake_classes, y_fake)
            stats["ac_real_accuracy"] = (real_classes.argmax(1) == y_real).float().mean()
            loss = loss + cfg.ac_weight * stats["ac_d"]
        if self.name != "wasserstein":
            stats["d_accuracy"] = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        else:
            stats["wasserstein_estimate"] = real_logits.mean() - fake_logits.mean()
        if cfg.gp > 0:
            eps = ctx.random.rand_per_sample(real)
            stats["gp"] = gradient_penalty(D, real, fake, y_real, cfg.gp_one_sided, eps)
            loss = loss + cfg.gp * stats["gp"]
        if not self.lazy:
            loss = loss + self._zero_centred(D, real, fake, y_real, y_fake, stats)
        if cfg.noise_std > 0:
            stats["noise_std"] = torch.tensor(self.noise_std(ctx.step))
        return loss, stats

    def _zero_centred(self, D, real, fake, y_real, y_fake, stats: dict) -> torch.Tensor:
        """(gamma / 2) E||grad D||^2 on real (R1) and fake (R2) samples (Mescheder et al. 2018, eq. 9-10)."""
        total = real.new_zeros(())
        if self.config.r1 > 0:
            stats["r1"] = zero_centered_penalty(D, real, y_real)
            total = total + 0.5 * self.config.r1 * stats["r1"]
        if self.config.r2 > 0:
            stats["r2"] = zero_centered_penalty(D, fake, y_fake)
            total = total + 0.5 * self.config.r2 * stats["r2"]
        return total

    def lazy_penalties(
        self,
        D: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        y_real: torch.Tensor | None = None,
        y_fake: torch.Tensor | None = None,
        ctx: StepContext | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """R1 / R2 as their own phase (Karras et al. 2020, Sec. 3.1): (gamma / 2) E||grad D||^2; the loop's gain
        multiplies it by the interval k."""
        ctx = ctx or StepContext.standalone(len(real))
        real, fake = self._noisy(real, ctx), self._noisy(fake, ctx)
        stats: dict[str, torch.Tensor] = {}
        with ctx.autocast():
            loss = self._zero_centred(D, real, fake, y_real, y_fake, stats)
        return loss, stats

    def generator_loss(
        self, D: nn.Module, fake: torch.Tensor, y_fake: torch.Tensor | None = None, ctx: StepContext | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss on a fake batch (gradients flow through D into G); D sees the same instance noise."""
        ctx = ctx or StepContext.standalone(len(fake))
        with ctx.autocast():
            out = at_least_fp32(D(self._noisy(fake, ctx), y_fake))
        loss = self.g_loss(adversarial_logits(out))
        stats = {"loss_g": loss}
        if out.ndim == 2:  # AC-GAN: G also maximises the class log-likelihood of its images
            stats["ac_g"] = F.cross_entropy(class_logits(out), y_fake)
            loss = loss + self.config.ac_weight * stats["ac_g"]
        return loss, stats

    def after_step(self, phase: str, G: nn.Module, D: nn.Module | None) -> None:
        """WGAN weight clipping to [-c, c] after each D step when ``objective.clip`` > 0."""
        if phase == "D" and self.config.clip > 0:
            clip_weights(D, self.config.clip)
