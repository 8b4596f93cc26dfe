"""A small CNN classifier per data set, whose penultimate layer is a feature space for small images.

When Inception features are not wanted (digits, MNIST), the literature measures and matches
distributions in the features of a classifier trained on the data set itself (e.g. Li et al. 2017 and
Binkowski et al. 2018 on MNIST). Training is deterministic on the CPU and the result is cached by data
set, resolution and seed in ``$GANKIT_HOME/classifiers/`` as safetensors (loading runs no code), with
a JSON record of its held-out accuracy.

Architecture: conv3x3(16) - ReLU - conv3x3(32) - ReLU - maxpool2 - conv3x3(64) - ReLU - adaptive
average pool to 4x4 - linear(1024 -> 128) - ReLU [features] - linear(128 -> classes).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.config import DataConfig
from gankit.data import load_image_dataset
from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.runtime.home import gankit_home

FEATURE_DIM = 128


class SmallClassifier(nn.Module):
    """CNN classifier for (C, R, R) images in [-1, 1]; ``features`` gives the 128-d penultimate layer."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64 * 16, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, R, R) in [-1, 1] -> (N, 128)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def cache_path(dataset: str, resolution: int, seed: int) -> Path:
    """``$GANKIT_HOME/classifiers/<dataset>-<R>px-seed<S>.safetensors``."""
    return gankit_home() / "classifiers" / f"{dataset}-{resolution}px-seed{seed}.safetensors"


def fit_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    seed: int = 0,
    epochs: int = 10,
    batch_size: int = 64,
    holdout: float = 0.1,
) -> tuple[SmallClassifier, float, int]:
    """Train a :class:`SmallClassifier` on uint8 ``images`` and int64 ``labels`` (Adam 1e-3), holding out
    ``holdout`` of them; returns the eval-mode model, its held-out accuracy and the number held out."""
    num_classes = int(labels.max()) + 1
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    n_test = max(1, int(holdout * len(images)))
    test, train = order[:n_test], order[n_test:]
    x = from_uint8(images)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state (e.g. a training run's) untouched
        torch.manual_seed(seed)
        model = SmallClassifier(images.shape[1], num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in train[torch.randperm(len(train), generator=generator)].split(batch_size):
            loss = F.cross_entropy(model(x[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x[test]).argmax(1) == labels[test]).float().mean())
    return model, accuracy, n_test


def train_classifier(
    dataset: str, resolution: int, seed: int = 0, epochs: int = 10, batch_size: int = 64, holdout: float = 0.1
) -> tuple[SmallClassifier, dict]:
    """Train on ``dataset``'s training split (Adam 1e-3), holding out ``holdout`` of it to report accuracy."""
    data, num_classes = load_image_dataset(DataConfig(name=dataset, resolution=resolution, split="train"))
    images, labels = getattr(data, "images", None), getattr(data, "labels", None)
    if images is None or labels is None:
        raise GankitError(
            f"data set '{dataset}' has no labels; a classifier needs a labelled data set (digits, mnist, ...)"
        )
    model, accuracy, n_test = fit_classifier(images, labels, seed, epochs, batch_size, holdout)
    record = {
        "dataset": dataset,
        "resolution": resolution,
        "seed": seed,
        "epochs": epochs,
        "channels": images.shape[1],
        "num_classes": num_classes,
        "heldout": n_test,
        "accuracy": accuracy,
    }
    return model, record


def _cached(path: Path, fit) -> tuple[SmallClassifier, dict]:
    """The classifier stored at ``path`` (safetensors + a JSON record), or ``fit()``'s, written there atomically."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        record = json.loads(meta.read_text())
        model = SmallClassifier(record["channels"], record["num_classes"])
        try:
            model.load_state_dict(load_file(path))
        except Exception as exc:
            raise GankitError(f"cached classifier {path} is unreadable ({exc.__class__.__name__}); delete it") from exc
    else:
        model, record = fit()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file(model.state_dict(), str(partial))
        meta.write_text(json.dumps(record, indent=2))
        os.replace(partial, path)  # the weights appear last and whole: a half-written cache is never read
    return model.eval().requires_grad_(False), record


def load_or_train(dataset: str, resolution: int, seed: int = 0, epochs: int = 10) -> tuple[SmallClassifier, dict]:
    """The cached classifier for (dataset, resolution, seed), trained and cached on first use; frozen, eval mode."""
    return _cached(cache_path(dataset, resolution, seed), lambda: train_classifier(dataset, resolution, seed, epochs))


def load_or_fit(
    images: torch.Tensor, labels: torch.Tensor, name: str, seed: int = 0, epochs: int = 10
) -> tuple[SmallClassifier, dict]:
    """The same classifier recipe fitted on given uint8 ``images`` and ``labels`` (a labelled .npz, e.g. the first
    10k MNIST training images), cached by content as ``data-<sha256>-<R>px-seed<S>``; frozen, eval mode."""
    if labels is None:
        raise GankitError(f"{name} has no labels (key y); the classifier features need labelled training images")
    digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()[:16]
    resolution = images.shape[-1]
    path = gankit_home() / "classifiers" / f"data-{digest}-{resolution}px-seed{seed}.safetensors"

    def fit() -> tuple[SmallClassifier, dict]:
        model, accuracy, heldout = fit_classifier(images, labels, seed, epochs)
        record = {
            "dataset": name,
            "sha256": digest,
            "resolution": resolution,
            "seed": seed,
            "epochs": epochs,
            "channels": images.shape[1],
            "num_classes": int(labels.max()) + 1,
            "heldout": heldout,
            "accuracy": accuracy,
        }
        return model, record

    return _cached(path, fit)
