"""One evaluation: cached features, metrics equal to the functions they wrap, settings, errors."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.evaluate import EvalOptions, cached_features, content_hash, evaluate
from gankit.metrics.features.extractors import PixelFeatures, build_extractor
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid


def images(n: int, seed: int, low: int = 0) -> torch.Tensor:
    return torch.randint(low, 256, (n, 1, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_numbers_equal_the_metric_functions_and_settings_are_recorded():
    real, fake = images(300, 0), images(300, 1, low=40)
    extractor = PixelFeatures((1, 6, 6))
    options = EvalOptions(metrics=("fid", "kid", "pr"), kid_subsets=10, kid_subset_size=100, fid_bootstrap=5)
    result = evaluate(extractor, real, fake, options, cache=False)
    fr, ff = real.flatten(1).float() / 255, fake.flatten(1).float() / 255
    assert result["fid"] == pytest.approx(fid(fr, ff), rel=1e-9)
    assert result["kid_mean"] == pytest.approx(kid(fr, ff, 10, 100)["kid_mean"], rel=1e-9)
    assert result["fid_ci_low"] <= result["fid"] <= result["fid_ci_high"]
    assert 0 <= result["precision"] <= 1 and result["n_real"] == 300
    settings = result["settings"]
    assert settings["extractor"] == "pixels" and settings["kid_subset_size"] == 100 and settings["kid_seed"] == 2020
    assert result["real_sha256"] == content_hash(real) != content_hash(fake)


def test_features_are_cached_by_content(gankit_home):
    extractor = PixelFeatures((1, 6, 6))
    first = cached_features(extractor, images(10, 0))
    files = list((gankit_home / "features").iterdir())
    assert len(files) == 1 and files[0].name.startswith(first.sha256[:32])
    files[0].write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="unreadable feature cache"):
        again = cached_features(extractor, images(10, 0))
    assert torch.equal(first.features, again.features)
    cached = cached_features(extractor, images(10, 0))  # now read back from the rewritten file
    assert torch.equal(first.features, cached.features)


def test_errors_name_the_option_to_change():
    extractor = PixelFeatures((1, 6, 6))
    with pytest.raises(GankitError, match="--kid-subset-size"):
        evaluate(extractor, images(50, 0), images(50, 1), EvalOptions(metrics=("kid",)), cache=False)
    with pytest.raises(GankitError, match="needs class logits, which pixels features do not give"):
        evaluate(extractor, images(50, 0), images(50, 1), EvalOptions(metrics=("is",)), cache=False)
    with pytest.raises(GankitError, match="unknown metric 'lpips'"):
        EvalOptions(metrics=("fid", "lpips"))
    with pytest.raises(GankitError, match="unknown features 'vgg'"):
        build_extractor("vgg", (1, 6, 6))
    with pytest.raises(GankitError, match="same size"):
        evaluate(
            extractor,
            images(50, 0),
            torch.zeros(50, 1, 7, 7, dtype=torch.uint8),
            EvalOptions(metrics=("fid",)),
            cache=False,
        )


def test_classifier_features_give_logits_and_the_inception_score():
    from gankit.data.images import load_digits

    digits, labels = load_digits(16)
    extractor = build_extractor("classifier:digits", (1, 16, 16))
    features, logits = extractor(digits[:200])
    assert features.shape == (200, 128) and logits.shape == (200, 10)
    assert float((logits.argmax(1) == labels[:200]).float().mean()) > 0.9
    result = evaluate(extractor, digits, digits, EvalOptions(metrics=("is",)), cache=False)
    assert 8 < result["is_mean"] <= 10  # ten nearly balanced, confidently classified classes: IS near 10
