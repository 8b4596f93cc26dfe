"""The StyleGAN2 objective (Karras et al., CVPR 2020): any adversarial loss and regulariser of
:class:`~gankit.objectives.gan.AdversarialObjective` (the paper's recipe is the non-saturating loss with lazy
R1 every 16 steps), plus

- mixing regularisation (StyleGAN, Karras et al. 2019, Sec. 3.1): with probability ``stylegan.mixing_prob``
  the fakes of the D, G and path length phases switch to the w of a second latent at a random layer;
- lazy path length regularisation (StyleGAN2 Sec. 3.2, eq. 4) as the phase ``G_reg`` every
  ``stylegan.pl_every`` iterations, weighted by ``stylegan.pl_weight`` times the interval, on a batch shrunk
  by ``stylegan.pl_batch_shrink``, with the running mean of path lengths kept in the checkpoint; G's Adam is
  scaled as for every lazy regulariser (Appendix B).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit.config import ObjectiveConfig, StyleGANConfig
from gankit.models.stylegan import MixingDraws
from gankit.objectives.base import Batch, PhaseSpec, StepContext
from gankit.objectives.gan import AdversarialObjective
from gankit.objectives.orthogonal import with_orthogonal_regularization
from gankit.objectives.path_length import path_length_terms


class StyleGANObjective(AdversarialObjective):
    """:class:`AdversarialObjective` with style mixing and lazy path length regularisation."""

    def __init__(self, config: ObjectiveConfig, stylegan: StyleGANConfig) -> None:
        super().__init__(config)
        self.stylegan = stylegan
        self.pl_mean = torch.zeros(())

    def phases(self, n_critic: int) -> list[PhaseSpec]:
        """The adversarial phases, plus ``G_reg`` every ``stylegan.pl_every`` iterations when ``pl_weight`` > 0."""
        phases = super().phases(n_critic)
        if self.stylegan.pl_weight > 0:
            phases.append(PhaseSpec("G_reg", "G", self.stylegan.pl_every, draws="latents"))
        return phases

    def _styled(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, ctx: StepContext, **kwargs: Any) -> Any:
        """G(z, y) with mixing regularisation; ``z`` may be the first rows of the round's latents (the path
        length phase), and the second latents are then the same first rows of the round's draw."""
        draws = None
        if self.stylegan.mixing_prob > 0:  # one crossover per step, the second latent per sample: split-invariant
            u = ctx.random.shared_rand(2)
            draws = MixingDraws(float(u[0]), float(u[1]), ctx.random.randn_like(z)[: len(z)])
        return G(z, y, mixing_prob=self.stylegan.mixing_prob, mixing_draws=draws, **kwargs)

    def _fake(self, G: nn.Module, batch: Batch, ctx: StepContext) -> torch.Tensor:
        with torch.no_grad(), ctx.autocast():
            return self._styled(G, batch.z, batch.y_fake, ctx).float()

    def loss(
        self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G with mixing in the D and G phases; ``G_reg`` is the path length penalty."""
        if phase == "G":
            with ctx.autocast():
                fake = self._styled(G, batch.z, batch.y_fake, ctx)
            loss, stats = self.generator_loss(D, fake, batch.y_fake, ctx)
            return with_orthogonal_regularization(loss, stats, G, self.config.ortho)
        if phase == "G_reg":
            return self._path_length(G, batch, ctx)
        return super().loss(phase, G, D, batch, ctx)

    def _path_length(self, G: nn.Module, batch: Batch, ctx: StepContext) -> tuple[torch.Tensor, dict]:
        """Eq. 4 on the first 1 / ``pl_batch_shrink`` of the rows, with mixing regularisation as in the other
        phases (StyleGAN2-ADA's ``Gpl`` generates through the same mixing ``run_G``); the directions are
        per-sample draws of the step's shared random stream (so every process draws its own rows), and the
        running mean moves with the mean length over all processes, so it stays identical everywhere."""
        rows = max(1, len(batch) // self.stylegan.pl_batch_shrink)
        y = None if batch.y_fake is None else batch.y_fake[:rows]
        with ctx.autocast():
            images, ws = self._styled(G, batch.z[:rows], y, ctx, return_ws=True)
        images = images.float()
        directions = ctx.random.randn(*images.shape[1:])[:rows].to(images.device)
        penalty, self.pl_mean, lengths = path_length_terms(
            images, ws, self.pl_mean.to(images.device), directions, self.stylegan.pl_decay, ctx.world.all_reduce_mean
        )
        stats = {"pl_penalty": penalty, "pl_mean": self.pl_mean, "path_length": lengths.mean()}
        return self.stylegan.pl_weight * penalty, stats

    def state_dict(self) -> dict[str, Any]:
        """The running mean of path lengths (the ``a`` of eq. 4)."""
        return {"pl_mean": self.pl_mean.detach().cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pl_mean = torch.as_tensor(state["pl_mean"]).clone()
