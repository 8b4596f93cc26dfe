"""Evaluation of class-conditional generators: sample accuracy, intra-FID, per-class KID and precision/recall.

- Sample accuracy ("does a sample of class c look like c"): a classifier trained on the data set
  (gankit's :mod:`gankit.metrics.features.classifier`, or Inception for ImageNet) labels samples
  generated for each intended class; report the accuracy and the confusion matrix, rows = intended
  class, columns = predicted class. This is the "discriminability" of Odena et al. (ICML 2017,
  AC-GAN, Sec. 4.1) and "GAN-test" of Shmelkov, Schmid & Alahari (ECCV 2018, "How good is my GAN?").
- Intra-FID (Miyato & Koyama, ICLR 2018, Sec. 5.1): the FID (Heusel et al. 2017) between the real
  and the generated images of each class, averaged over classes. Unlike the FID of the pooled sets,
  it sees a generator that draws the right images for the wrong label.
- Per-class KID (Binkowski et al., ICLR 2018) with its interval. A class holds 1/K of the samples,
  and FID's bias grows as n shrinks (its estimate of a d x d covariance from a few hundred samples is
  strongly biased upwards), so per-class FIDs at small n are not comparable across sample sizes;
  KID is unbiased at any n and its interval says how much a difference can be trusted: prefer it
  when a class has fewer samples than feature dimensions.
- Class-wise improved precision and recall (Kynkaanniemi et al., NeurIPS 2019): a class that the
  generator drops, or draws badly, shows as low recall (or precision) in its own row.

``fake_labels`` are the labels the samples were generated for (conditional models), or a
classifier's predictions for an unconditional model. Every function reuses the unconditional metric
(:func:`gankit.metrics.fid.fid`, :func:`gankit.metrics.kid.kid`,
:func:`gankit.metrics.precision_recall.precision_recall`) on each class's rows.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from gankit import defaults
from gankit.errors import GankitError
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid
from gankit.metrics.precision_recall import precision_recall

PR_K = 3  # the neighbourhood size of the class-wise precision / recall (Kynkaanniemi et al. 2019 use 3)


def check_labels(labels: Any, n: int, num_classes: int, source: str) -> torch.Tensor:
    """``labels`` as an int64 vector of length ``n`` with values in [0, num_classes), or a one-line error."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.is_floating_point() or labels.is_complex():
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise GankitError(f"{source}: expected a 1-d integer tensor of class labels, got {shape}")
    if len(labels) != n:
        raise GankitError(f"{source}: {len(labels)} labels for {n} samples; give one label per sample")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise GankitError(
            f"{source}: labels must lie in [0, {num_classes - 1}] ({num_classes} classes), "
            f"got [{int(labels.min())}, {int(labels.max())}]"
        )
    return labels.long().cpu()


def _check_features(features: Any, source: str) -> torch.Tensor:
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise GankitError(f"{source}: expected a (N, d) feature matrix, got {shape}")
    return features


def split_by_class(
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    fake_features: torch.Tensor,
    fake_labels: torch.Tensor,
    num_classes: int | None,
    minimum: int,
    metric: str,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(real rows, fake rows) of each class 0..K-1, after checking shapes, labels and that every class has
    at least ``minimum`` samples in both sets (the error names the class and the minimum)."""
    real_features = _check_features(real_features, "real features")
    fake_features = _check_features(fake_features, "fake features")
    if real_features.shape[1] != fake_features.shape[1]:
        raise GankitError(
            f"real and fake features differ in dimension ({real_features.shape[1]} and {fake_features.shape[1]}); "
            "extract both with the same feature extractor"
        )
    if num_classes is None:
        if not isinstance(real_labels, torch.Tensor) or real_labels.numel() == 0 or real_labels.is_floating_point():
            raise GankitError("real labels: expected a non-empty 1-d integer tensor of class labels")
        num_classes = int(real_labels.max()) + 1
    real_labels = check_labels(real_labels, len(real_features), num_classes, "real labels")
    fake_labels = check_labels(fake_labels, len(fake_features), num_classes, "fake labels")
    real_counts = torch.bincount(real_labels, minlength=num_classes)
    fake_counts = torch.bincount(fake_labels, minlength=num_classes)
    for name, counts in (("real", real_counts), ("fake", fake_counts)):
        short = (counts < minimum).nonzero().flatten().tolist()
        if short:
            c = short[0]
            raise GankitError(
                f"class {c} has {int(counts[c])} {name} sample(s); {metric} needs at least {minimum} per class "
                f"({len(short)} class(es) short): generate or load more samples per class"
            )
    return [(real_features[real_labels == c], fake_features[fake_labels == c]) for c in range(num_classes)]


def sample_accuracy(logits_or_predictions: torch.Tensor, intended_labels: torch.Tensor, num_classes: int) -> dict:
    """Accuracy of a classifier's labels for samples generated for ``intended_labels``, and the confusion
    matrix (rows = intended class, columns = predicted class; Odena et al. 2017, Sec. 4.1; Shmelkov et al. 2018).

    ``logits_or_predictions``: (N, num_classes) scores (the prediction is their argmax) or (N,) predicted labels.
    Returns ``accuracy``, ``per_class_accuracy`` (None for a class with no samples), ``confusion`` (K x K
    list of counts) and ``n``.
    """
    scores = logits_or_predictions
    if not isinstance(scores, torch.Tensor) or scores.ndim not in (1, 2):
        raise GankitError("sample accuracy: expected (N, classes) logits or (N,) predicted labels")
    if scores.ndim == 2:
        if scores.shape[1] != num_classes:
            raise GankitError(
                f"sample accuracy: the classifier gives {scores.shape[1]} scores per sample for {num_classes} "
                "classes; use the data set's own classifier"
            )
        predictions = scores.argmax(dim=1)
    else:
        predictions = scores
    n = len(predictions)
    if n == 0:
        raise GankitError("sample accuracy: no samples")
    predictions = check_labels(predictions, n, num_classes, "predicted labels")
    intended = check_labels(intended_labels, n, num_classes, "intended labels")
    confusion = torch.bincount(intended * num_classes + predictions, minlength=num_classes**2)
    confusion = confusion.view(num_classes, num_classes)
    totals = confusion.sum(dim=1)
    per_class = [int(confusion[c, c]) / int(totals[c]) if totals[c] else None for c in range(num_classes)]
    return {
        "accuracy": int(confusion.diagonal().sum()) / n,
        "per_class_accuracy": per_class,
        "confusion": confusion.tolist(),
        "n": n,
    }


def intra_fid(
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    fake_features: torch.Tensor,
    fake_labels: torch.Tensor,
    num_classes: int | None = None,
) -> dict:
    """Mean over classes of the FID between the class's real and fake features (Miyato & Koyama 2018, Sec. 5.1).

    Returns ``intra_fid``, ``per_class_fid`` and the per-class sizes ``n_real_per_class`` /
    ``n_fake_per_class``. ``num_classes`` defaults to the largest real label + 1; every class needs at
    least 2 samples in each set (FID's covariance), and far more than the feature dimension for a
    trustworthy value (a warning says so; see :func:`per_class_kid`).
    """
    pairs = split_by_class(real_features, real_labels, fake_features, fake_labels, num_classes, 2, "intra-FID")
    values = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for real, fake in pairs:
            values.append(fid(real, fake))
    if caught:
        smallest = min(min(len(r), len(f)) for r, f in pairs)
        warnings.warn(
            f"intra-FID from as few as {smallest} samples per class of {pairs[0][0].shape[1]}-d features: "
            "per-class covariances are rank-deficient and the FIDs strongly biased upwards; "
            "compare per-class KID instead",
            stacklevel=2,
        )
    return {
        "intra_fid": sum(values) / len(values),
        "per_class_fid": values,
        "n_real_per_class": [len(r) for r, _ in pairs],
        "n_fake_per_class": [len(f) for _, f in pairs],
    }


def per_class_kid(
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    fake_features: torch.Tensor,
    fake_labels: torch.Tensor,
    num_classes: int | None = None,
    subsets: int = 100,
    subset_size: int | None = None,
    seed: int = 2020,
) -> dict:
    """KID (Binkowski et al. 2018) between each class's real and fake features, with 95% intervals.

    KID is the honest per-class number at small n: unlike FID it is unbiased at any sample size, so a
    class with 200 samples and one with 2,000 are on the same scale, and the interval from the subset
    spread says whether a difference is real. ``subset_size`` defaults to min(1000, the smallest class
    in either set). Returns ``kid_mean`` (mean over classes) with ``kid_ci_low`` / ``kid_ci_high``
    (the per-class half-widths combined as independent: sqrt(sum h_c^2) / K), ``per_class`` (a list of
    :func:`gankit.metrics.kid.kid` results) and ``subset_size``.
    """
    pairs = split_by_class(real_features, real_labels, fake_features, fake_labels, num_classes, 2, "per-class KID")
    size = subset_size or min(1000, *(min(len(r), len(f)) for r, f in pairs))
    results = [kid(real, fake, subsets, size, seed) for real, fake in pairs]
    k = len(results)
    mean = sum(r["kid_mean"] for r in results) / k
    half = math.sqrt(sum(((r["kid_ci_high"] - r["kid_ci_low"]) / 2) ** 2 for r in results)) / k
    return {
        "kid_mean": mean,
        "kid_ci_low": mean - half,
        "kid_ci_high": mean + half,
        "per_class": results,
        "subset_size": size,
    }


def classwise_precision_recall(
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    fake_features: torch.Tensor,
    fake_labels: torch.Tensor,
    num_classes: int | None = None,
    k: int = PR_K,
) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019) within each class, and their means.

    Returns ``precision`` and ``recall`` (means over classes) and ``per_class_precision`` /
    ``per_class_recall``; every class needs more than ``k`` samples in each set.
    """
    pairs = split_by_class(
        real_features, real_labels, fake_features, fake_labels, num_classes, k + 1, f"precision/recall with k={k}"
    )
    results = [precision_recall(real, fake, k) for real, fake in pairs]
    precisions = [r["precision"] for r in results]
    recalls = [r["recall"] for r in results]
    return {
        "precision": sum(precisions) / len(precisions),
        "recall": sum(recalls) / len(recalls),
        "per_class_precision": precisions,
        "per_class_recall": recalls,
    }


def conditional_report(
    real_features: torch.Tensor,
    real_labels: torch.Tensor | None,
    fake_features: torch.Tensor,
    fake_logits: torch.Tensor | None,
    fake_labels: torch.Tensor | None,
    num_classes: int,
    metrics: tuple[str, ...] = ("fid", "kid"),
) -> dict[str, Any]:
    """The class-conditional numbers that ``gankit eval`` and evaluation during training print beside FID / KID.

    ``fake_labels`` are the classes the samples were generated for; None for an unconditional generator, whose
    samples are then assigned the class the data set's classifier predicts (``fake_logits``), so that its
    intra-FID is comparable. Returns what the inputs allow: ``sample_accuracy`` and ``sample_confusion``
    (:func:`sample_accuracy`, conditional samples and a classifier with ``num_classes`` outputs), and with real
    labels ``intra_fid`` / ``per_class_fid`` (when ``fid`` is asked), ``per_class_kid_mean`` with its 95%
    interval (``kid``) and ``classwise_precision`` / ``classwise_recall`` (``pr``). Per-class FIDs from fewer
    samples than feature dimensions are not warned about here: the per-class KID is printed beside them. When an
    unconditional generator's samples leave a class (almost) empty, the per-class numbers are undefined: they are
    skipped and ``per_class_skipped`` says which classes, so that FID / KID of a collapsed model still print.
    """
    has_logits = fake_logits is not None and fake_logits.ndim == 2 and fake_logits.shape[1] == num_classes
    out: dict[str, Any] = {}
    if fake_labels is not None and has_logits:
        accuracy = sample_accuracy(fake_logits, fake_labels, num_classes)
        out[defaults.SAMPLE_ACCURACY] = accuracy["accuracy"]
        out["sample_per_class_accuracy"] = accuracy["per_class_accuracy"]
        out["sample_confusion"] = accuracy["confusion"]
    if fake_labels is None:
        if not has_logits:
            return out
        fake_labels = fake_logits.argmax(1)
        out["fake_labels"] = "predicted by the classifier (unconditional generator)"
        need = PR_K + 1 if "pr" in metrics else 2  # the fewest samples per class the per-class metrics take
        counts = torch.bincount(fake_labels, minlength=num_classes).tolist()
        short = [c for c, count in enumerate(counts) if count < need]
        if short and real_labels is not None:  # a generator that misses classes: per-class numbers are undefined
            out["per_class_skipped"] = (
                f"class(es) {', '.join(map(str, short))} got fewer than {need} of the samples (the classifier's "
                "predictions), so the per-class metrics are not computed"
            )
            return out
    if real_labels is None:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-class sets are smaller than the feature dimension
        if "fid" in metrics:
            per_class = intra_fid(real_features, real_labels, fake_features, fake_labels, num_classes)
            out[defaults.INTRA_FID] = per_class["intra_fid"]
            out["per_class_fid"] = per_class["per_class_fid"]
        if "kid" in metrics:
            kids = per_class_kid(real_features, real_labels, fake_features, fake_labels, num_classes)
            out["per_class_kid_mean"] = kids["kid_mean"]
            out["per_class_kid_ci"] = [kids["kid_ci_low"], kids["kid_ci_high"]]
            out["per_class_kid_subset_size"] = kids["subset_size"]
        if "pr" in metrics:
            pr = classwise_precision_recall(real_features, real_labels, fake_features, fake_labels, num_classes, PR_K)
            out["classwise_precision"] = pr["precision"]
            out["classwise_recall"] = pr["recall"]
            out["per_class_recall"] = pr["per_class_recall"]
    return out
