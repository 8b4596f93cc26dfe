"""Feature extractors share one interface: uint8 images in, float32 features (and logits, if any) out.

Every extractor validates its input the same way (uint8, (N, C, H, W), 1 or 3 channels), runs in
batches without gradients, and describes itself with :meth:`FeatureExtractor.settings`, the record of
everything that changes the features (extractor, weights hash, resize), which goes into every result.

- ``inception``: the FID Inception-v3 (:mod:`gankit.metrics.features.inception`).
- ``classifier:DATASET``: the data set's own small CNN (:mod:`gankit.metrics.features.classifier`).
- ``pixels``: the raw pixels scaled to [0, 1], for toy data and tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from tqdm import tqdm

from gankit.data.images import resize_square
from gankit.errors import GankitError


def check_images(images: Any, source: str = "images") -> torch.Tensor:
    """``images`` as a uint8 (N, C, H, W) tensor with C in {1, 3}, or a one-line error naming the fix."""
    if not isinstance(images, torch.Tensor):
        raise GankitError(f"{source}: expected a torch.Tensor of uint8 images, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise GankitError(
            f"{source}: expected uint8 images in [0, 255], got {images.dtype}; "
            "convert images in [-1, 1] with gankit.imaging.to_uint8"
        )
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GankitError(f"{source}: expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    if len(images) == 0:
        raise GankitError(f"{source}: no images")
    return images


class FeatureExtractor(ABC):
    """Maps uint8 (N, C, H, W) images to (N, dim) float32 features and, where defined, class logits."""

    name: str
    dim: int
    has_logits: bool = False

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every setting that changes the features (recorded with each result and in cache keys)."""

    @abstractmethod
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and logits (or None) of one validated uint8 batch already on ``self.device``."""

    def require_logits(self) -> None:
        """The one-line error for asking an extractor without class logits for the Inception Score."""
        if not self.has_logits:
            raise GankitError(f"the Inception Score needs class logits, which {self.name} features do not give")

    @torch.no_grad()
    def __call__(
        self, images: torch.Tensor, batch_size: int = 64, progress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (N, dim) and logits (N, classes) or None, as float32 on the CPU."""
        images = check_images(images)
        features, logits = [], []
        batches = images.split(batch_size)
        for batch in tqdm(batches, desc=f"{self.name} features", disable=not progress, leave=False):
            f, lg = self.forward(batch.to(self.device))
            features.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
        return torch.cat(features), torch.cat(logits) if logits else None


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
        from gankit.metrics.features.classifier import FEATURE_DIM, load_or_train

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
        }

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = self.record["channels"]
        if images.shape[1] != channels:
            raise GankitError(
                f"the {self.dataset} classifier takes {channels}-channel images, got {images.shape[1]}; "
                "evaluate images of the data set's kind or use --features inception"
            )
        x = resize_square(images, self.resolution).float() / 127.5 - 1
        features = self.model.features(x)
        return features, self.model.head(features)


def build_extractor(
    spec: str,
    image_shape: tuple[int, int, int],
    inception_weights: str | None = None,
    resize: str = "tf1-bilinear",
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
    raise GankitError(f"unknown features '{spec}'; use inception, classifier:DATASET (e.g. classifier:digits), pixels")
