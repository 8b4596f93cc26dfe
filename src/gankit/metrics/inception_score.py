"""Inception Score (Salimans et al., NeurIPS 2016, Sec. 4): exp(E_x KL(p(y|x) || p(y))), mean and std
over ``splits`` equal parts of a seeded shuffle of the samples, as torch-fidelity computes it."""

from __future__ import annotations

import numpy as np
import torch

from gankit.errors import GankitError


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 2020, shuffle: bool = True) -> dict[str, float]:
    """``is_mean`` and ``is_std`` from (N, classes) classifier logits."""
    if logits.ndim != 2 or len(logits) < splits:
        raise GankitError(
            f"the Inception Score needs (N, classes) logits with N >= splits ({splits}); got {tuple(logits.shape)}"
        )
    logits = logits.double()
    if shuffle:
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(len(logits)))]
    log_p = torch.log_softmax(logits, dim=1)
    n = len(log_p)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = torch.logsumexp(part, dim=0) - np.log(len(part))
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        scores.append(float(kl.exp()))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores))}
