"""Truncated normal latents for BigGAN's truncation trick (Brock et al., ICLR 2019, Sec. 3.1).

"Truncation trick": sample z from N(0, I) but resample every value whose magnitude exceeds a
threshold, so each coordinate follows the standard normal truncated to [-threshold, threshold]; a
lower threshold trades variety for fidelity. Resampling (not clipping) keeps the density of the
truncated normal: clipping would pile mass up at +-threshold.
"""

from __future__ import annotations

import math

import torch

from gankit.errors import GankitError

MIN_THRESHOLD = 1e-3


def truncated_normal(
    size: tuple[int, ...] | torch.Size,
    threshold: float | None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal values of shape ``size`` with every |value| > ``threshold`` redrawn until none is left
    (Brock et al. 2019, Sec. 3.1). ``threshold`` None or infinite gives the plain N(0, 1).

    Draws come from ``generator`` (on its device), so a seeded generator gives the same latents.
    """
    device = generator.device if generator is not None else None
    z = torch.randn(size, generator=generator, device=device, dtype=dtype)
    if threshold is None or math.isinf(threshold):
        return z
    if not threshold >= MIN_THRESHOLD:  # also catches NaN
        raise GankitError(
            f"truncation threshold must be at least {MIN_THRESHOLD} (or None for no truncation), got {threshold}"
        )
    outside = z.abs() > threshold
    while bool(outside.any()):
        count = int(outside.sum())
        z[outside] = z.new_empty(count).normal_(generator=generator)  # on z's device, in z's dtype
        outside = z.abs() > threshold
    return z
