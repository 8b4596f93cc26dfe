"""AC-GAN (Odena, Olah & Shlens, ICML 2017): an auxiliary classifier on D's features and the class
log-likelihood term in both players' losses, checked against the formulas written out by hand."""

import math

import pytest
import torch
from torch import nn

from gankit.config import ObjectiveConfig, resolve
from gankit.errors import GankitError
from gankit.models.base import adversarial_logits, class_logits
from gankit.models.dcgan import DCGANDiscriminator
from gankit.models.mlp import MLPDiscriminator
from gankit.models.resnet import ResNetDiscriminator32
from gankit.objectives import AdversarialObjective
from gankit.objectives.penalties import zero_centered_penalty
from gankit.training.loop import Trainer


def log_likelihood_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-mean log softmax(logits)[y], written out: log sum exp minus the correct logit."""
    return (torch.logsumexp(logits, 1) - logits[torch.arange(len(y)), y]).mean()


@pytest.mark.parametrize(
    ("D", "x"),
    [
        (MLPDiscriminator(2, 16, 3, num_classes=5, conditioning="auxiliary"), torch.randn(6, 2)),
        (DCGANDiscriminator(1, 16, 8, num_classes=5, conditioning="auxiliary"), torch.randn(6, 1, 16, 16)),
        (ResNetDiscriminator32(3, 8, num_classes=5, conditioning="auxiliary"), torch.randn(6, 3, 32, 32)),
    ],
    ids=["mlp", "dcgan", "resnet"],
)
def test_auxiliary_discriminator_gives_the_logit_and_k_class_logits_of_its_features_ignoring_labels(D, x):
    features = []
    D.classifier.register_forward_hook(lambda module, inputs, output: features.append(inputs[0]))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    out = D(x, y)
    assert out.shape == (6, 6)
    torch.testing.assert_close(class_logits(out), features[0] @ D.classifier.weight.T + D.classifier.bias)
    torch.testing.assert_close(D(x, torch.zeros_like(y)), out)  # D never sees the label
    assert adversarial_logits(out).shape == (6,)


def test_losses_add_the_weighted_class_cross_entropy_to_both_players():
    torch.manual_seed(0)
    D = MLPDiscriminator(2, 16, 3, num_classes=4, conditioning="auxiliary")
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    y_real, y_fake = torch.randint(0, 4, (8,)), torch.randint(0, 4, (8,))
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", ac_weight=0.7))
    loss_d, stats = objective.discriminator_loss(D, real, fake, y_real, y_fake)
    out_real, out_fake = D(real, y_real), D(fake, y_fake)
    softplus = nn.functional.softplus
    adversarial = softplus(-out_real[:, 0]).mean() + softplus(out_fake[:, 0]).mean()
    classes = log_likelihood_loss(out_real[:, 1:], y_real) + log_likelihood_loss(out_fake[:, 1:], y_fake)
    torch.testing.assert_close(loss_d, adversarial + 0.7 * classes)
    assert float(stats["ac_real_accuracy"]) == pytest.approx(
        float((out_real[:, 1:].argmax(1) == y_real).float().mean())
    )

    loss_g, stats = objective.generator_loss(D, fake, y_fake)
    expected = softplus(-out_fake[:, 0]).mean() + 0.7 * log_likelihood_loss(out_fake[:, 1:], y_fake)
    torch.testing.assert_close(loss_g, expected)
    # an untrained 4-class head is near chance: its cross-entropy is near log 4 (a sanity scale, not the oracle)
    assert float(stats["ac_g"].detach()) == pytest.approx(math.log(4), rel=0.5)


def test_gradient_penalties_see_only_the_adversarial_logit():
    torch.manual_seed(1)
    D = MLPDiscriminator(2, 16, 3, num_classes=3, conditioning="auxiliary")
    x, y = torch.randn(5, 2), torch.tensor([0, 1, 2, 0, 1])

    def only_logit(x, y):
        return D(x, y)[:, 0]

    torch.testing.assert_close(zero_centered_penalty(D, x, y), zero_centered_penalty(only_logit, x, y))


def test_class_logits_of_a_plain_discriminator_is_an_error():
    with pytest.raises(GankitError, match="d_cond=auxiliary"):
        class_logits(torch.zeros(4))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.arch=biggan", "model.d_cond=auxiliary"], "auxiliary"),
        (["model.d_cond=auxiliary", "objective.loss=mmdgan", "model.d_out=4"], "auxiliary"),
        (["objective.ac_weight=0.5"], "ac_weight"),
    ],
)
def test_config_refuses_auxiliary_where_it_does_not_apply(overrides, message):
    with pytest.raises(GankitError, match=message):
        resolve("digits", ["data.conditional=true", *overrides])


def test_acgan_trains_through_the_loop_and_reports_its_class_terms(tmp_path):
    overrides = ["data.conditional=true", "model.d_cond=auxiliary", "data.resolution=8", "model.width=8"]
    quiet = ["train.batch_size=16", "log.progress=false", "log.tensorboard=false", "eval.every=0"]
    trainer = Trainer(resolve("digits", [*overrides, *quiet, "train.steps=2"]), tmp_path)
    stats = trainer.train_step()
    assert {"ac_d", "ac_g", "ac_real_accuracy"} <= set(stats)
    assert float(stats["ac_d"]) > 0 and float(stats["ac_g"]) > 0
    assert trainer.D.classifier is not None and trainer.D.classifier.weight.grad is not None
