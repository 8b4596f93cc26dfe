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


def cached_features(
    extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 64, progress: bool = False, cache: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """Features and logits of ``images`` and their content hash; read from / written to
    ``$GANKIT_HOME/features/<content>-<settings>.safetensors`` unless ``cache`` is False."""
    images = check_images(images)
    digest = content_hash(images)
    settings = hashlib.sha256(json.dumps(extractor.settings(), sort_keys=True).encode()).hexdigest()[:16]
    path = gankit_home() / "features" / f"{digest[:32]}-{settings}.safetensors"
    if cache and path.is_file():
        try:
            stored = load_file(path)
            return stored["features"], stored.get("logits"), digest
        except Exception:
            warnings.warn(f"ignoring unreadable feature cache {path}; recomputing", stacklevel=2)
    features, logits = extractor(images, batch_size=batch_size, progress=progress)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tensors = {"features": features.contiguous()} | ({"logits": logits.contiguous()} if logits is not None else {})
        save_file(tensors, str(partial))
        os.replace(partial, path)
    return features, logits, digest


def compute_metrics(
    real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor | None, options: EvalOptions
) -> dict[str, float]:
    """The requested metrics between (N, d) real and fake features, with intervals."""
    from gankit.metrics.fid import frechet_distance, statistics
    from gankit.metrics.inception_score import inception_score
    from gankit.metrics.kid import kid
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


def evaluate(
    extractor: FeatureExtractor,
    real: torch.Tensor,
    fake: torch.Tensor,
    options: EvalOptions,
    batch_size: int = 64,
    progress: bool = False,
    cache: bool = True,
) -> dict[str, Any]:
    """Metrics between two uint8 image sets, with every setting that changes them under ``settings``."""
    if "is" in options.metrics and hasattr(extractor, "require_logits"):
        extractor.require_logits()
    if "kid" in options.metrics and min(len(real), len(fake)) < options.kid_subset_size:
        raise GankitError(
            f"KID subset size {options.kid_subset_size} is larger than the sample ({len(real)} real, {len(fake)} "
            "fake); lower --kid-subset-size or provide more samples"
        )
    real_features, _, real_hash = cached_features(extractor, real, batch_size, progress, cache)
    fake_features, fake_logits, fake_hash = cached_features(extractor, fake, batch_size, progress, cache)
    numbers = compute_metrics(real_features, fake_features, fake_logits, options)
    return {
        **numbers,
        "n_real": len(real),
        "n_fake": len(fake),
        "real_sha256": real_hash,
        "fake_sha256": fake_hash,
        "settings": {**extractor.settings(), **asdict(options), "gankit_version": __version__},
    }
