"""Anomaly detection: AUROC against the Mann-Whitney count, the one-class plumbing (perfect -> 1, reversed
-> 0), density and kNN scores on shifted Gaussians, D and AnoGAN scores, published numbers."""

from __future__ import annotations

import itertools

import pytest
import torch
from sklearn.metrics import roc_auc_score

from gankit.errors import GankitError
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.uses import anomaly


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_auroc_is_the_probability_that_an_anomaly_scores_higher():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (40,), generator=g).double()  # many ties
    truth = (torch.rand(40, generator=g) < 0.4).long()
    anomalies, normals = scores[truth == 1], scores[truth == 0]
    pairs = list(itertools.product(anomalies.tolist(), normals.tolist()))
    mann_whitney = sum(1.0 if a > n else 0.5 if a == n else 0.0 for a, n in pairs) / len(pairs)
    assert anomaly.auroc(scores, truth) == pytest.approx(mann_whitney, abs=1e-12)
    assert anomaly.auroc(scores, truth) == pytest.approx(roc_auc_score(truth.numpy(), scores.numpy()))


def labelled_blobs(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes in 5-D: N(0, I), N(3 e_1, I), N(0, 9 I)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    x[labels == 1, 0] += 3
    x[labels == 2] *= 3
    return x, labels


def test_the_protocol_gives_one_for_a_perfect_score_and_zero_for_a_reversed_one():
    train, train_labels = labelled_blobs(0, 300)
    test, test_labels = labelled_blobs(1, 150)

    def oracle(sign: float) -> anomaly.Scorer:
        def fit(train_images):
            normal_class = int(train_labels[(train - train_images[0]).abs().sum(1) == 0][0])
            return lambda images: sign * anomaly.anomaly_labels(test_labels, normal_class).double()

        return fit

    perfect = anomaly.one_class_auroc(train, train_labels, test, test_labels, oracle(1.0))
    reversed_ = anomaly.one_class_auroc(train, train_labels, test, test_labels, oracle(-1.0))
    assert perfect["per_class"] == {0: 1.0, 1: 1.0, 2: 1.0} and perfect["mean"] == 1.0
    assert reversed_["per_class"] == {0: 0.0, 1: 0.0, 2: 0.0}
    assert perfect["train_counts"] == {0: 100, 1: 100, 2: 100} and perfect["test_count"] == 150


def test_density_and_knn_scores_rank_the_other_gaussians_higher():
    train, train_labels = labelled_blobs(2, 900)
    test, test_labels = labelled_blobs(3, 600)
    for scorer in (anomaly.gaussian_nll(), anomaly.ppca_nll(2), anomaly.knn_distance(5)):
        result = anomaly.one_class_auroc(train, train_labels, test, test_labels, scorer, classes=[0])
        assert result["per_class"][0] > 0.9
    # a Gaussian's NLL is a quadratic: the wide class 2 as "normal" makes the tight classes look normal
    wide = anomaly.one_class_auroc(train, train_labels, test, test_labels, anomaly.gaussian_nll(), classes=[2])
    assert wide["per_class"][2] < 0.5


def test_absent_classes_and_missing_discriminators_are_errors():
    train, train_labels = labelled_blobs(0, 30)
    with pytest.raises(GankitError, match="class 7 is absent from the training labels; classes present: 0, 1, 2"):
        anomaly.one_class_auroc(train, train_labels, train, train_labels, anomaly.gaussian_nll(), classes=[7])
    with pytest.raises(GankitError, match="absent from the test labels"):
        anomaly.one_class_auroc(train, train_labels, train, torch.ones(30, dtype=torch.long), anomaly.gaussian_nll())
    generator = DCGANGenerator(4, 1, 8, width=8)
    with pytest.raises(GankitError, match="needs the discriminator"):
        anomaly.anogan_scores(generator, None, torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(GankitError, match="one logit"):
        anomaly.discriminator_scores(DCGANDiscriminator(1, 8, 8, out_features=4), torch.zeros(2, 1, 8, 8))
    with pytest.raises(GankitError, match="do not match the generator"):
        anomaly.anogan_scores(generator, DCGANDiscriminator(1, 16, 8), torch.zeros(2, 1, 16, 16))


def test_discriminator_features_are_the_input_of_the_last_layer(one_thread):
    discriminator = DCGANDiscriminator(1, 16, 8).eval()
    x = torch.randn(3, 1, 16, 16)
    features, logits = anomaly.discriminator_features(discriminator, x)
    torch.testing.assert_close(features, discriminator.net[:-1](x).flatten(1))
    torch.testing.assert_close(logits, discriminator(x))
    torch.testing.assert_close(anomaly.discriminator_scores(discriminator, x), -discriminator(x))


@pytest.mark.parametrize("discrimination", ["features", "logits"])
def test_anogan_scores_the_generators_own_images_lower(one_thread, discrimination):
    torch.manual_seed(0)
    generator = DCGANGenerator(4, 1, 8, width=16)
    for module in generator.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(module.weight, 0.0, 0.2)
    generator.eval()
    discriminator = DCGANDiscriminator(1, 8, 8).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        own = generator(generator.sample_latent(8, g))
    noise = torch.rand(8, 1, 8, 8, generator=g) * 2 - 1
    scores = anomaly.anogan_scores(
        generator,
        discriminator,
        torch.cat([own, noise]),
        discrimination=discrimination,
        steps=100,
        restarts=2,
        rng=torch.Generator().manual_seed(2),
    )
    assert anomaly.auroc(scores, torch.tensor([0] * 8 + [1] * 8)) == 1.0
    assert float(scores[:8].max()) < 0.2 * float(scores[8:].min())


def test_published_numbers_are_complete():
    assert set(anomaly.RUFF2018_MNIST) == {"KDE", "AnoGAN", "Deep SVDD (one-class)"}
    assert all(len(column) == 10 for column in anomaly.RUFF2018_MNIST.values())
    means = anomaly.published_means()
    assert means["Deep SVDD (one-class)"] == pytest.approx(94.8) and means["KDE"] < means["AnoGAN"]
