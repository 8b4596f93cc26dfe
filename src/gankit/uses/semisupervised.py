"""Semi-supervised learning with a GAN as the prior: the labelled subset, test error, and the supervised-only
baseline that the K+1-class GAN of Salimans et al. (NeurIPS 2016, Sec. 5 and 6.1) is measured against.

The protocol follows Salimans et al.'s MNIST experiment: ``per_class`` labelled examples of each class (10, so
100 labels) picked with a seed from the training set, test error on the test set, several seeds. The baseline
trains the same discriminator (:class:`~gankit.models.semisupervised.SemiSupervisedMLPDiscriminator`) on the
labelled examples alone with the supervised loss: same network, same optimiser settings (Adam, learning rate
0.003, beta1 0.5, batches of 100), no unlabelled or generated images. The GAN itself trains through gankit's
training loop with the losses of :mod:`gankit.objectives.semisupervised`.
"""

from __future__ import annotations

import math
import time

import torch

from gankit.data.labelled import labelled_subset
from gankit.errors import GankitError
from gankit.models.semisupervised import SemiSupervisedMLPDiscriminator
from gankit.objectives.semisupervised import predict, supervised_loss


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float in [-1, 1] (x / 127.5 - 1, gankit's convention)."""
    if images.dtype != torch.uint8:
        raise GankitError(f"expected uint8 images in [0, 255]; got {images.dtype}")
    return images.float() / 127.5 - 1


@torch.no_grad()
def error_rate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` (float, [-1, 1]) whose argmax over the K class logits is not the label; eval mode."""
    if len(images) != len(labels) or len(images) == 0:
        raise GankitError(f"error rate needs as many labels as images (> 0); got {len(images)} and {len(labels)}")
    training = model.training
    model.eval()
    wrong = sum(
        int((predict(model(x)) != y).sum())
        for x, y in zip(images.split(batch_size), labels.split(batch_size), strict=True)
    )
    model.train(training)
    return wrong / len(images)


def train_supervised(
    model: SemiSupervisedMLPDiscriminator,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int = 500,
    batch_size: int = 100,
    lr: float = 0.003,
    seed: int = 0,
) -> list[float]:
    """Supervised-only training: Adam(lr, betas (0.5, 0.999)) on the cross-entropy of the labelled examples,
    ``steps`` minibatches (reshuffled every pass), after the data-dependent initialisation on them. The learning
    rate decays linearly to 0 over the run (our choice: with 100 examples and noise layers the loss keeps jumping
    at a constant rate, and there is no validation set to pick a stopping point). Returns every step's loss."""
    if steps < 1 or batch_size < 1:
        raise GankitError(f"steps and batch_size must be >= 1; got {steps} and {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the Gaussian noise layers draw from the global generator
    model.initialize(images)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    losses: list[float] = []
    order = torch.randperm(len(images), generator=generator)
    position = 0
    for _ in range(steps):
        if position + batch_size > len(order):
            order, position = torch.randperm(len(images), generator=generator), 0
        batch = order[position : position + batch_size]
        position += batch_size
        loss = supervised_loss(model(images[batch]), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return losses


def supervised_baseline(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    seeds: tuple[int, ...] = (0, 1, 2),
    per_class: int = 10,
    steps: int = 500,
) -> dict:
    """The supervised-only baseline over ``seeds``: for each, ``per_class`` labels per class (chosen with the seed),
    a fresh :class:`SemiSupervisedMLPDiscriminator` (initialised with the seed) trained on them alone, and its
    test error. Images are uint8 (N, 1, H, W). Returns per-seed rows and the mean and standard deviation."""
    if train_images.shape[1:] != test_images.shape[1:]:
        raise GankitError(
            f"train and test images differ in shape: {tuple(train_images.shape[1:])} vs {tuple(test_images.shape[1:])}"
        )
    test_x = to_unit_range(test_images)
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        chosen = labelled_subset(train_labels, per_class, seed)
        torch.manual_seed(seed)
        classes = int(train_labels.max()) + 1
        model = SemiSupervisedMLPDiscriminator(tuple(train_images.shape[1:]), out_features=classes)
        losses = train_supervised(model, to_unit_range(train_images[chosen]), train_labels[chosen], steps, seed=seed)
        rows.append(
            {
                "seed": seed,
                "labels": len(chosen),
                "test_error": error_rate(model, test_x, test_labels),
                "final_train_loss": losses[-1],
                "seconds": time.perf_counter() - start,
            }
        )
    errors = torch.tensor([r["test_error"] for r in rows], dtype=torch.float64)
    return {
        "rows": rows,
        "test_error_mean": float(errors.mean()),
        "test_error_std": float(errors.std()) if len(errors) > 1 else math.nan,
    }
