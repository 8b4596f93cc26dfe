"""Improved precision and recall (Kynkaanniemi et al., NeurIPS 2019, Sec. 2, eq. 1-3).

Each real feature vector phi_r gets the radius of its k-th nearest real neighbour (k = 3); the real
manifold is the union of those balls. Precision is the fraction of generated samples inside the real
manifold; recall is the fraction of real samples inside the generated manifold, built the same way.
Distances are computed in row blocks, so memory is O(block x N).
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def knn_radii(features: torch.Tensor, k: int = 3, block: int = 1024) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    if len(features) <= k:
        raise GankitError(f"precision/recall with k={k} needs more than {k} samples per set, got {len(features)}")
    radii = []
    for start in range(0, len(features), block):
        d = torch.cdist(features[start : start + block], features)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the point itself (distance 0)
    return torch.cat(radii)


def inside_fraction(queries: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor, block: int = 1024) -> float:
    """Fraction of ``queries`` within distance radii[i] of some centers[i]."""
    hits = 0
    for start in range(0, len(queries), block):
        d = torch.cdist(queries[start : start + block], centers)
        hits += int((d <= radii[None, :]).any(dim=1).sum())
    return hits / len(queries)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """``precision`` and ``recall`` of ``fake`` against ``real`` features (Kynkaanniemi et al. 2019)."""
    real, fake = real.double(), fake.double()
    return {
        "precision": inside_fraction(fake, real, knn_radii(real, k)),
        "recall": inside_fraction(real, fake, knn_radii(fake, k)),
    }
