"""The plumbing of the use commands: data specs, the command registry (only the chosen command imported), the
eigenfaces experiment's registration, the classifier fitted to an .npz's labelled images."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from gankit.cli import build_parser
from gankit.data.images import load_digits
from gankit.errors import GankitError
from gankit.uses.commands import USES
from gankit.uses.commands.common import FittedClassifierFeatures, data_config, load_data, load_model


@pytest.mark.parametrize(
    ("spec", "name", "split", "resolution"),
    [
        ("mnist", "mnist", "train", 28),
        ("fashion-mnist-test", "fashion-mnist", "test", 28),
        ("faces-all", "faces", "all", 64),
    ],
)
def test_data_specs(spec, name, split, resolution):
    config = data_config(spec, None)
    assert (config.name, config.split, config.resolution) == (name, split, resolution)


@pytest.mark.parametrize(
    ("spec", "message"), [("svhn", "unknown data 'svhn'"), ("digits-test", "no splits"), ("mnist-all", "only faces")]
)
def test_bad_specs(spec, message):
    with pytest.raises(GankitError, match=message):
        data_config(spec, None)


def test_npz_at_its_own_size_and_the_fitted_classifier(tmp_path):
    images, labels = load_digits(8)
    np.savez(tmp_path / "d.npz", x=images[:400, 0].numpy(), y=labels[:400].numpy())
    data = load_data(str(tmp_path / "d.npz"))
    assert data.images.shape == (400, 1, 8, 8) and torch.equal(data.labels, labels[:400])
    features = FittedClassifierFeatures(data)
    assert (
        features.record["accuracy"] > 0.5
        and features.record["heldout"] == 40
        and features.settings()["data_sha256"] == features.record["sha256"]
    )
    again = FittedClassifierFeatures(data)  # read from the cache, not retrained
    torch.testing.assert_close(features(images[:5])[0], again(images[:5])[0])


def test_only_the_chosen_command_is_imported(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("gankit.uses.commands.")]:
        monkeypatch.delitem(sys.modules, name)
    build_parser(["use", "inpaint"])
    loaded = {m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("gankit.uses.commands.")}
    assert loaded == {"inpaint", "common"}
    args = build_parser(["use", "anomaly"]).parse_args(["use", "anomaly", "--normal-class", "3"])
    assert args.normal_class == 3 and set(USES) >= {"inpaint", "anomaly", "representatives", "structure"}


def test_eigenfaces_experiment_is_registered(tmp_path):
    argv = ["experiment", "eigenfaces", "--components", "10", "--no-download", "--out", str(tmp_path)]
    args = build_parser(argv).parse_args(argv)
    assert args.components == 10 and args.no_download


def test_a_run_loads_with_its_discriminator(gan_run):
    model = load_model(str(gan_run))
    assert model.discriminator is not None and not model.discriminator.training
    assert model.record["kind"] == "gan" and model.resolution == 8 and model.data.name == "digits"
