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

from gankit import __version__, defaults
from gankit.defaults import METRICS
from gankit.errors import GankitError
from gankit.metrics.conditional import conditional_report
from gankit.metrics.distributed import sharded_extract
from gankit.metrics.features.extractors import FeatureExtractor, check_images
from gankit.metrics.kid import check_subset_size, kid
from gankit.runtime.distributed import DistributedContext
from gankit.runtime.home import gankit_home


@dataclass
class EvalOptions:
    """Settings of the metrics themselves (the extractor records its own)."""

    metrics: tuple[str, ...] = defaults.EVAL_METRICS
    kid_subsets: int = defaults.KID_SUBSETS
    kid_subset_size: int = defaults.KID_SUBSET_SIZE
    kid_seed: int = defaults.KID_SEED
    is_splits: int = defaults.IS_SPLITS
    is_seed: int = defaults.IS_SEED
    pr_k: int = defaults.PR_K
    fid_bootstrap: int = defaults.FID_BOOTSTRAP
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


def _cache_file(extractor: FeatureExtractor, digest: str):
    settings = hashlib.sha256(json.dumps(extractor.settings(), sort_keys=True).encode()).hexdigest()[:16]
    return gankit_home() / "features" / f"{digest[:32]}-{settings}.safetensors"


def _read_cache(path) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    if not path.is_file():
        return None
    try:
        stored = load_file(path)
        return stored["features"], stored.get("logits")
    except Exception:
        warnings.warn(f"ignoring unreadable feature cache {path}; recomputing", stacklevel=3)
        return None


def _write_cache(path, features: torch.Tensor, logits: torch.Tensor | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tensors = {"features": features.contiguous()} | ({"logits": logits.contiguous()} if logits is not None else {})
    save_file(tensors, str(partial))
    os.replace(partial, path)


def cached_features(
    extractor: FeatureExtractor,
    images: torch.Tensor,
    batch_size: int = 64,
    progress: bool = False,
    cache: bool = True,
    context: DistributedContext | None = None,
) -> FeatureSet:
    """Features and logits of ``images`` with their content hash; read from / written to
    ``$GANKIT_HOME/features/<content>-<settings>.safetensors`` unless ``cache`` is False.

    Several processes (``context``, every one holding all of ``images``): rank 0 alone reads and writes the
    cache; on a miss each process embeds its share and the features are gathered
    (:func:`gankit.metrics.distributed.sharded_extract`)."""
    images = check_images(images)
    digest = content_hash(images)
    path = _cache_file(extractor, digest) if cache else None
    if context is not None and context.distributed:
        stored = context.run_on_main(lambda: _read_cache(path) if path is not None else None)
        if stored is not None:
            return FeatureSet(*stored, digest)
        features, logits = sharded_extract(extractor, images, context, batch_size, progress)
        if path is not None:
            context.run_on_main(lambda: _write_cache(path, features, logits))
        return FeatureSet(features, logits, digest)
    stored = _read_cache(path) if path is not None else None
    if stored is not None:
        return FeatureSet(*stored, digest)
    features, logits = extractor(images, batch_size=batch_size, progress=progress)
    if path is not None:
        _write_cache(path, features, logits)
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
        out[defaults.FID] = frechet_distance(*statistics(real), *statistics(fake))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the rank warning was given once above
            if options.fid_bootstrap:
                low, high = fid_bootstrap(real, fake, options.fid_bootstrap, seed=options.seed)
                out[defaults.FID_CI_LOW], out[defaults.FID_CI_HIGH] = low, high
            if options.fid_infinity:
                out.update(fid_infinity(real, fake, seed=options.seed))
    if "kid" in options.metrics:
        out.update(kid(real, fake, options.kid_subsets, options.kid_subset_size, options.kid_seed))
    if "is" in options.metrics:
        if fake_logits is None:
            raise GankitError("the Inception Score needs class logits: use inception weights with the fc layer")
        out.update(inception_score(fake_logits, options.is_splits, options.is_seed))
    if "pr" in options.metrics:
        out.update(precision_recall(real, fake, options.pr_k))
    return out


@dataclass
class Classes:
    """Class labels for the class-conditional metrics: ``real`` for the real images (None if unlabelled),
    ``fake`` for the classes the samples were drawn for (None: the classifier's predictions stand in), and
    which of those metrics to compute (None: the evaluation's own ``metrics``)."""

    num_classes: int
    real: torch.Tensor | None
    fake: torch.Tensor | None
    metrics: tuple[str, ...] | None = None


def evaluate_features(
    extractor: FeatureExtractor,
    real: FeatureSet,
    fake: FeatureSet,
    options: EvalOptions,
    classes: Classes | None = None,
) -> dict[str, Any]:
    """The metrics of two feature sets, with sizes, image hashes and under ``settings`` every setting that
    changes the numbers; with ``classes``, also the class-conditional numbers of
    :func:`gankit.metrics.conditional.conditional_report`."""
    numbers = compute_metrics(real.features, fake.features, fake.logits, options)
    if classes is not None and classes.num_classes:
        metrics = options.metrics if classes.metrics is None else classes.metrics
        numbers.update(
            conditional_report(
                real.features, classes.real, fake.features, fake.logits, classes.fake, classes.num_classes, metrics
            )
        )
    return {
        **numbers,
        defaults.N_REAL: len(real.features),
        defaults.N_FAKE: len(fake.features),
        "real_sha256": real.sha256,
        "fake_sha256": fake.sha256,
        defaults.SETTINGS: {**extractor.settings(), **asdict(options), "gankit_version": __version__},
    }


def evaluate(
    extractor: FeatureExtractor,
    real: torch.Tensor,
    fake: torch.Tensor,
    options: EvalOptions,
    batch_size: int = 64,
    progress: bool = False,
    cache: bool = True,
    context: DistributedContext | None = None,
    classes: Classes | None = None,
) -> dict[str, Any]:
    """Metrics between two uint8 image sets (see :func:`evaluate_features`, also for ``classes``); features
    cached by content. With several processes (``context``) the features are extracted in shares and the metrics
    computed by rank 0, the result returned on every process."""
    check_request(extractor, options, len(real), len(fake))
    real_set = cached_features(extractor, real, batch_size, progress, cache, context)
    fake_set = cached_features(extractor, fake, batch_size, progress, cache, context)
    if context is None:
        return evaluate_features(extractor, real_set, fake_set, options, classes)
    return context.run_on_main(lambda: evaluate_features(extractor, real_set, fake_set, options, classes))


def result_lines(result: dict[str, Any]) -> list[str]:
    """The headline numbers of an evaluation, one metric per line, as the command line prints them."""
    d = defaults
    lines = []
    if d.FID in result:
        line = f"FID {result[d.FID]:.4f}"
        if d.FID_CI_LOW in result:
            line += f"  95% bootstrap [{result[d.FID_CI_LOW]:.4f}, {result[d.FID_CI_HIGH]:.4f}]"
        if d.FID_INFINITY in result:
            line += f"  FID_inf {result[d.FID_INFINITY]:.4f}"
        lines.append(line)
    if d.KID_MEAN in result:
        settings = result[d.SETTINGS]
        lines.append(
            f"KID {result[d.KID_MEAN]:.6f} +- {result[d.KID_STD]:.6f} (std over {settings['kid_subsets']} subsets "
            f"of {settings['kid_subset_size']})  95% CI [{result[d.KID_CI_LOW]:.6f}, {result[d.KID_CI_HIGH]:.6f}]"
        )
    if d.IS_MEAN in result:
        lines.append(f"IS {result[d.IS_MEAN]:.4f} +- {result[d.IS_STD]:.4f}")
    if d.PRECISION in result:
        lines.append(f"precision {result[d.PRECISION]:.4f}  recall {result[d.RECALL]:.4f}")
    if d.SAMPLE_ACCURACY in result:
        lines.append(f"sample accuracy {result[d.SAMPLE_ACCURACY]:.4f} (the classifier's label = the asked class)")
    if d.INTRA_FID in result:
        lines.append(f"intra-FID {result[d.INTRA_FID]:.4f} (mean over classes)")
    if "per_class_kid_mean" in result:
        low, high = result["per_class_kid_ci"]
        kid_line = f"per-class KID {result['per_class_kid_mean']:.6f}  95% CI [{low:.6f}, {high:.6f}]"
        lines.append(f"{kid_line} (mean over classes; interval from the subset spread within each class)")
    if "classwise_precision" in result:
        lines.append(
            f"class-wise precision {result['classwise_precision']:.4f}  recall {result['classwise_recall']:.4f} "
            f"(lowest class recall {min(result['per_class_recall']):.4f})"
        )
    if "fake_labels" in result:
        lines.append(f"classes of the samples: {result['fake_labels']}")
    if "per_class_skipped" in result:
        lines.append(f"per-class metrics skipped: {result['per_class_skipped']}")
    return lines
