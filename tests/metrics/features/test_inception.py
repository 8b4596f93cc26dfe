"""The FID Inception against torch-fidelity (same weights file, same uint8 images) and, on the real
weights, against NVIDIA's own TorchScript module."""

from __future__ import annotations

import warnings

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.features.inception import InceptionFeatures
from gankit.metrics.features.inception_weights import load_state_dict
from gankit.metrics.features.resize import resize

TORCHSCRIPT = "inception/fid-inception-2015-12-05-torchscript.pt"


def assert_relative(ours: torch.Tensor, reference: torch.Tensor, tolerance: float = 1e-4) -> None:
    """Every element within ``tolerance`` x the largest reference magnitude, and the norms of the
    difference and of the reference in the same ratio."""
    scale = float(reference.abs().max())
    assert scale > 0
    assert float((ours - reference).abs().max()) <= tolerance * scale
    assert float((ours - reference).norm() / reference.norm()) <= tolerance


def torch_fidelity_features(weights, images: torch.Tensor, features=("2048", "logits_unbiased")):
    module = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    extractor = module.FeatureExtractorInceptionV3(
        "inception-v3-compat", list(features), feature_extractor_weights_path=str(weights)
    )
    with torch.no_grad():
        return extractor(images)


@pytest.mark.parametrize("size", [32, 64, 299])
def test_features_and_logits_equal_torch_fidelity(random_inception_weights, size):
    images = torch.randint(0, 256, (6, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(size))
    pool_ref, logits_ref = torch_fidelity_features(random_inception_weights, images)
    pool, logits = InceptionFeatures(random_inception_weights)(images, batch_size=4)
    assert pool.shape == (6, 2048) and logits.shape == (6, 1008)
    assert float(pool.std(0).mean()) > 1e-3 * float(pool.abs().mean())  # features differ between images
    assert_relative(pool, pool_ref)
    assert_relative(logits, logits_ref)


def test_fast_network_equals_the_reference_structure(random_inception_weights):
    images = torch.randint(0, 256, (5, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fast, _ = InceptionFeatures(random_inception_weights, fast=True)(images, batch_size=5)
    plain, _ = InceptionFeatures(random_inception_weights, fast=False)(images, batch_size=2)
    assert_relative(fast, plain, 1e-5)


def test_grayscale_is_replicated_to_three_channels(random_inception_weights):
    gray = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    extractor = InceptionFeatures(random_inception_weights)
    assert torch.allclose(extractor(gray)[0], extractor(gray.expand(-1, 3, -1, -1).contiguous())[0])


def test_resize_is_a_recorded_setting_that_changes_features(random_inception_weights):
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    by_method = {}
    for method in ("tf1-bilinear", "pil-bicubic", "torch-bilinear"):
        extractor = InceptionFeatures(random_inception_weights, resize=method)
        assert extractor.settings()["resize"] == method
        by_method[method] = extractor(images)[0]
    assert not torch.allclose(by_method["tf1-bilinear"], by_method["pil-bicubic"], rtol=1e-3)
    assert not torch.allclose(by_method["tf1-bilinear"], by_method["torch-bilinear"], rtol=1e-3)


def test_bad_inputs_and_weights_are_one_line_errors(random_inception_weights, tmp_path):
    extractor = InceptionFeatures(random_inception_weights)
    with pytest.raises(GankitError, match="uint8"):
        extractor(torch.rand(2, 3, 32, 32))
    with pytest.raises(GankitError, match="shape"):
        extractor(torch.zeros(2, 4, 32, 32, dtype=torch.uint8))
    with pytest.raises(GankitError, match="do not exist"):
        InceptionFeatures(tmp_path / "missing.pth")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(GankitError, match="not a readable weights file"):
        InceptionFeatures(tmp_path / "corrupt.pth")
    torch.save({"layer.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(GankitError, match="not the FID Inception"):
        InceptionFeatures(tmp_path / "other.pth")
    with pytest.raises(GankitError, match="unknown resize"):
        InceptionFeatures(random_inception_weights, resize="lanczos")


def test_without_weights_offline_names_the_file_and_the_option():
    with pytest.raises(GankitError, match="pt_inception-2015-12-05-6726825d.pth.*--inception-weights"):
        InceptionFeatures(download=False)


def real_weights(assets):
    path = assets / TORCHSCRIPT
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_real_weights_torchscript_path_equals_nvidia_module_and_standard_path(assets, tmp_path):
    path = real_weights(assets)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    extractor = InceptionFeatures(path)
    assert extractor.settings()["weights_format"] == "torchscript"
    assert extractor.settings()["weights_sha256"].startswith("7ff4a85c")
    ours, logits = extractor(images)
    assert logits is None
    with pytest.raises(GankitError, match="Inception Score needs the full weights"):
        extractor.require_logits()

    # NVIDIA's module, running its own TorchScript code (trusted test oracle), on the same resized input.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nvidia = torch.jit.load(str(path)).eval()
    with torch.no_grad():
        reference = nvidia((resize(images, 299) - 128) / 128)
    assert_relative(ours, reference)

    # The same weights written as a standard-format file (plus an fc layer) through the standard path,
    # and through torch-fidelity's network.
    state, _ = load_state_dict(path)
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048) * 0.01, torch.zeros(1008)
    standard = tmp_path / "standard.pth"
    torch.save(state, standard)
    from_standard, _ = InceptionFeatures(standard)(images)
    assert_relative(from_standard, ours, 1e-5)
    (pool_ref,) = torch_fidelity_features(standard, images, ("2048",))
    assert_relative(ours, pool_ref)
