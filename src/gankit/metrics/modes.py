"""Mode coverage of samples from a known Gaussian mixture, as VEEGAN and PacGAN measure it.

Srivastava et al. (NeurIPS 2017, VEEGAN, Sec. 5.1) and Lin et al. (NeurIPS 2018, PacGAN, Sec. 5) assign
every sample to its nearest mode centre and call it high quality when it lies within three standard
deviations of that centre; a mode is covered when it receives at least ``min_count`` high-quality
samples (PacGAN: 20 of 2,500 on the 25-mode grid), and the reverse KL divergence compares the
histogram of high-quality samples over modes with the uniform distribution of the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class ModeCoverage:
    """The three numbers of the VEEGAN/PacGAN tables, plus the per-mode histogram."""

    modes: int
    modes_covered: int
    high_quality: float
    reverse_kl: float
    counts: tuple[int, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def mode_coverage(
    samples: torch.Tensor, centers: torch.Tensor, std: float, min_count: int = 20, n_std: float = 3.0
) -> ModeCoverage:
    """Modes covered, fraction of high-quality samples and KL(p_modes || uniform) (VEEGAN/PacGAN protocol).

    ``reverse_kl`` = sum_k p_k log(p_k K) over the K modes, where p_k is the share of high-quality
    samples on mode k; it is 0 for a perfectly balanced cover and log K when every sample sits on one
    mode. With no high-quality sample at all it is reported as ``inf``.
    """
    samples = samples.detach().double().cpu()
    centers = centers.double().cpu()
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    good = distance <= n_std * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    total = int(counts.sum())
    if total == 0:
        reverse_kl = float("inf")
    else:
        p = counts[counts > 0].double() / total
        reverse_kl = float((p * (p * len(centers)).log()).sum())
    return ModeCoverage(
        modes=len(centers),
        modes_covered=int((counts >= min_count).sum()),
        high_quality=float(good.double().mean()),
        reverse_kl=reverse_kl,
        counts=tuple(int(c) for c in counts),
    )
