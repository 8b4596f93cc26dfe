"""Training objectives: each owns the forward passes of G and D for its phases (see
:mod:`gankit.objectives.base` for the seam with the training loop).

- :class:`AdversarialObjective` (:mod:`gankit.objectives.gan`): minimax, non-saturating, hinge and
  Wasserstein losses with gradient penalty, R1/R2 (optionally lazy), clipping and instance noise.
- :class:`MMDObjective` (:mod:`gankit.objectives.mmd_losses`): GMMN, MMD GAN, Scaled MMD GAN.
- :class:`StyleGANObjective` (:mod:`gankit.objectives.stylegan`): the adversarial objective with style mixing
  and lazy path length regularisation, for ``model.arch=stylegan2``.
- :class:`SemiSupervisedGANObjective` (:mod:`gankit.objectives.semisupervised_gan`): the K+1-class GAN with
  feature matching (Salimans et al. 2016), ``objective.loss=ssgan``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gankit.config import SEMISUPERVISED_LOSS, Config
from gankit.defaults import MMD_LOSSES
from gankit.errors import GankitError
from gankit.objectives.base import Batch, Objective, PhaseSpec, StepContext, StepRandom, lazy_optimizer_scale
from gankit.objectives.gan import ADVERSARIAL_LOSSES, AdversarialObjective
from gankit.objectives.mmd_losses import MMDObjective
from gankit.objectives.semisupervised_gan import SemiSupervisedGANObjective
from gankit.objectives.stylegan import StyleGANObjective

LOSSES = (*ADVERSARIAL_LOSSES, *MMD_LOSSES, SEMISUPERVISED_LOSS)


def build_objective(config: Config, features: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Objective:
    """The objective named by ``objective.loss`` with the regularisers ``config`` switches on; ``features`` is the
    fixed feature map of a GMMN (data space when None)."""
    loss = config.objective.loss
    if loss in MMD_LOSSES:
        return MMDObjective(config.objective, config.mmd, features)
    if loss in ADVERSARIAL_LOSSES:
        if config.model.arch == "stylegan2":
            return StyleGANObjective(config.objective, config.stylegan)
        return AdversarialObjective(config.objective)
    if loss == SEMISUPERVISED_LOSS:
        return SemiSupervisedGANObjective(config)
    raise GankitError(f"unknown objective.loss '{loss}'; valid losses: {', '.join(LOSSES)}")


__all__ = [
    "ADVERSARIAL_LOSSES",
    "LOSSES",
    "AdversarialObjective",
    "Batch",
    "MMDObjective",
    "Objective",
    "PhaseSpec",
    "SemiSupervisedGANObjective",
    "StepContext",
    "StepRandom",
    "StyleGANObjective",
    "build_objective",
    "lazy_optimizer_scale",
]
