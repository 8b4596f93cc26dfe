"""Anomaly detection with density models and GANs, measured by the one-class protocol of Ruff et al. 2018.

Protocol (Ruff et al., "Deep One-Class Classification", ICML 2018, Sec. 4.1): for each class c, train
on the training images of class c only, score every test image, and report the AUROC of the scores for
"is an anomaly" on the whole test set (class c normal, the nine others anomalous); then the mean over
classes. Convention here: label 0 = normal, 1 = anomaly, and a *higher score means more anomalous*.
AUROC = P(score(anomaly) > score(normal)) + P(tie) / 2 (scikit-learn's ``roc_auc_score``).

Scores:

- ``gaussian_nll`` / ``ppca_nll``: negative log-likelihood under a full-covariance Gaussian or
  probabilistic PCA fitted to the normal class (:mod:`gankit.baselines`).
- ``knn_distance``: mean Euclidean distance to the k nearest training images (scikit-learn
  ``NearestNeighbors``), on pixels in [0, 1] or on the features of a gankit feature extractor.
- ``discriminator_scores``: minus the logit of a discriminator trained on the normal class.
- ``anogan_scores``: Schlegl et al., "Unsupervised anomaly detection with generative adversarial networks
  to guide marker discovery", IPMI 2017, Sec. 2.2: z is optimised for ``steps`` Adam steps to minimise
  L(z) = (1 - lambda) L_R(z) + lambda L_D(z) with the residual L_R = sum |x - G(z)| and the
  discrimination loss L_D = sum |f(x) - f(G(z))|, f = the discriminator's features entering its last
  layer (the paper's "feature matching" variant; ``discrimination="logits"`` uses the sigmoid
  cross-entropy of D(G(z)) against "real", the paper's first variant); lambda = 0.1 as in the paper. The
  anomaly score is L at the final z (Eq. 6 there).

``RUFF2018_MNIST`` holds the published MNIST numbers to print beside ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from torch import nn

from gankit.baselines import PPCA, Gaussian
from gankit.errors import GankitError
from gankit.models.base import adversarial_logits
from gankit.uses.latent_search import frozen, optimise_latents

NORMAL, ANOMALY = 0, 1
ANOGAN_WEIGHT = 0.1
DISCRIMINATIONS = ("features", "logits")

# Ruff et al. (2018), Table 1, MNIST: mean AUROC in % over 10 seeds, one normal digit at a time (0..9).
# The paper's Table 1 has MNIST and CIFAR-10 only (no Fashion-MNIST). Their training set is every
# training image of the normal digit in the 60,000-image training split (about 6,000), preprocessed by
# global contrast normalisation (l1) and min-max scaling; AnoGAN and Deep SVDD use a LeNet-type network.
# Provenance: transcribed from the paper; the Deep SVDD column matches an independent reproduction that quotes
# it, the KDE and AnoGAN columns could not be checked against a second copy here (compare with the PDF).
RUFF2018_CITATION = (
    "L. Ruff, R. A. Vandermeulen, N. Goernitz, L. Deecke, S. A. Siddiqui, A. Binder, E. Mueller, M. Kloft, "
    "Deep One-Class Classification, ICML 2018, PMLR 80:4393-4402, Table 1 (MNIST, mean AUROC % over 10 seeds)"
)
RUFF2018_MNIST: dict[str, tuple[float, ...]] = {
    "KDE": (97.1, 98.9, 79.0, 86.2, 87.9, 73.8, 87.6, 91.4, 79.2, 88.2),
    "AnoGAN": (96.6, 99.2, 85.0, 88.7, 89.4, 88.3, 94.7, 93.5, 84.9, 92.4),
    "Deep SVDD (one-class)": (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5),
}
RUFF2018_TRAINING = "all ~6,000 training images of the normal digit (MNIST 60k split), GCN + min-max scaling"

Scorer = Callable[[torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]


def anomaly_labels(labels: torch.Tensor, normal_class: int) -> torch.Tensor:
    """0 (normal) where ``labels == normal_class``, 1 (anomaly) elsewhere."""
    return (torch.as_tensor(labels) != normal_class).long()


def auroc(scores: torch.Tensor, is_anomaly: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) for ``is_anomaly`` (1) vs normal (0)."""
    scores = torch.as_tensor(scores).detach().double().cpu().flatten()
    truth = torch.as_tensor(is_anomaly).detach().cpu().flatten()
    if len(scores) != len(truth):
        raise GankitError(f"AUROC: {len(scores)} scores for {len(truth)} labels")
    if not bool(torch.isfinite(scores).all()):
        raise GankitError("AUROC: some scores are NaN or infinite; check the model that produced them")
    present = set(truth.tolist())
    if not present <= {NORMAL, ANOMALY} or len(present) < 2:
        raise GankitError("AUROC needs both normal (0) and anomalous (1) test samples; the test set lacks one")
    return float(roc_auc_score(truth.numpy(), scores.numpy()))


def normal_subset(images: torch.Tensor, labels: torch.Tensor, normal_class: int) -> torch.Tensor:
    """The images of ``normal_class``; a class absent from ``labels`` is an error naming the classes present."""
    rows = torch.as_tensor(labels) == normal_class
    if not bool(rows.any()):
        present = ", ".join(str(c) for c in torch.unique(torch.as_tensor(labels)).tolist())
        raise GankitError(f"class {normal_class} is absent from the training labels; classes present: {present}")
    return images[rows]


# -- scorers: fit on the normal class, return a function scoring test data -----------------------------------
def gaussian_nll(ridge: float | None = None) -> Scorer:
    """Negative log-likelihood under a full-covariance Gaussian fitted to the normal class."""

    def fit(train: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        model = Gaussian(ridge).fit(train)
        return lambda test: -model.log_likelihood(test)

    return fit


def ppca_nll(components: int, ridge: float | None = None) -> Scorer:
    """Negative log-likelihood under probabilistic PCA with ``components`` fitted to the normal class."""

    def fit(train: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        model = PPCA(components, ridge).fit(train)
        return lambda test: -model.log_likelihood(test)

    return fit


def _vectors(data: torch.Tensor, features: Callable | None) -> np.ndarray:
    if features is not None:
        out = features(data)
        return (out[0] if isinstance(out, tuple) else out).double().cpu().numpy()
    if data.dtype == torch.uint8:
        return data.flatten(1).double().numpy() / 255.0
    return data.detach().flatten(1).double().cpu().numpy()


def knn_distance(k: int = 1, features: Callable | None = None) -> Scorer:
    """Mean distance to the ``k`` nearest normal training samples: on pixels / 255 (uint8 images), raw
    float vectors, or ``features(images)`` (e.g. a gankit FeatureExtractor, whose (features, logits) is
    accepted)."""
    if k < 1:
        raise GankitError(f"knn: k must be at least 1, got {k}")

    def fit(train: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        if len(train) < k:
            raise GankitError(f"knn: k={k} neighbours but only {len(train)} training samples")
        index = NearestNeighbors(n_neighbors=k).fit(_vectors(train, features))

        def score(test: torch.Tensor) -> torch.Tensor:
            distances, _ = index.kneighbors(_vectors(test, features))
            return torch.from_numpy(distances.mean(1))

        return score

    return fit


# -- GAN scores -----------------------------------------------------------------------------------------------
def _unit_images(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()


def _check_discriminator(discriminator: nn.Module | None, what: str) -> nn.Module:
    if discriminator is None:
        raise GankitError(f"{what} needs the discriminator of the GAN; this model has none (an MMD/GMMN generator?)")
    if getattr(discriminator, "out_features", 1) != 1:
        raise GankitError(f"{what} needs a discriminator with one logit; this one gives feature vectors (MMD critic)")
    return discriminator


@torch.no_grad()
def discriminator_scores(
    discriminator: nn.Module | None, images: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 512
) -> torch.Tensor:
    """Minus the logit of a discriminator trained on the normal class: low "realness" = anomalous."""
    discriminator = _check_discriminator(discriminator, "discriminator scoring")
    device = next(discriminator.parameters()).device
    scores = []
    with frozen(discriminator):
        for start in range(0, len(images), batch_size):
            x = _unit_images(images[start : start + batch_size]).to(device)
            y = labels[start : start + batch_size].to(device) if labels is not None else None
            scores.append(-adversarial_logits(discriminator(x, y)).float().cpu())
    return torch.cat(scores)


def last_layer(discriminator: nn.Module) -> nn.Module:
    """The layer that turns the discriminator's features into its logit (``linear``, or the last of ``net``)."""
    if isinstance(getattr(discriminator, "linear", None), nn.Linear):
        return discriminator.linear
    net = getattr(discriminator, "net", None)
    if isinstance(net, nn.Sequential):
        return net[-1]
    raise GankitError(f"cannot find the feature layer of {type(discriminator).__name__}; use discrimination='logits'")


def discriminator_features(
    discriminator: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The features entering the discriminator's last layer (N, F) and its logits (N,), in one forward pass."""
    captured: list[torch.Tensor] = []
    handle = last_layer(discriminator).register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0]))
    try:
        logits = discriminator(images, labels)
    finally:
        handle.remove()
    return captured[0].flatten(1), logits


def anogan_scores(
    generator: nn.Module,
    discriminator: nn.Module | None,
    images: torch.Tensor,
    *,
    weight: float = ANOGAN_WEIGHT,
    discrimination: str = "features",
    steps: int = 500,
    lr: float = 0.05,
    restarts: int = 1,
    batch_size: int = 512,
    rng: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """AnoGAN anomaly scores (Schlegl et al. 2017, Eqs. 3-6; see the module text), one per image."""
    discriminator = _check_discriminator(discriminator, "AnoGAN scoring")
    if discrimination not in DISCRIMINATIONS:
        raise GankitError(f"unknown discrimination '{discrimination}'; use {' or '.join(DISCRIMINATIONS)}")
    if not 0 <= weight <= 1:
        raise GankitError(f"AnoGAN weight lambda must be in [0, 1], got {weight}")
    if tuple(images.shape[1:]) != tuple(generator.out_shape):
        raise GankitError(
            f"images of shape {tuple(images.shape[1:])} do not match the generator's {tuple(generator.out_shape)}"
        )
    device = next(generator.parameters()).device
    scores = []
    with frozen(discriminator):
        for start in range(0, len(images), batch_size):
            x = _unit_images(images[start : start + batch_size]).to(device)
            y = labels[start : start + batch_size].to(device) if labels is not None else None
            real_features = discriminator_features(discriminator, x, y)[0].detach()

            def loss_fn(fake, index, x=x, y=y, real_features=real_features):
                residual = (x[index] - fake).abs().flatten(1).sum(1)
                features, logits = discriminator_features(discriminator, fake, y[index] if y is not None else None)
                if discrimination == "features":
                    disc = (real_features[index] - features).abs().sum(1)
                else:
                    disc = F.softplus(-logits)
                return (1 - weight) * residual + weight * disc

            fit = optimise_latents(generator, loss_fn, len(x), steps=steps, lr=lr, restarts=restarts, rng=rng, labels=y)
            scores.append(fit.loss.float().cpu())
    return torch.cat(scores)


# -- the protocol ------------------------------------------------------------------------------------------
def one_class_auroc(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    scorer: Scorer,
    classes: list[int] | None = None,
) -> dict[str, Any]:
    """Ruff et al.'s one-class protocol: for each class, fit ``scorer`` on that class's training images and
    take the AUROC of its scores on the whole test set; returns per-class AUROCs, their mean and the counts."""
    if len(train_images) != len(train_labels) or len(test_images) != len(test_labels):
        raise GankitError("one-class protocol: images and labels differ in length")
    classes = classes if classes is not None else sorted(torch.unique(torch.as_tensor(train_labels)).tolist())
    per_class, counts = {}, {}
    for normal_class in classes:
        train = normal_subset(train_images, train_labels, normal_class)
        is_anomaly = anomaly_labels(test_labels, normal_class)
        if bool(is_anomaly.all()):
            raise GankitError(f"class {normal_class} is absent from the test labels; it cannot be the normal class")
        score = scorer(train)(test_images)
        per_class[int(normal_class)] = auroc(score, is_anomaly)
        counts[int(normal_class)] = len(train)
    return {
        "per_class": per_class,
        "mean": float(np.mean(list(per_class.values()))),
        "train_counts": counts,
        "test_count": len(test_images),
    }


def published_means() -> dict[str, float]:
    """The mean over the ten digits of each published MNIST column of Ruff et al. (2018), in %."""
    return {name: math.fsum(column) / len(column) for name, column in RUFF2018_MNIST.items()}
