"""Classic baselines fitted like every other gankit model: one command, one run directory, the same sampling and
evaluation (``gankit fit-baseline NAME``).

A run directory of a baseline holds

- ``baseline.safetensors``: the fitted :class:`~gankit.baselines.base.DensityBaseline` (float64 parameters and a
  JSON header; log-likelihood, bits/dim and imputation are computed from it);
- ``generator.safetensors``: the same model as a gankit generator, x = mu_c + A_c u + s_c e
  (:mod:`gankit.models.linear_gaussian`), which ``gankit sample RUN``, ``gankit eval --fake RUN`` and the uses load
  like a trained GAN;
- ``config.yaml``: the baseline, its options and the data section; ``results.json``: bits/dim of the training
  images and of the held-out split (dequantised negative log-likelihood, :mod:`gankit.baselines.base`), sizes and
  the fitting time; ``samples/samples.png``: a grid of samples from latent seed ``seed``.

The fits are closed-form (Gaussian, PPCA) or EM (scikit-learn's GaussianMixture), with no steps, optimisers or
phases, so they do not go through the GAN training loop.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit.baselines import BASELINES, build_baseline, load_baseline
from gankit.baselines.base import DensityBaseline
from gankit.baselines.gaussian import Gaussian
from gankit.baselines.gmm import GaussianMixture
from gankit.baselines.ppca import PPCA
from gankit.config import DataConfig
from gankit.data.arrays import load_arrays
from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.models.linear_gaussian import GENERATOR_FILE, LinearGaussianGenerator
from gankit.sampling import generate

BASELINE_FILE = "baseline.safetensors"
RESULTS_FILE = "results.json"
OPTIONS = {"gaussian": ("ridge",), "ppca": ("components", "ridge"), "gmm": ("components", "ridge", "seed", "max_iter")}


def baseline_options(name: str, **given: Any) -> dict[str, Any]:
    """The constructor options of baseline ``name`` among ``given`` (None values dropped); PPCA and the mixture
    need ``components``."""
    if name not in BASELINES:
        raise GankitError(f"unknown baseline '{name}'; valid baselines: {', '.join(BASELINES)}")
    options = {k: given[k] for k in OPTIONS[name] if given.get(k) is not None}
    if name in ("ppca", "gmm") and "components" not in options:
        raise GankitError(f"baseline {name} needs --components K (ppca: latent dimensions; gmm: mixture components)")
    return options


def as_generator(model: DensityBaseline) -> LinearGaussianGenerator:
    """The fitted baseline as a :class:`LinearGaussianGenerator` (Gaussian: A = Cholesky factor of the covariance;
    PPCA: A = W, s = sigma; mixture: one Cholesky factor per component)."""
    shape = model.require_fitted()
    one = torch.ones(1, dtype=torch.float64)
    if isinstance(model, PPCA):
        parts = one, model.mean[None], model.weight[None], torch.tensor([model.noise_variance]).sqrt()
    elif isinstance(model, Gaussian):
        parts = one, model.mean[None], model.factor()[None], torch.zeros(1)
    elif isinstance(model, GaussianMixture):
        parts = model.weights, model.means, torch.stack(model.factors()), torch.zeros(model.components)
    else:
        raise GankitError(f"no generator form for the {model.kind} baseline")
    source = {"baseline": model.kind, "hyperparameters": model.hyperparameters()}
    return LinearGaussianGenerator(*parts, shape, source)


def fit_run(
    name: str,
    options: dict[str, Any],
    data: DataConfig,
    out: str | Path,
    test: tuple[str, torch.Tensor] | None = None,
    n_samples: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit baseline ``name`` with ``options`` to the images of ``data`` and write the run directory ``out``
    (module text); ``test`` = (description, uint8 images) is scored in bits/dim. Returns the results record."""
    out = Path(out)
    if (out / BASELINE_FILE).exists() or (out / "checkpoints").is_dir():
        raise GankitError(f"{out} already holds a run; pick another --out")
    images, _ = load_arrays(data)
    if test is not None and tuple(test[1].shape[1:]) != tuple(images.shape[1:]):
        raise GankitError(
            f"test images of shape {tuple(test[1].shape[1:])} do not match the training images' "
            f"{tuple(images.shape[1:])}; give a test set at the same size (e.g. mnist-test@{images.shape[-1]})"
        )
    start = time.perf_counter()
    model = build_baseline(name, **options).fit(images)
    seconds = time.perf_counter() - start
    noise = torch.Generator().manual_seed(seed)
    record: dict[str, Any] = {
        "baseline": name,
        "options": options,
        "data": dataclasses.asdict(data),
        "n_train": len(images),
        "shape": list(images.shape[1:]),
        "fit_seconds": seconds,
        "train_bits_per_dim": float(model.bits_per_dim(images, noise).mean()),
    }
    if isinstance(model, GaussianMixture):
        record["converged"] = model.converged
    if test is not None:
        record["test"] = {
            "source": test[0],
            "n": len(test[1]),
            "bits_per_dim": float(model.bits_per_dim(test[1], noise).mean()),
        }
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / BASELINE_FILE)
    generator = as_generator(model)
    generator.save(out / GENERATOR_FILE)
    grid = out / "samples" / "samples.png"
    grid.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid_image(generate(generator, n_samples, seed)), grid)
    record["files"] = {"baseline": BASELINE_FILE, "generator": GENERATOR_FILE, "samples": "samples/samples.png"}
    config = {"baseline": {"name": name, **options}, "data": dataclasses.asdict(data), "seed": seed}
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (out / RESULTS_FILE).write_text(json.dumps(record, indent=2))
    return record


def is_baseline_run(source: str | Path) -> bool:
    """Whether ``source`` is a baseline run directory or a baseline ``.safetensors`` file."""
    source = Path(source)
    return (source / BASELINE_FILE).is_file() if source.is_dir() else source.name.endswith(BASELINE_FILE)


def load_run(source: str | Path) -> DensityBaseline:
    """The fitted baseline of a run directory of ``gankit fit-baseline`` (or its ``baseline.safetensors``)."""
    source = Path(source)
    path = source / BASELINE_FILE if source.is_dir() else source
    if not path.is_file():
        raise GankitError(f"{source} is not a baseline run (no {BASELINE_FILE}); fit one with gankit fit-baseline")
    return load_baseline(path)
