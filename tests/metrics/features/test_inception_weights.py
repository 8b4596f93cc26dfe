"""Download with SHA-256 verification (exercised through a file:// URL), and the weights cache."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.features.inception_net import BasicConv2d, FIDInceptionV3
from gankit.metrics.features.inception_weights import (
    _torchscript_layer_names,
    default_weights_path,
    sha256_of,
    torchscript_to_standard,
)


def test_download_is_verified_and_cached(tmp_path, gankit_home):
    source = tmp_path / "release.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.ones(1)}, source)
    url = source.as_uri()
    with pytest.raises(GankitError, match="SHA-256 .* expected 00"):
        default_weights_path(url=url, sha256="00" * 32)
    assert not any((gankit_home / "weights").iterdir())  # the bad download left nothing behind
    path = default_weights_path(url=url, sha256=sha256_of(source))
    assert path == gankit_home / "weights" / "pt_inception-2015-12-05-6726825d.pth"
    assert path.read_bytes() == source.read_bytes()
    source.unlink()
    assert default_weights_path(url=url, sha256="ignored once cached") == path


def test_unreachable_download_says_how_to_provide_the_file(tmp_path):
    with pytest.raises(GankitError, match="cannot download .* --inception-weights PATH"):
        default_weights_path(url=(tmp_path / "nowhere.pth").as_uri())


def test_torchscript_names_cover_all_94_convolutions_once():
    network = FIDInceptionV3()
    convolutions = {name for name, module in network.named_modules() if isinstance(module, BasicConv2d)}
    mapping = _torchscript_layer_names()
    assert len(convolutions) == 94
    assert sorted(mapping.values()) == sorted(convolutions)
    with pytest.raises(GankitError, match="parameter .* is missing"):
        torchscript_to_standard({})
