"""Regularisers of the discriminator / critic: gradient penalties, weight clipping, instance noise.

- WGAN weight clipping (Arjovsky, Chintala & Bottou, ICML 2017, Algorithm 1): after every critic
  step, each weight is clamped to [-c, c].
- WGAN-GP (Gulrajani et al., NeurIPS 2017, eq. 3): lambda * E[(||grad D(x_hat)|| - 1)^2] on
  x_hat = eps x + (1 - eps) x_fake, eps ~ U[0, 1] per sample; the one-sided variant penalises only
  norms above 1 (their Appendix; Petzka et al., ICLR 2018).
- R1 / R2 (Roth et al., NeurIPS 2017; Mescheder, Geiger & Nowozin, ICML 2018, eq. 9 and 10):
  (gamma / 2) E||grad D(x)||^2 on real (R1) or generated (R2) data; optionally lazy (Karras et al.,
  CVPR 2020, "StyleGAN2", Sec. 3.1): applied every k D steps and multiplied by k.
- Instance noise (Sonderby et al., ICLR 2017; Arjovsky & Bottou, ICLR 2017, Sec. 3.1): N(0, sigma_t^2)
  added to every input of D, real and generated, with sigma_t annealed linearly to 0.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.base import adversarial_logits


def input_gradient(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """grad_x sum D(x): per-sample input gradients of the adversarial logit (column 0 of an AC-GAN
    discriminator's output), kept in the graph so a penalty can be back-propagated."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(adversarial_logits(D(x, y)).sum(), x, create_graph=True)
    return grad.flatten(1)


def interpolate(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """x_hat = eps x + (1 - eps) x_fake with eps ~ U[0, 1] per sample (Gulrajani et al. 2017, Alg. 1, line 6).

    ``eps`` of shape (N, 1, ..., 1); training passes the draws of its own generator, and only a standalone call
    without ``eps`` draws from torch's global generator."""
    if eps is None:
        eps = torch.rand((len(real),) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(
    D: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    y: torch.Tensor | None = None,
    one_sided: bool = False,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] at random interpolates (Gulrajani et al. 2017, eq. 3), without lambda.

    ``one_sided`` uses max(0, ||grad|| - 1)^2; ``eps`` as in :func:`interpolate`.
    """
    x_hat = interpolate(real, fake, eps)
    excess = input_gradient(D, x_hat, y).norm(2, dim=1) - 1
    if one_sided:
        excess = excess.clamp(min=0)
    return excess.pow(2).mean()


def zero_centered_penalty(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """E||grad_x D(x)||^2: R1 on real data, R2 on generated data (Mescheder et al. 2018, eq. 9), without gamma/2."""
    return input_gradient(D, x, y).pow(2).sum(1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` to [-c, c] (WGAN, Arjovsky et al. 2017, Algorithm 1, line 7)."""
    for p in module.parameters():
        p.clamp_(-c, c)


def instance_noise_std(std: float, anneal_steps: int, step: int) -> float:
    """sigma_t = std * max(0, 1 - step / anneal_steps); constant ``std`` when ``anneal_steps`` is 0."""
    if anneal_steps <= 0:
        return std
    return std * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(x: torch.Tensor, std: float, noise: torch.Tensor | None = None) -> torch.Tensor:
    """x + std * noise with noise ~ N(0, I) (Sonderby et al. 2017); ``x`` itself when ``std`` is 0.

    Training passes ``noise`` from its own generator; without it the noise comes from torch's global one."""
    if std <= 0:
        return x
    return x + std * (torch.randn_like(x) if noise is None else noise)
