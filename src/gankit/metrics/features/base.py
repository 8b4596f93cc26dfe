"""What every feature extractor shares: input validation and batched, gradient-free extraction.

An extractor maps uint8 (N, C, H, W) images to float32 features and, where defined, class logits, and
describes itself with :meth:`FeatureExtractor.settings`, the record of everything that changes the
features (extractor, weights hash, resize), which goes into every result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from tqdm import tqdm

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
