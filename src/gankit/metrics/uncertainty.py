"""How sure is an FID? A bootstrap interval, and FID extrapolated to infinitely many samples.

- Bootstrap (Efron 1979): resample both feature sets with replacement and recompute FID. A resample
  holds only ~63% distinct points, which inflates FID's own finite-sample bias, so the plain percentile
  interval sits above the estimate (it need not even contain it). The interval reported is the
  resamples' percentile spread re-centred on the estimate, FID + (q - mean of the resamples): an
  interval for the expected FID at this sample size, i.e. how much the number moves between draws.
- FID_infinity (Chong & Forsyth, CVPR 2020, "Effectively unbiased FID and Inception Score", Sec. 3):
  FID computed from N generated samples has a bias that is, to first order, linear in 1/N; compute FID
  on random subsets of several sizes against the full reference statistics, fit FID_N = FID_inf + s / N
  by least squares and report the intercept, so models evaluated with different N can be compared.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.fid import frechet_distance, statistics


def fid_bootstrap(
    features1: torch.Tensor, features2: torch.Tensor, resamples: int = 50, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the FID at ``level``: the resamples' percentiles re-centred on the estimate."""
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(resamples):
        i1 = torch.randint(len(features1), (len(features1),), generator=generator)
        i2 = torch.randint(len(features2), (len(features2),), generator=generator)
        values.append(frechet_distance(*statistics(features1[i1]), *statistics(features2[i2])))
    estimate = frechet_distance(*statistics(features1), *statistics(features2))
    shift = estimate - float(np.mean(values))
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)) + shift, float(np.percentile(values, 100 - tail)) + shift


def fid_infinity(
    reference: torch.Tensor, generated: torch.Tensor, points: int = 15, min_n: int | None = None, seed: int = 0
) -> dict[str, float]:
    """``fid_infinity`` (intercept) and ``fid_slope`` of FID_N = FID_inf + slope / N over ``points`` sizes
    N from ``min_n`` (default N_max / 5) to all of ``generated`` (Chong & Forsyth 2020)."""
    n_max = len(generated)
    min_n = min_n or max(2, n_max // 5)
    if points < 2 or min_n >= n_max:
        raise GankitError(f"FID_infinity needs at least 2 sizes between {min_n} and {n_max} generated samples")
    mu_ref, sigma_ref = statistics(reference)
    generator = torch.Generator().manual_seed(seed)
    sizes = np.linspace(min_n, n_max, points).astype(int)
    values = []
    for n in sizes:
        subset = generated[torch.randperm(n_max, generator=generator)[:n]]
        values.append(frechet_distance(mu_ref, sigma_ref, *statistics(subset)))
    slope, intercept = np.polyfit(1.0 / sizes, np.asarray(values), 1)
    return {"fid_infinity": float(intercept), "fid_slope": float(slope)}
