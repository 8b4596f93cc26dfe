"""The truncation trade-off of any gankit generator: samples at a truncation value, and FID, precision and recall
against that value.

Two truncation tricks, one curve:

- style generators (StyleGAN, Karras et al. CVPR 2019, Sec. 3.3 / Appendix B): w' = w_avg + psi (w - w_avg);
  psi = 1 is the untruncated generator, psi = 0 gives the image of w_avg for every z;
- every other generator (BigGAN, Brock et al. ICLR 2019, Sec. 3.1): z drawn from the standard normal truncated
  at a threshold (values beyond it redrawn, :func:`gankit.nn.truncation.truncated_normal`); None (infinite) is
  the untruncated generator, small thresholds the most typical samples.

At each value the samples are scored against real images by the existing metrics
(:func:`gankit.metrics.evaluate.evaluate`: FID, Heusel et al. 2017; improved precision and recall,
Kynkaanniemi et al. 2019): fidelity (precision) rises and variety (recall) falls as truncation grows (StyleGAN2,
Karras et al. 2020, Fig. 1 / BigGAN Fig. 17 plot FID or precision against recall the same way).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from gankit import defaults
from gankit.errors import GankitError
from gankit.imaging import to_uint8
from gankit.metrics.evaluate import EvalOptions, evaluate
from gankit.metrics.features.base import FeatureExtractor
from gankit.models.base import Generator
from gankit.nn.truncation import MIN_THRESHOLD
from gankit.sampling import draw_labels, generate
from gankit.uses.structure import is_style_generator

PSI_VALUES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)
THRESHOLD_VALUES = (math.inf, 2.0, 1.5, 1.0, 0.75, 0.5, 0.25)
ROW_PSI = (1.0, 0.7, 0.5, 0.0)
ROW_THRESHOLD = (math.inf, 1.0, 0.5, 0.04)


def truncation_kind(G: Generator) -> str:
    """ "psi" for style generators (truncation in W), "threshold" for all others (truncated normal z)."""
    return "psi" if is_style_generator(G) else "threshold"


def check_value(G: Generator, value: float) -> float:
    """A truncation value checked for ``G``'s kind: psi outside [0, 1] warns (the mapping network does, as the
    paper allows it only for extrapolation); a threshold must be >= 1e-3 or inf (no truncation)."""
    if truncation_kind(G) == "threshold" and not (math.isinf(value) or value >= MIN_THRESHOLD):
        raise GankitError(f"a truncation threshold must be >= {MIN_THRESHOLD} or inf (no truncation), got {value}")
    if math.isnan(value):
        raise GankitError("truncation value is NaN; give a number")
    return value


@torch.no_grad()
def truncated_samples(
    G: Generator, n: int, value: float, seed: int = 0, batch_size: int = 256, z: torch.Tensor | None = None
) -> torch.Tensor:
    """``n`` float samples (CPU) of ``G`` at truncation ``value`` (psi for style generators, else the threshold of
    the truncated normal; inf: none). The latents come from ``seed`` (or are the given ``z`` for style
    generators), so the same seed gives the same z at every psi; labels of a conditional generator are drawn as
    :func:`gankit.sampling.draw_labels` does."""
    check_value(G, value)
    if truncation_kind(G) == "threshold":
        return generate(G, n, seed, batch_size, truncation=None if math.isinf(value) else value)
    device = next(G.parameters()).device
    labels = draw_labels(G, n, seed)
    if z is None:
        z = G.sample_latent(n, torch.Generator().manual_seed(seed))
    chunks = []
    for i, chunk in enumerate(z.split(batch_size)):
        y = None if labels is None else labels[i * batch_size : i * batch_size + len(chunk)].to(device)
        chunks.append(G(chunk.to(device), y, psi=value).float().cpu())
    return torch.cat(chunks)


def truncation_row(G: Generator, n: int, values: tuple[float, ...], seed: int = 0) -> torch.Tensor:
    """The same ``n`` latents at each truncation value: (n * len(values)) images, one row of ``values`` per latent."""
    columns = [truncated_samples(G, n, v, seed) for v in values]
    return torch.stack(columns, dim=1).flatten(0, 1)


def truncation_curve(
    G: Generator,
    extractor: FeatureExtractor,
    real: torch.Tensor,
    values: tuple[float, ...],
    n: int,
    seed: int = 0,
    batch_size: int = 64,
    pr_k: int = defaults.PR_K,
) -> list[dict[str, Any]]:
    """FID, precision and recall of ``n`` samples at each truncation value against the uint8 ``real`` images, in
    ``extractor``'s features: one row per value with ``value``, ``fid``, ``precision``, ``recall`` and ``n_real``,
    ``n_fake``. Real features are computed once (cached by content)."""
    if n <= pr_k:
        raise GankitError(
            f"a truncation curve needs more than k={pr_k} samples per value for precision/recall; got {n}"
        )
    options = EvalOptions(metrics=("fid", "pr"), fid_bootstrap=0, fid_infinity=False, pr_k=pr_k, seed=seed)
    rows = []
    for value in values:
        fake = to_uint8(truncated_samples(G, n, value, seed))
        result = evaluate(extractor, real, fake, options, batch_size=batch_size)
        rows.append(
            {
                "value": value,
                defaults.FID: result[defaults.FID],
                defaults.PRECISION: result[defaults.PRECISION],
                defaults.RECALL: result[defaults.RECALL],
                defaults.N_REAL: result[defaults.N_REAL],
                defaults.N_FAKE: result[defaults.N_FAKE],
            }
        )
    return rows


def plot_truncation_curve(rows: list[dict[str, Any]], kind: str, path: str | Path, title: str = "") -> Path:
    """FID (left) and precision / recall (right) against the truncation value, written as a PNG."""
    label = "psi" if kind == "psi" else "threshold (inf: none)"
    finite = [r for r in rows if not math.isinf(r["value"])]
    top = max((r["value"] for r in finite), default=1.0)
    xs = [r["value"] if not math.isinf(r["value"]) else top * 1.25 + 0.25 for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(xs, [r[defaults.FID] for r in rows], "o-")
    left.set_xlabel(label)
    left.set_ylabel("FID")
    right.plot(xs, [r[defaults.PRECISION] for r in rows], "o-", label="precision")
    right.plot(xs, [r[defaults.RECALL] for r in rows], "s-", label="recall")
    right.set_xlabel(label)
    right.set_ylim(-0.02, 1.02)
    right.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
