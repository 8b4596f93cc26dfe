"""The extractor factory's ``inception`` path on the real FID weights (against NVIDIA's own TorchScript module),
and the small classifier's training deterministic without its cache (two trainings from scratch)."""

from __future__ import annotations

import warnings

import pytest
import torch

from gankit.metrics.features.classifier import cache_path, load_or_train, train_classifier
from gankit.metrics.features.extractors import build_extractor
from gankit.metrics.features.resize import resize

TORCHSCRIPT = "inception/fid-inception-2015-12-05-torchscript.pt"


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_factory_inception_path_uses_the_given_weights_and_resize(assets):
    path = assets / TORCHSCRIPT
    if not path.is_file():
        pytest.skip(f"{path} not found")
    extractor = build_extractor("inception", (1, 28, 28), inception_weights=str(path), resize="torch-bilinear")
    settings = extractor.settings()
    assert settings["extractor"] == "inception-v3-fid" and settings["resize"] == "torch-bilinear"
    assert settings["weights_sha256"].startswith("7ff4a85c")
    gray = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    features, logits = extractor(gray)
    assert features.shape == (2, 2048) and logits is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nvidia = torch.jit.load(str(path)).eval()  # NVIDIA's own module: a trusted test oracle
    with torch.no_grad():
        reference = nvidia((resize(gray.expand(-1, 3, -1, -1), 299, "torch-bilinear") - 128) / 128)
    assert float((features - reference).abs().max()) <= 1e-4 * float(reference.abs().max())


def test_classifier_training_is_deterministic_without_the_cache():
    first, record = train_classifier("digits", 8, seed=1, epochs=1)
    assert not cache_path("digits", 8, 1).exists()  # trained, not read back
    torch.manual_seed(12345)  # the caller's global random state must not matter
    torch.rand(7)
    second, again = train_classifier("digits", 8, seed=1, epochs=1)
    assert record["accuracy"] == again["accuracy"]
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    other, _ = train_classifier("digits", 8, seed=2, epochs=1)
    assert not all(torch.equal(t, other.state_dict()[n]) for n, t in first.state_dict().items())
    cached, _ = load_or_train("digits", 8, seed=1, epochs=1)  # the first use trains and caches the same weights
    assert cache_path("digits", 8, 1).is_file()
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, cached.state_dict()[name]), name
