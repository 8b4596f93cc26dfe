"""Classic density models for comparison with the GAN family: Gaussian, probabilistic PCA, Gaussian mixture.

Every baseline fits uint8 images or float vectors, samples images in [-1, 1] like a gankit generator,
scores log-likelihood (nats) and bits/dim, imputes hidden pixels, and saves to one ``.safetensors`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.baselines.base import DensityBaseline, Imputation, read_baseline_file
from gankit.baselines.gaussian import Gaussian
from gankit.baselines.gmm import GaussianMixture
from gankit.baselines.ppca import PPCA
from gankit.errors import GankitError

BASELINES: dict[str, type[DensityBaseline]] = {"gaussian": Gaussian, "ppca": PPCA, "gmm": GaussianMixture}


def build_baseline(name: str, **options: Any) -> DensityBaseline:
    """An unfitted baseline by name: ``gaussian(ridge)``, ``ppca(components, ridge)``,
    ``gmm(components, ridge, seed, max_iter)``."""
    if name not in BASELINES:
        raise GankitError(f"unknown baseline '{name}'; valid baselines: {', '.join(BASELINES)}")
    try:
        return BASELINES[name](**options)
    except TypeError as exc:
        raise GankitError(f"baseline {name}: {exc}; see gankit.baselines.build_baseline for its options") from exc


def load_baseline(path: str | Path) -> DensityBaseline:
    """A fitted baseline read from its ``.safetensors`` file (tensors and a JSON header; no code runs)."""
    record, tensors = read_baseline_file(path)
    kind = record.get("kind")
    if kind not in BASELINES:
        raise GankitError(f"{path}: unknown baseline kind {kind!r}; valid kinds: {', '.join(BASELINES)}")
    try:
        return BASELINES[kind].from_record(record, tensors)
    except (KeyError, TypeError) as exc:
        raise GankitError(f"{path}: the {kind} baseline file lacks {exc}; fit it again") from exc


__all__ = [
    "BASELINES",
    "PPCA",
    "DensityBaseline",
    "Gaussian",
    "GaussianMixture",
    "Imputation",
    "build_baseline",
    "load_baseline",
]
