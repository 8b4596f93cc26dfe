"""Olivetti faces: the file's layout, upright images, checked downloads that never leave partial files."""

from __future__ import annotations

import shutil

import pytest
import torch

from gankit.data import faces
from gankit.errors import GankitError


def test_reads_400_upright_faces_of_40_people(assets):
    images, labels = faces.load_faces(assets / "faces", download=False)
    assert images.shape == (400, 1, 64, 64) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and torch.equal(torch.bincount(labels), torch.full((40,), 10))
    assert int(images.min()) >= 0 and 200 < int(images.max()) <= 255
    # a face is nearly symmetric left-right, not top-bottom: a transposed read would swap the two
    mean = images.double().mean(0)[0]
    mean = mean - mean.mean()

    def correlation(a, b):
        return float((a * b).sum() / (a.norm() * b.norm()))

    assert correlation(mean, mean.flip(1)) > 0.9 > correlation(mean, mean.flip(0))
    # a person's pictures are closer to each other than to anyone else's, on average, for every person
    flat = images.flatten(1).double()
    distances = torch.cdist(flat, flat)
    same = labels[:, None] == labels[None, :]
    within = (distances * same).sum(1) / 9
    between = (distances * ~same).sum(1) / 390
    assert float((within < between).double().mean()) > 0.95


def test_download_is_checked_and_lands_in_the_cache(assets, gankit_home, monkeypatch):
    monkeypatch.setattr(faces, "FACES_URL", (assets / "faces" / faces.FACES_FILE).as_uri())
    images, _ = faces.load_faces()
    folder = gankit_home / "datasets" / "faces"
    assert images.shape == (400, 1, 64, 64)
    assert sorted(p.name for p in folder.iterdir()) == [faces.FACES_FILE]


def test_a_corrupt_download_leaves_nothing(assets, gankit_home, tmp_path, monkeypatch):
    bad = tmp_path / "olivettifaces.mat"
    shutil.copy(assets / "faces" / faces.FACES_FILE, bad)
    with open(bad, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00\x01")
    monkeypatch.setattr(faces, "FACES_URL", bad.as_uri())
    with pytest.raises(GankitError, match="SHA-256"):
        faces.load_faces()
    assert list((gankit_home / "datasets" / "faces").iterdir()) == []


def test_offline_is_one_line_naming_url_and_folder(gankit_home, tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere" / "olivettifaces.mat").as_uri()
    monkeypatch.setattr(faces, "FACES_URL", missing)
    with pytest.raises(GankitError) as info:
        faces.load_faces()
    message = str(info.value)
    assert "\n" not in message and missing in message
    assert str(gankit_home / "datasets" / "faces") in message and "$GANKIT_HOME/datasets/faces" in message
    with pytest.raises(GankitError, match="downloading is off"):
        faces.load_faces(download=False)


def test_a_damaged_local_file_is_refused(assets, tmp_path):
    shutil.copy(assets / "faces" / faces.FACES_FILE, tmp_path / faces.FACES_FILE)
    with open(tmp_path / faces.FACES_FILE, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(GankitError, match="fails its SHA-256 check"):
        faces.load_faces(tmp_path, download=False)


def test_splits_hold_out_each_persons_tenth_picture(assets, gankit_home):
    import shutil

    from gankit.config import DataConfig
    from gankit.data import load_image_dataset
    from gankit.metrics.sources import load_source

    folder = gankit_home / "datasets" / "faces"
    folder.mkdir(parents=True)
    shutil.copy(assets / "faces" / faces.FACES_FILE, folder / faces.FACES_FILE)
    everything, labels = faces.load_faces(download=False)
    train, train_labels = faces.split_faces(everything, labels, "train")
    test, test_labels = faces.split_faces(everything, labels, "test")
    assert len(train) == 360 and len(test) == 40
    assert torch.equal(test_labels, torch.arange(40)) and torch.equal(
        torch.bincount(train_labels), torch.full((40,), 9)
    )
    assert torch.equal(test, everything[9::10]) and torch.equal(train[:9], everything[:9])
    data, classes = load_image_dataset(DataConfig(name="faces", split="test", resolution=32, download=False))
    assert classes == 40 and data.images.shape == (40, 1, 32, 32)
    assert load_source("faces-all@16").images.shape == (400, 1, 16, 16)
    with pytest.raises(GankitError, match="unknown split 'val'"):
        faces.split_faces(everything, labels, "val")
