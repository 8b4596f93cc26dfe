"""The feature extractors by name (the interface is :mod:`gankit.metrics.features.base`).

- ``inception``: the FID Inception-v3 (:mod:`gankit.metrics.features.inception`).
- ``classifier:DATASET``: the data set's own small CNN (:mod:`gankit.metrics.features.classifier`).
- ``pixels``: the raw pixels scaled to [0, 1], for toy data and tests.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit import defaults
from gankit.data.images import resize_square
from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.metrics.features.base import FeatureExtractor, check_images

__all__ = ["FeatureExtractor", "build_extractor", "check_images"]


class PixelFeatures(FeatureExtractor):
    """Raw pixels / 255, flattened: a feature space with no learned parts (toy data, tests)."""

    name = "pixels"

    def __init__(self, image_shape: tuple[int, int, int], device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self.image_shape = tuple(image_shape)
        self.dim = int(torch.tensor(self.image_shape).prod())

    def settings(self) -> dict[str, Any]:
        return {"extractor": "pixels", "image_shape": list(self.image_shape)}

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        if tuple(images.shape[1:]) != self.image_shape:
            raise GankitError(
                f"pixel features need every image of shape {self.image_shape}, got {tuple(images.shape[1:])}; "
                "give both sets the same size and channels"
            )
        return images.flatten(1).float() / 255, None


class ClassifierFeatures(FeatureExtractor):
    """Penultimate-layer features and class logits of the data set's cached small CNN classifier."""

    has_logits = True

    def __init__(self, dataset: str, resolution: int, seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        from gankit.metrics.features.classifier import FEATURE_DIM, load_or_fit, load_or_train

        if dataset.endswith(".npz"):  # a labelled .npz: the same recipe fitted on its images at this resolution
            from gankit.data.images import load_npz

            self.model, self.record = load_or_fit(*load_npz(dataset, resolution), dataset, seed)
        else:
            self.model, self.record = load_or_train(dataset, resolution, seed)
        self.model.to(self.device)
        self.dataset, self.resolution, self.seed = dataset, resolution, seed
        self.name, self.dim = f"classifier:{dataset}", FEATURE_DIM

    def settings(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "resolution": self.resolution,
            "seed": self.seed,
            "classifier_accuracy": self.record["accuracy"],
            **({"data_sha256": self.record["sha256"]} if "sha256" in self.record else {}),
        }

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = self.record["channels"]
        if images.shape[1] != channels:
            raise GankitError(
                f"the {self.dataset} classifier takes {channels}-channel images, got {images.shape[1]}; "
                "evaluate images of the data set's kind or use --features inception"
            )
        x = from_uint8(resize_square(images, self.resolution))
        features = self.model.features(x)
        return features, self.model.head(features)


def build_extractor(
    spec: str,
    image_shape: tuple[int, int, int],
    inception_weights: str | None = None,
    resize: str = defaults.RESIZE,
    device: str | torch.device = "cpu",
) -> FeatureExtractor:
    """The extractor named by ``spec``: ``inception``, ``classifier:DATASET`` or ``pixels``; ``image_shape``
    (C, H, W) of the images to measure sets the classifier's resolution and the pixel dimension."""
    if spec == "inception":
        from gankit.metrics.features.inception import InceptionFeatures

        return InceptionFeatures(inception_weights, resize=resize, device=device)
    if spec == "pixels":
        return PixelFeatures(image_shape, device)
    if spec.startswith("classifier:") and spec.removeprefix("classifier:"):
        return ClassifierFeatures(spec.removeprefix("classifier:"), image_shape[-1], device=device)
    raise GankitError(
        f"unknown features '{spec}'; use inception, classifier:DATASET (e.g. classifier:digits, or classifier:FILE.npz "
        "for a labelled .npz), pixels"
    )
