"""Metrics during training: every ``eval.every`` steps (and at the last step) the sampler's images are
compared with the training data by :func:`gankit.metrics.evaluate.compute_metrics`.

The real set (the training data the stream already loaded) has its features computed once (and
cached by content hash); each evaluation draws
``eval.n`` samples from latent seed ``eval.seed`` (the same latents every time, so curves show the
model changing, not the noise), quantises them to uint8 like the reference code, and measures them.
``eval.features=auto`` picks the data set's own classifier for digits, MNIST and Fashion-MNIST (the
usual choice in that literature) and the FID Inception otherwise. Evaluation draws from its own seeds,
and training seeds its random streams at every iteration, so evaluating does not change the training
trajectory. A conditional generator is evaluated on labels drawn from the training data's label distribution.

Several processes: each process generates and embeds its share of the samples (and of the real set, once),
the features are gathered, rank 0 computes the metrics and every process receives the result
(:mod:`gankit.metrics.distributed`); the numbers equal the single-process ones.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit import defaults
from gankit.config import Config
from gankit.defaults import MAX_TRAINING_EVAL_REAL
from gankit.imaging import to_uint8
from gankit.metrics.distributed import (
    GENERATE_BATCH,
    block_size,
    combined_hash,
    extract_share,
    gather_features,
    generate_shard,
)
from gankit.metrics.evaluate import (
    Classes,
    EvalOptions,
    FeatureSet,
    cached_features,
    check_request,
    content_hash,
    evaluate_features,
    result_lines,
)
from gankit.metrics.features.extractors import build_extractor
from gankit.runtime import seeds
from gankit.runtime.distributed import DistributedContext
from gankit.sampling import sample_labels

CLASSIFIER_DATASETS = ("digits", "mnist", "fashion-mnist")
MAX_REAL = MAX_TRAINING_EVAL_REAL


def resolve_features(spec: str, dataset: str) -> str:
    """``auto`` -> ``classifier:<dataset>`` for the small labelled sets, else ``inception``."""
    if spec != "auto":
        return spec
    return f"classifier:{dataset}" if dataset in CLASSIFIER_DATASETS else "inception"


class PeriodicEvaluation:
    """Holds the extractor and the real features; call it with a generator to measure it."""

    def __init__(
        self,
        config: Config,
        dataset: torch.utils.data.Dataset,
        device: torch.device,
        class_frequencies: torch.Tensor | None = None,
        context: DistributedContext | None = None,
    ) -> None:
        cfg = config.eval
        self.context = context or DistributedContext(device=device)
        self.class_frequencies = class_frequencies
        images = getattr(dataset, "images", None)
        if images is None:
            images = torch.stack([dataset[i] for i in range(min(len(dataset), MAX_REAL))])
        real = images[:MAX_REAL]
        labels = getattr(dataset, "labels", None)
        self.real_labels = labels[:MAX_REAL] if labels is not None else None
        features = resolve_features(cfg.features, config.data.name)
        self.extractor = build_extractor(features, tuple(real.shape[1:]), cfg.inception_weights or None, device=device)
        self.n = cfg.n or len(real)
        subset = min(cfg.kid_subset_size, self.n, len(real))
        self.options = EvalOptions(
            metrics=tuple(cfg.metrics), kid_subset_size=subset, fid_bootstrap=cfg.fid_bootstrap, seed=cfg.seed
        )
        check_request(self.extractor, self.options, len(real), self.n)
        self._real_images = real
        self.real: FeatureSet | None = None
        if not self.context.distributed:
            self.prepare()

    def prepare(self) -> None:
        """Compute (or read from the cache) the real set's features, in shares over the processes; every
        process must call it together (the trainer does, once every process has built its evaluation)."""
        if self.real is None:
            self.real = cached_features(self.extractor, self._real_images, context=self.context)

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module) -> dict[str, Any]:
        """Metrics of ``n`` samples of ``generator`` (latents from ``eval.seed``) against the real set; with
        several processes every process calls it and receives the same result."""
        self.prepare()
        labels = None
        if self.class_frequencies is not None:
            labels = sample_labels(self.class_frequencies, self.n, seeds.generator(self.options.seed, seeds.LABELS))
        block = block_size(GENERATE_BATCH, defaults.EVAL_BATCH_SIZE)
        fake = to_uint8(generate_shard(generator, self.n, self.context, self.options.seed, labels, block=block))
        features, logits = extract_share(self.extractor, fake, defaults.EVAL_BATCH_SIZE)
        features, logits = gather_features(features, logits, self.context)
        fake_set = FeatureSet(features, logits, combined_hash(content_hash(fake), self.context))
        return self.context.run_on_main(lambda: self._metrics(fake_set, labels))

    def _metrics(self, fake_set: FeatureSet, labels: torch.Tensor | None) -> dict[str, Any]:
        """FID / KID / ... and, for a conditional generator, its sample accuracy and intra-FID; per-class KID and
        class-wise precision/recall cost ten KIDs / PRs, so they are left to ``gankit eval``."""
        classes = None
        if labels is not None:
            classes = Classes(len(self.class_frequencies), self.real_labels, labels, metrics=("fid",))
        return evaluate_features(self.extractor, self.real, fake_set, self.options, classes)


def summary(result: dict[str, Any]) -> str:
    """One line of the headline numbers of an evaluation."""
    where = f"[{result['settings']['extractor']} features, {result['n_fake']} samples vs {result['n_real']} real]"
    return f"{'; '.join(result_lines(result))}  {where}"
