import gzip

import numpy as np
import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.semisupervised import SemiSupervisedMLPDiscriminator
from gankit.uses.semisupervised import (
    error_rate,
    labelled_subset,
    supervised_baseline,
    to_unit_range,
    train_supervised,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks train many times faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_labelled_subset_takes_per_class_examples_of_every_class():
    labels = torch.arange(300) % 10
    chosen = labelled_subset(labels, per_class=4, seed=3)
    assert len(chosen) == 40 and len(set(chosen.tolist())) == 40
    assert torch.equal(torch.bincount(labels[chosen]), torch.full((10,), 4))
    assert torch.equal(chosen, labelled_subset(labels, 4, seed=3))
    assert not torch.equal(chosen, labelled_subset(labels, 4, seed=4))
    with pytest.raises(GankitError, match="class 2 has 1 examples"):
        labelled_subset(torch.tensor([0, 0, 1, 1, 2]), per_class=2)


class Lookup(nn.Module):
    """Predicts a fixed class per input row (the first pixel), to check the error count exactly."""

    def forward(self, x):
        return nn.functional.one_hot(x.flatten(1)[:, 0].long(), 3).float()


def test_error_rate_counts_wrong_argmax_predictions():
    predictions = torch.tensor([0, 1, 2, 2, 1, 0, 0])
    labels = torch.tensor([0, 1, 1, 2, 0, 0, 2])
    model = Lookup().train()
    assert error_rate(model, predictions[:, None].float(), labels, batch_size=3) == pytest.approx(3 / 7)
    assert model.training


def test_supervised_training_fits_a_separable_toy_problem_reproducibly():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(40) % 4
    prototypes = torch.rand(4, 1, 4, 4, generator=g) * 2 - 1
    x = (prototypes[labels] + 0.1 * torch.randn(40, 1, 4, 4, generator=g)).clamp(-1, 1)

    def run(noise, steps, disturb=0):
        torch.manual_seed(0)
        model = SemiSupervisedMLPDiscriminator(
            (1, 4, 4), out_features=4, widths=(32, 16), input_noise=noise, hidden_noise=noise
        )
        torch.manual_seed(disturb)  # whatever the global generator's state, the seed decides
        return model, train_supervised(model, x, labels, steps=steps, batch_size=20, seed=5)

    model, losses = run(0.0, 60)
    assert losses[-1] < 0.1 * losses[0]
    assert error_rate(model, x, labels) == 0
    # with the noise layers on, the seed fixes the labelled batches and the noise alike
    assert run(0.3, 5, disturb=1)[1] == run(0.3, 5, disturb=2)[1]


def read_idx(path, offset):
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=offset)


@pytest.mark.slow
def test_supervised_baseline_on_100_mnist_labels_beats_chance_by_far(assets):
    with np.load(assets / "mnist" / "train-first10k.npz") as archive:
        train_x, train_y = torch.from_numpy(archive["x"]).unsqueeze(1), torch.from_numpy(archive["y"].astype(np.int64))
    test_x = torch.from_numpy(
        read_idx(assets / "mnist" / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy()
    )
    test_y = torch.from_numpy(read_idx(assets / "mnist" / "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    result = supervised_baseline(train_x, train_y, test_x[:2000], test_y[:2000], seeds=(0,), steps=100)
    assert result["rows"][0]["labels"] == 100
    assert result["test_error_mean"] < 0.4  # chance is 0.9; 100 labels alone give about 0.25


def test_bad_input_is_a_one_line_error():
    with pytest.raises(GankitError, match="uint8"):
        to_unit_range(torch.zeros(2, 1, 4, 4))
    with pytest.raises(GankitError, match="as many labels"):
        error_rate(Lookup(), torch.zeros(3, 1), torch.zeros(2, dtype=torch.long))
    with pytest.raises(GankitError, match="differ in shape"):
        supervised_baseline(
            torch.zeros(10, 1, 28, 28, dtype=torch.uint8),
            torch.zeros(10, dtype=torch.long),
            torch.zeros(10, 1, 32, 32, dtype=torch.uint8),
            torch.zeros(10, dtype=torch.long),
        )
