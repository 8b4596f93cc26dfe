"""gankit experiment eigenfaces: the held-out split, the held-out ranking of PPCA against the full Gaussian,
and (slow) the whole command."""

from __future__ import annotations

import argparse

import pytest
import torch

from gankit.data.faces import load_faces
from gankit.data.images import resize_square
from gankit.experiments import eigenfaces


def test_held_out_split_keeps_one_picture_per_person():
    labels = torch.arange(400) // 10
    train, test = eigenfaces.held_out_split(labels)
    assert len(train) == 360 and torch.equal(labels[test], torch.arange(40))
    assert not set(train.tolist()) & set(test.tolist())


def test_ppca_beats_the_full_gaussian_on_held_out_faces(assets):
    images, labels = load_faces(assets / "faces", download=False)
    small = resize_square(images, 16)  # 256 dimensions keep the full Gaussian cheap
    rows = eigenfaces.held_out_bits(small, labels, [1, 20])
    bits = {row["model"]: row["held_out_bits_per_dim"] for row in rows}
    assert bits["ppca k=20"] < min(bits["ppca k=1"], bits["gaussian (full)"])


@pytest.mark.slow
def test_the_experiment_writes_figures_and_numbers(assets, tmp_path):
    parser = argparse.ArgumentParser()
    eigenfaces.add_arguments(parser)
    parser.add_argument("--out")
    args = parser.parse_args(["--out", str(tmp_path), "--data-root", str(assets / "faces"), "--no-download"])
    result = eigenfaces.run(args)
    for name in ("eigenfaces.png", "samples.png", "explained-variance.png"):
        assert (tmp_path / name).is_file()
    assert result["cumulative"]["399"] == pytest.approx(1.0)
    assert result["components_for_fraction"]["0.90"] < result["components_for_fraction"]["0.95"]
