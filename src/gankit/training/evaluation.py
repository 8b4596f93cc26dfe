"""Metrics during training: every ``eval.every`` steps (and at the last step) the sampler's images are
compared with the training data by :func:`gankit.metrics.evaluate.compute_metrics`.

The real set's features are computed once (and cached by content hash); each evaluation draws
``eval.n`` samples from latent seed ``eval.seed`` (the same latents every time, so curves show the
model changing, not the noise), quantises them to uint8 like the reference code, and measures them.
``eval.features=auto`` picks the data set's own classifier for digits, MNIST and Fashion-MNIST (the
usual choice in that literature) and the FID Inception otherwise. Nothing here touches the global
random state, so evaluating does not change the training trajectory.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit import __version__
from gankit.config import Config
from gankit.data import load_image_dataset
from gankit.errors import GankitError
from gankit.imaging import to_uint8
from gankit.metrics.evaluate import EvalOptions, cached_features, compute_metrics
from gankit.metrics.features.extractors import build_extractor
from gankit.sampling import generate

CLASSIFIER_DATASETS = ("digits", "mnist", "fashion-mnist")
MAX_REAL = 10_000


def resolve_features(spec: str, dataset: str) -> str:
    """``auto`` -> ``classifier:<dataset>`` for the small labelled sets, else ``inception``."""
    if spec != "auto":
        return spec
    return f"classifier:{dataset}" if dataset in CLASSIFIER_DATASETS else "inception"


class PeriodicEvaluation:
    """Holds the extractor and the real features; call it with a generator to measure it."""

    def __init__(self, config: Config, device: torch.device) -> None:
        cfg = config.eval
        dataset, _ = load_image_dataset(config.data)
        images = getattr(dataset, "images", None)
        if images is None:
            count = min(len(dataset), MAX_REAL)
            images = torch.stack([dataset[i] for i in range(count)])
        self.real = images[:MAX_REAL]
        self.features = resolve_features(cfg.features, config.data.name)
        self.extractor = build_extractor(
            self.features, tuple(self.real.shape[1:]), cfg.inception_weights or None, device=device
        )
        self.n = cfg.n or len(self.real)
        subset = min(cfg.kid_subset_size, self.n, len(self.real))
        self.options = EvalOptions(
            metrics=tuple(cfg.metrics), kid_subset_size=subset, fid_bootstrap=cfg.fid_bootstrap, seed=cfg.seed
        )
        if "is" in self.options.metrics and not self.extractor.has_logits:
            raise GankitError(f"eval.metrics has 'is' but {self.extractor.name} features give no class logits")
        self.seed = cfg.seed
        self.real_features, _, self.real_hash = cached_features(self.extractor, self.real)

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module) -> dict[str, Any]:
        """Metrics of ``n`` samples of ``generator`` against the real set, with the settings."""
        fake = to_uint8(generate(generator, self.n, self.seed))
        features, logits = self.extractor(fake)
        numbers = compute_metrics(self.real_features, features, logits, self.options)
        settings = {**self.extractor.settings(), "metrics": list(self.options.metrics), "gankit_version": __version__}
        settings |= {"kid_subsets": self.options.kid_subsets, "kid_subset_size": self.options.kid_subset_size}
        settings |= {"fid_bootstrap": self.options.fid_bootstrap, "latent_seed": self.seed}
        return {
            **numbers,
            "n_real": len(self.real),
            "n_fake": self.n,
            "real_sha256": self.real_hash,
            "settings": settings,
        }


def summary(result: dict[str, Any]) -> str:
    """One line of the headline numbers of an evaluation."""
    parts = []
    if "fid" in result:
        interval = (
            f" (95% bootstrap {result['fid_ci_low']:.3f}..{result['fid_ci_high']:.3f})"
            if "fid_ci_low" in result
            else ""
        )
        parts.append(f"FID {result['fid']:.3f}{interval}")
    if "kid_mean" in result:
        parts.append(f"KID {result['kid_mean']:.5f} +- {result['kid_std']:.5f}")
    if "is_mean" in result:
        parts.append(f"IS {result['is_mean']:.3f}")
    if "precision" in result:
        parts.append(f"precision {result['precision']:.3f} recall {result['recall']:.3f}")
    settings = result["settings"]
    return (
        f"{', '.join(parts)}  [{settings['extractor']} features, {result['n_fake']} samples vs {result['n_real']} real]"
    )
