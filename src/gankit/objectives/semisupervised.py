"""The K+1-class semi-supervised GAN losses and feature matching (Salimans et al., NeurIPS 2016, "Improved
techniques for training GANs", Sec. 3.1 and Sec. 5).

The discriminator is a K-class classifier with logits l_1..l_K; the (K+1)-th, "generated", class has its
logit fixed at 0, which loses nothing because softmax is invariant to a shift of all K+1 logits (Sec. 5).
With Z(x) = sum_k exp(l_k(x)), the probability that x is real is D(x) = Z(x) / (Z(x) + 1), so with
LSE = logsumexp(l): log D(x) = LSE - softplus(LSE) and log(1 - D(x)) = -softplus(LSE). Every loss below
is computed from these forms, so no probability is formed and large logits stay finite.

- supervised: -E_{x,y labelled} log p(y | x, y < K+1) = the K-class cross-entropy;
- unsupervised: -E_{x unlabelled} log D(x) - E_z log(1 - D(G(z)));
- feature matching (Sec. 3.1): G minimises ||E_x f(x) - E_z f(G(z))||_2^2 over an intermediate layer f of D
  (the paper's squared norm; the authors' code takes the mean over features instead of the sum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.errors import GankitError


def _check_logits(logits: torch.Tensor, name: str) -> None:
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise GankitError(
            f"{name}: the K+1-class losses need (N, K) logits with K >= 2 classes; got shape {tuple(logits.shape)}"
        )


def log_real_probability(logits: torch.Tensor) -> torch.Tensor:
    """log D(x) = LSE - softplus(LSE), LSE = logsumexp of the K logits (D = Z / (Z + 1), Salimans et al. Sec. 5)."""
    lse = torch.logsumexp(logits, dim=1)
    return lse - F.softplus(lse)


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-E log p(y | x, y < K+1): cross-entropy over the K real classes (Salimans et al. 2016, Sec. 5, L_supervised)."""
    _check_logits(logits, "supervised loss")
    if labels.shape != logits.shape[:1] or labels.dtype != torch.long:
        raise GankitError(f"labels must be int64 of shape ({len(logits)},); got {labels.dtype} {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise GankitError(f"labels must lie in 0..{logits.shape[1] - 1}; got {int(labels.min())}..{int(labels.max())}")
    return F.cross_entropy(logits, labels)


def unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E log D(x) - E log(1 - D(G(z))) with D = Z / (Z + 1) (Salimans et al. 2016, Sec. 5, L_unsupervised):
    E[softplus(LSE_real) - LSE_real] + E[softplus(LSE_fake)]."""
    _check_logits(real_logits, "unsupervised loss (real)")
    _check_logits(fake_logits, "unsupervised loss (generated)")
    return -log_real_probability(real_logits).mean() + F.softplus(torch.logsumexp(fake_logits, dim=1)).mean()


def discriminator_loss(
    labelled_logits: torch.Tensor,
    labels: torch.Tensor,
    unlabelled_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    unsupervised_weight: float = 1.0,
) -> torch.Tensor:
    """L_supervised + weight * L_unsupervised, the discriminator/classifier objective (Salimans et al. 2016,
    Sec. 5, L = L_supervised + L_unsupervised; their code scales L_unsupervised by 1/2)."""
    return supervised_loss(labelled_logits, labels) + unsupervised_weight * unsupervised_loss(
        unlabelled_logits, fake_logits
    )


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E f(x) - E f(G(z))||_2^2 over batch means of (N, ...) features (Salimans et al. 2016, Sec. 3.1).
    The generator's loss; pass the real features detached so that only G receives gradients."""
    if real_features.shape[1:] != fake_features.shape[1:] or real_features.ndim < 2:
        raise GankitError(
            f"feature matching needs (N, ...) features of one shape; got {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    difference = real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)
    return difference.pow(2).sum()


def predict(logits: torch.Tensor) -> torch.Tensor:
    """The predicted class: argmax over the K real classes (the generated class is left out of test error)."""
    _check_logits(logits, "predict")
    return logits.argmax(1)
