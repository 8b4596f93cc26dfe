"""A randomly initialised FID Inception state dict in the standard file format, with batch-norm
statistics calibrated on random images so that activations keep a sensible scale through 94 layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gankit.metrics.features.inception_net import FIDInceptionV3


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1234)
    network = FIDInceptionV3()
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: running stats = statistics of the calibration batch
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    network.train()
    with torch.no_grad():
        network(torch.rand(4, 3, 299, 299) * 2 - 1)
    network.eval()
    path = tmp_path_factory.mktemp("inception") / "random-standard-format.pth"
    torch.save(network.state_dict(), path)
    return path
