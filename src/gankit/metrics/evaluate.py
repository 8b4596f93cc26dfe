"""One evaluation: features of two image sets (cached by content hash), then the requested metrics with
their uncertainty, in one dict that records every setting that changes a number.

Metrics: ``fid`` (Heusel et al. 2017) with a bootstrap interval and FID_infinity (Chong & Forsyth
2020), ``kid`` (Binkowski et al. 2018) with a 95% interval from the subset spread, ``is`` (Salimans et
al. 2016) on the fake set's logits, ``pr`` (Kynkaanniemi et al. 2019, k = 3).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.data.named import gankit_home
from gankit.errors import GankitError
from gankit.metrics.features.extractors import FeatureExtractor, check_images
from gankit.metrics.kid import check_subset_size, kid

METRICS = ("fid", "kid", "is", "pr")


@dataclass
class EvalOptions:
    """Settings of the metrics themselves (the extractor records its own)."""

    metrics: tuple[str, ...] = ("fid", "kid")
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 2020
    is_splits: int = 10
    pr_k: int = 3
    fid_bootstrap: int = 20
    fid_infinity: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise GankitError(f"unknown metric '{(unknown or [''])[0]}'; choose from {', '.join(METRICS)}")


def content_hash(images: torch.Tensor) -> str:
    """SHA-256 of the images' shape and uint8 bytes: the cache key of their features."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class FeatureSet:
    """Features (N, d), class logits or None, and the SHA-256 of the images they came from."""

    features: torch.Tensor
    logits: torch.Tensor | None
    sha256: str


def cached_features(
    extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 64, progress: bool = False, cache: bool = True
) -> FeatureSet:
    """Features and logits of ``images`` with their content hash; read from / written to
    ``$GANKIT_HOME/features/<content>-<settings>.safetensors`` unless ``cache`` is False."""
    images = check_images(images)
    digest = content_hash(images)
    if not cache:
        return FeatureSet(*extractor(images, batch_size=batch_size, progress=progress), digest)
    settings = hashlib.sha256(json.dumps(extractor.settings(), sort_keys=True).encode()).hexdigest()[:16]
    path = gankit_home() / "features" / f"{digest[:32]}-{settings}.safetensors"
    if path.is_file():
        try:
            stored = load_file(path)
            return FeatureSet(stored["features"], stored.get("logits"), digest)
        except Exception:
            warnings.warn(f"ignoring unreadable feature cache {path}; recomputing", stacklevel=2)
    features, logits = extractor(images, batch_size=batch_size, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tensors = {"features": features.contiguous()} | ({"logits": logits.contiguous()} if logits is not None else {})
    save_file(tensors, str(partial))
    os.replace(partial, path)
    return FeatureSet(features, logits, digest)


def check_request(extractor: FeatureExtractor, options: EvalOptions, n_real: int, n_fake: int) -> None:
    """Fail before any feature is computed if the metrics cannot be computed from these inputs."""
    if "is" in options.metrics:
        extractor.require_logits()
    if "kid" in options.metrics:
        check_subset_size(n_real, n_fake, options.kid_subset_size)


def compute_metrics(
    real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor | None, options: EvalOptions
) -> dict[str, float]:
    """The requested metrics between (N, d) real and fake features, with intervals."""
    from gankit.metrics.fid import frechet_distance, statistics
    from gankit.metrics.inception_score import inception_score
    from gankit.metrics.precision_recall import precision_recall
    from gankit.metrics.uncertainty import fid_bootstrap, fid_infinity

    out: dict[str, float] = {}
    if "fid" in options.metrics:
        out["fid"] = frechet_distance(*statistics(real), *statistics(fake))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the rank warning was given once above
            if options.fid_bootstrap:
                low, high = fid_bootstrap(real, fake, options.fid_bootstrap, seed=options.seed)
                out["fid_ci_low"], out["fid_ci_high"] = low, high
            if options.fid_infinity:
                out.update(fid_infinity(real, fake, seed=options.seed))
    if "kid" in options.metrics:
        out.update(kid(real, fake, options.kid_subsets, options.kid_subset_size, options.kid_seed))
    if "is" in options.metrics:
        if fake_logits is None:
            raise GankitError("the Inception Score needs class logits: use inception weights with the fc layer")
        out.update(inception_score(fake_logits, options.is_splits, options.kid_seed))
    if "pr" in options.metrics:
        out.update(precision_recall(real, fake, options.pr_k))
    return out


def evaluate_features(
    extractor: FeatureExtractor, real: FeatureSet, fake: FeatureSet, options: EvalOptions
) -> dict[str, Any]:
    """The metrics of two feature sets, with sizes, image hashes and under ``settings`` every setting that
    changes the numbers."""
    numbers = compute_metrics(real.features, fake.features, fake.logits, options)
    return {
        **numbers,
        "n_real": len(real.features),
        "n_fake": len(fake.features),
        "real_sha256": real.sha256,
        "fake_sha256": fake.sha256,
        "settings": {**extractor.settings(), **asdict(options), "gankit_version": __version__},
    }


def evaluate(
    extractor: FeatureExtractor,
    real: torch.Tensor,
    fake: torch.Tensor,
    options: EvalOptions,
    batch_size: int = 64,
    progress: bool = False,
    cache: bool = True,
) -> dict[str, Any]:
    """Metrics between two uint8 image sets (see :func:`evaluate_features`); features cached by content."""
    check_request(extractor, options, len(real), len(fake))
    real_set = cached_features(extractor, real, batch_size, progress, cache)
    fake_set = cached_features(extractor, fake, batch_size, progress, cache)
    return evaluate_features(extractor, real_set, fake_set, options)


def result_lines(result: dict[str, Any]) -> list[str]:
    """The headline numbers of an evaluation, one metric per line, as the command line prints them."""
    lines = []
    if "fid" in result:
        line = f"FID {result['fid']:.4f}"
        if "fid_ci_low" in result:
            line += f"  95% bootstrap [{result['fid_ci_low']:.4f}, {result['fid_ci_high']:.4f}]"
        if "fid_infinity" in result:
            line += f"  FID_inf {result['fid_infinity']:.4f}"
        lines.append(line)
    if "kid_mean" in result:
        settings = result["settings"]
        lines.append(
            f"KID {result['kid_mean']:.6f} +- {result['kid_std']:.6f} (std over {settings['kid_subsets']} subsets "
            f"of {settings['kid_subset_size']})  95% CI [{result['kid_ci_low']:.6f}, {result['kid_ci_high']:.6f}]"
        )
    if "is_mean" in result:
        lines.append(f"IS {result['is_mean']:.4f} +- {result['is_std']:.4f}")
    if "precision" in result:
        lines.append(f"precision {result['precision']:.4f}  recall {result['recall']:.4f}")
    return lines
