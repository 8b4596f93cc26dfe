"""Adversarial losses over discriminator logits, in numerically stable softplus form.

With D(x) = sigmoid(l(x)): -log D(x) = softplus(-l) and -log(1 - D(x)) = softplus(l), so no
probability is ever formed and no log(0) can occur (Goodfellow et al., NeurIPS 2014, eq. 1).

- ``minimax``: D minimises -E log D(x) - E log(1 - D(G(z))); G minimises E log(1 - D(G(z)))
  (the saturating generator loss of eq. 1).
- ``ns``: the same D loss; G minimises -E log D(G(z)) (the non-saturating heuristic of Section 3).
- ``hinge``: D minimises E max(0, 1 - l(x)) + E max(0, 1 + l(G(z))); G minimises -E l(G(z))
  (Lim & Ye 2017; Miyato et al., ICLR 2018, eq. 17; Brock et al., ICLR 2019).
- ``wasserstein``: the critic f minimises E f(G(z)) - E f(x) and G minimises -E f(G(z)) (Arjovsky,
  Chintala & Bottou, ICML 2017); f must be kept 1-Lipschitz by clipping, a gradient penalty or
  spectral normalisation (see :mod:`gankit.objectives.penalties`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def logistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E log sigmoid(l_real) - E log(1 - sigmoid(l_fake)) (Goodfellow et al. 2014, eq. 1, D's side)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """E log(1 - sigmoid(l_fake)) = -E softplus(l_fake): the saturating loss (Goodfellow et al. 2014, eq. 1)."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E log sigmoid(l_fake) = E softplus(-l_fake): the non-saturating loss (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-fake_logits).mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E relu(1 - l_real) + E relu(1 + l_fake) (Lim & Ye 2017; Miyato et al. 2018, eq. 17)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E l_fake: the generator side of the hinge loss (Miyato et al. 2018, eq. 17)."""
    return -fake_logits.mean()


def wasserstein_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E f(G(z)) - E f(x): the critic maximises the Kantorovich-Rubinstein dual (Arjovsky et al. 2017, eq. 3)."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E f(G(z)): the generator side of the WGAN objective (Arjovsky et al. 2017, Algorithm 1, line 10)."""
    return -fake_logits.mean()
