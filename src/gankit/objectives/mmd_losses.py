"""Generators trained on MMD: GMMN, MMD GAN and Scaled MMD GAN.

- GMMN (Li, Swersky & Zemel, ICML 2015; Dziugaite, Roy & Ghahramani, UAI 2015): no discriminator; the
  generator minimises the unbiased MMD^2 between its samples and the data under a fixed kernel
  ("no need for a discriminator: just minimise MMD"), in data space or in the fixed feature space of a
  pretrained network ("MMD loss with a smarter kernel"; ``objective.features=classifier``).
- MMD GAN (Li et al., NeurIPS 2017; Binkowski et al., ICLR 2018): a critic phi gives features, a fixed
  kernel k (a mixture of rational quadratics by default) acts on them, K(x, y) = k(phi(x), phi(y)); the
  critic maximises and the generator minimises MMD_K^2. Binkowski et al.'s gradient penalty keeps the
  witness f(x) = mean_i K(x, x_i) - mean_j K(x, y_j) 1-Lipschitz near the data:
  lambda E[(||grad f(x_hat)|| - 1)^2] at random interpolates x_hat.
- Scaled MMD GAN (Arbel, Sutherland, Binkowski & Gretton, NeurIPS 2018, Sec. 3, eq. 5): both players
  use SMMD^2 = sigma^2 MMD_K^2 with
  sigma^-2 = lambda + E_P[k(phi(x), phi(x))] + E_P[sum_i d_i d_(i+d) K(x, x)],
  and for a radial k the last term is c_k E_P ||J_phi(x)||_F^2, c_k = -2 k'(0) with k = k(||a - b||^2):
  1 / s^2 per Gaussian of bandwidth s, 1 per rational-quadratic component. With spectral normalisation
  of the critic (``model.spectral_norm``) this is their SN-SMMD GAN.

Several processes: the MMD estimator is not a mean over samples, so each process gathers the features of
every process's rows (``ctx.world.gather_rows``, gradients flowing back) and computes the estimate on the
whole global batch, as one process would; the expectation in the SMMD scale is averaged over processes the
same way. With ``train.accumulate`` > 1 each round's estimate covers that round's rows of every process.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.config import MMDConfig, ObjectiveConfig
from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import RadialKernel, make_kernel
from gankit.objectives.base import Batch, Objective, PhaseSpec, StepContext
from gankit.objectives.orthogonal import with_orthogonal_regularization
from gankit.objectives.penalties import input_gradient, interpolate
from gankit.runtime.distributed import DistributedContext


def flat(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, D)."""
    return x.reshape(len(x), -1)


def critic_features(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The critic's output as (N, k) features."""
    return flat(D(x, y))


def jacobian_frobenius_sq(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """E_x ||J_phi(x)||_F^2, one backward pass per critic output (kept in the graph for the critic's update)."""
    x = x.detach().requires_grad_(True)
    features = critic_features(D, x, y)
    total = features.new_zeros(())
    for j in range(features.shape[1]):
        (grad,) = torch.autograd.grad(features[:, j].sum(), x, create_graph=True)
        total = total + grad.pow(2).sum()
    return total / len(x)


class MMDObjective(Objective):
    """``objective.loss`` gmmn, mmdgan or smmd; see the module docstring for each. Phases: ``D`` (the critic,
    ``n_critic`` repeats; none for gmmn) and ``G``."""

    def __init__(
        self, config: ObjectiveConfig, mmd: MMDConfig, features: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> None:
        self.config = config
        self.features = features or flat
        self.name = config.loss
        self.kernel = make_kernel(mmd.kernel, mmd.bandwidths)
        self.scale_lambda = mmd.scale_lambda
        self.uses_discriminator = config.loss != "gmmn"
        if config.loss == "smmd" and not isinstance(self.kernel, RadialKernel):
            raise GankitError("the Scaled MMD needs a radial kernel: mmd.kernel=gaussian or rq")

    def phases(self, n_critic: int) -> list[PhaseSpec]:
        """The critic's phase (``n_critic`` repeats) unless gmmn, then G (on the critic's last real batch)."""
        if not self.uses_discriminator:
            return [PhaseSpec("G", "G")]
        return [PhaseSpec("D", "D", repeats=n_critic), PhaseSpec("G", "G", draws="latents")]

    def scale(
        self, D: nn.Module, real: torch.Tensor, y: torch.Tensor | None, world: DistributedContext | None = None
    ) -> torch.Tensor:
        """sigma^2 of the Scaled MMD (Arbel et al. 2018, eq. 5) on the real batch (of every process)."""
        jacobian = jacobian_frobenius_sq(D, real, y)
        if world is not None:
            jacobian = world.mean_over_processes(jacobian)
        return 1.0 / (self.scale_lambda + self.kernel.diagonal() + self.kernel.curvature() * jacobian)

    def _mmd2(
        self, D, real, fake, y_real, y_fake, world: DistributedContext | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gather = world.gather_rows if world is not None else (lambda x: x)
        if D is None:
            phi_real, phi_fake = gather(self.features(real)), gather(self.features(fake))
            return mmd2(phi_fake, phi_real, self.kernel), phi_real, phi_fake
        phi_real, phi_fake = gather(critic_features(D, real, y_real)), gather(critic_features(D, fake, y_fake))
        return mmd2(phi_real, phi_fake, self.kernel), phi_real, phi_fake

    def loss(
        self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of ``phase`` (D or G) on ``batch``, with its statistics."""
        if phase == "D":
            with torch.no_grad(), ctx.autocast():
                fake = G(batch.z, batch.y_fake).float()
            return self.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake, ctx)
        if phase == "G":
            with ctx.autocast():
                fake = G(batch.z, batch.y_fake).float()
            loss, stats = self.generator_loss(D, fake, batch.real, batch.y_fake, batch.y_real, ctx)
            return with_orthogonal_regularization(loss, stats, G, self.config.ortho)
        raise GankitError(f"the {self.name} objective has no phase '{phase}'")

    def discriminator_loss(
        self, D, real, fake, y_real=None, y_fake=None, ctx: StepContext | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The critic maximises MMD^2 (or SMMD^2), plus the witness gradient penalty when ``objective.gp``."""
        ctx = ctx or StepContext.standalone(len(real))
        estimate, phi_real, phi_fake = self._mmd2(D, real, fake, y_real, y_fake, ctx.world)
        stats = {"mmd2": estimate}
        loss = -estimate
        if self.name == "smmd":
            stats["smmd_scale"] = self.scale(D, real, y_real, ctx.world)
            loss = -estimate * stats["smmd_scale"]
        if self.config.gp > 0:
            eps = ctx.random.rand_per_sample(real)
            stats["gp"] = self.witness_penalty(D, real, fake, phi_real, phi_fake, y_real, eps)
            loss = loss + self.config.gp * stats["gp"]
        stats["loss_d"] = loss
        return loss, stats

    def witness_penalty(self, D, real, fake, phi_real, phi_fake, y=None, eps=None) -> torch.Tensor:
        """E[(||grad_x f(x_hat)|| - 1)^2], f the empirical witness on critic features (Binkowski et al. 2018),
        at interpolates :func:`gankit.objectives.penalties.interpolate` with mixing weights ``eps``."""
        x_hat = interpolate(real, fake, eps)
        n = min(len(phi_real), len(phi_fake))
        kernel = self.kernel

        class Witness(nn.Module):
            def forward(self, x, labels=None):
                phi = critic_features(D, x, labels)
                return kernel(phi, phi_real[:n]).mean(1) - kernel(phi, phi_fake[:n]).mean(1)

        gradient = input_gradient(Witness(), x_hat, y)
        return (gradient.norm(2, dim=1) - 1).pow(2).mean()

    def generator_loss(
        self, D, fake, real=None, y_fake=None, y_real=None, ctx: StepContext | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G minimises MMD^2 (SMMD^2 for smmd: the scale depends on the data only, so it is held fixed)."""
        if real is None:
            raise GankitError(f"objective.loss={self.name} needs the real batch in the generator step")
        world = ctx.world if ctx is not None else None
        estimate, _, _ = self._mmd2(D, real, fake, y_real, y_fake, world)
        loss = estimate * self.scale(D, real, y_real, world).detach() if self.name == "smmd" else estimate
        return loss, {"loss_g": loss, "mmd2_g": estimate}
