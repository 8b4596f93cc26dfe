import pytest
import torch

from gankit.cli import main
from gankit.config import resolve
from gankit.errors import GankitError
from gankit.metrics.features.classifier import FEATURE_DIM, cache_path, load_or_train
from gankit.training.loop import Trainer


def test_digits_classifier_is_accurate_deterministic_and_cached(capsys):
    model, record = load_or_train("digits", 16, seed=0)
    # a small CNN on the 1,797 UCI digits: well above 90% on the 179 held-out images
    assert record["accuracy"] > 0.9 and record["heldout"] == 179
    assert cache_path("digits", 16, 0).is_file()
    again, _ = load_or_train("digits", 16, seed=0)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name])
    features = model.features(torch.zeros(3, 1, 16, 16))
    assert features.shape == (3, FEATURE_DIM) and not features.requires_grad
    assert main(["features", "train", "--dataset", "digits", "--resolution", "16"]) == 0
    assert f"held-out accuracy {record['accuracy']:.4f}" in capsys.readouterr().out


def test_gmmn_in_classifier_feature_space(tmp_path):
    overrides = [
        "mmd.features=classifier",
        "train.steps=3",
        "train.batch_size=32",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    trainer = Trainer(resolve("digits-gmmn", overrides), tmp_path)
    stats = trainer.train_step()
    assert torch.isfinite(stats["loss_g"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.G.parameters())


def test_classifier_features_only_for_gmmn():
    import pytest

    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="mmd.features=classifier is for objective.loss=gmmn"):
        resolve("digits-mmdgan", ["mmd.features=classifier"])


def test_classifier_fitted_on_a_labelled_npz_is_cached_by_content_and_refuses_unlabelled_files(tmp_path):
    import numpy as np

    from gankit.data.images import load_digits
    from gankit.metrics.features.extractors import build_extractor
    from gankit.runtime.home import gankit_home

    images, labels = load_digits(16)
    labelled, unlabelled = tmp_path / "digits.npz", tmp_path / "plain.npz"
    np.savez(labelled, x=images.numpy(), y=labels.numpy())
    np.savez(unlabelled, x=images.numpy())
    extractor = build_extractor(f"classifier:{labelled}", (1, 16, 16))
    _, logits = extractor(images)
    assert extractor.record["accuracy"] > 0.9 and extractor.record["dataset"] == str(labelled)
    assert int((logits.argmax(1) == labels).sum()) / len(labels) > 0.9
    cached = list((gankit_home() / "classifiers").glob("data-*-16px-seed0.safetensors"))
    assert len(cached) == 1 and extractor.settings()["data_sha256"] in cached[0].name
    again = build_extractor(f"classifier:{labelled}", (1, 16, 16))  # read from the cache: the same weights
    assert torch.equal(again(images[:8])[1], extractor(images[:8])[1])
    with pytest.raises(GankitError, match="no labels"):
        build_extractor(f"classifier:{unlabelled}", (1, 16, 16))
