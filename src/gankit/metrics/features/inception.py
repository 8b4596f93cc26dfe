"""The FID Inception-v3 as a feature extractor: uint8 images of any size -> 2048-d pool features and
1008 logits without bias (Heusel et al. 2017; Salimans et al. 2016 for the logits).

Pipeline, as in the reference FID code: uint8 -> float32 -> resize to 299 x 299 (TF1 bilinear by
default, see :mod:`gankit.metrics.features.resize`) -> (x - 128) / 128 -> network. Grayscale images
are replicated to three channels. For speed the network runs rearranged for inference
(:mod:`gankit.metrics.features.inception_fast`: folded batch norm, merged 1x1 convolutions,
channels-last); the tests compare its features with torch-fidelity's at 1e-4 relative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit import defaults
from gankit.errors import GankitError
from gankit.metrics.features.base import FeatureExtractor
from gankit.metrics.features.inception_fast import FastFIDInception
from gankit.metrics.features.inception_net import INPUT_SIZE, POOL_DIM, FIDInceptionV3
from gankit.metrics.features.inception_weights import default_weights_path, load_state_dict
from gankit.metrics.features.resize import check_resize_method
from gankit.metrics.features.resize import resize as resize_images
from gankit.runtime.files import sha256_of


def build_network(state: dict[str, torch.Tensor], path: Path | str = "weights") -> tuple[FIDInceptionV3, bool]:
    """The network with ``state`` loaded, and whether it has the fc layer (needed for logits)."""
    network = FIDInceptionV3()
    result = network.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    has_fc = not any(k.startswith("fc.") for k in missing)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        raise GankitError(
            f"{path}: not the FID Inception weights (missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})"
        )
    return network.eval().requires_grad_(False), has_fc


class InceptionFeatures(FeatureExtractor):
    """2048-d pool features (and 1008 unbiased logits when the weights include the fc layer)."""

    name = "inception"
    dim = POOL_DIM

    def __init__(
        self,
        weights: str | Path | None = None,
        resize: str = defaults.RESIZE,
        device: str | torch.device = "cpu",
        fast: bool = True,
        download: bool = True,
    ) -> None:
        super().__init__(device)
        check_resize_method(resize)
        path = Path(weights) if weights else default_weights_path(download)
        state, self.weights_format = load_state_dict(path)
        network, self.has_logits = build_network(state, path)
        self.weights_path, self.weights_sha256 = path, sha256_of(path)
        self.resize = resize
        # Only what forward needs is kept: the (rearranged) network and the fc weight for the logits.
        self.fc_weight = network.fc.weight.detach().to(self.device) if self.has_logits else None
        self.network = (FastFIDInception(network) if fast else network).to(self.device)

    def settings(self) -> dict[str, Any]:
        return {
            "extractor": "inception-v3-fid",
            "weights_sha256": self.weights_sha256,
            "weights_format": self.weights_format,
            "resize": self.resize,
            "input_size": INPUT_SIZE,
        }

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1|3, H, W) -> float32 (N, 3, 299, 299) in [-1, 1) as the network expects."""
        x = resize_images(images, INPUT_SIZE, self.resize)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - 128) / 128

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        pool = self.network(self.preprocess(images))
        return pool, pool @ self.fc_weight.T if self.fc_weight is not None else None

    def require_logits(self) -> None:
        """Raise the one-line error the Inception Score gives for weights without the fc layer."""
        if not self.has_logits:
            raise GankitError(
                f"{self.weights_path} has no fc layer (TorchScript export): the Inception Score needs the full "
                "weights pt_inception-2015-12-05-6726825d.pth; pass them with --inception-weights"
            )
