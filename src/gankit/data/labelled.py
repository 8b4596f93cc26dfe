"""The labelled subset of a semi-supervised experiment: a few labelled examples of every class.

Shared by the K+1-class GAN's objective (:mod:`gankit.objectives.semisupervised_gan`) and the supervised-only
baseline (:mod:`gankit.uses.semisupervised`), so that for one seed both see exactly the same labelled images.
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def labelled_subset(labels: torch.Tensor, per_class: int = 10, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, chosen uniformly with ``seed`` (Salimans et al. 2016,
    Sec. 6.1: 20, 50, 100 or 200 labels in all; their code takes the first ``count`` of each class after a seeded
    permutation, as here). Sorted by class."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.dtype != torch.long or len(labels) == 0:
        what = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise GankitError(f"labels must be a non-empty 1-D int64 tensor; got {what}")
    if per_class < 1:
        raise GankitError(f"per_class must be >= 1; got {per_class}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = order[labels[order] == c]
        if len(members) < per_class:
            raise GankitError(f"class {c} has {len(members)} examples, fewer than per_class={per_class}")
        chosen.append(members[:per_class])
    return torch.cat(chosen)
