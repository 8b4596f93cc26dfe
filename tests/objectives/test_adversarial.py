"""Loss values against hand-computed logits, in plain ``math`` (an independent oracle)."""

import math

import pytest
import torch
from torch import nn

from gankit.config import Config, ObjectiveConfig
from gankit.errors import GankitError
from gankit.objectives import build_objective
from gankit.objectives.adversarial import (
    hinge_d_loss,
    hinge_g_loss,
    logistic_d_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
)

REAL = [2.0, -1.0, 0.25]
FAKE = [0.5, -3.0, 1.5]


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_logistic_d_loss_is_binary_cross_entropy():
    expected = -mean(math.log(sigmoid(v)) for v in REAL) - mean(math.log(1 - sigmoid(v)) for v in FAKE)
    assert logistic_d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_minimax_g_loss_is_log_one_minus_d():
    expected = mean(math.log(1 - sigmoid(v)) for v in FAKE)
    assert minimax_g_loss(t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_nonsaturating_g_loss_is_minus_log_d():
    expected = -mean(math.log(sigmoid(v)) for v in FAKE)
    assert nonsaturating_g_loss(t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_hinge_losses():
    expected_d = mean(max(0.0, 1 - v) for v in REAL) + mean(max(0.0, 1 + v) for v in FAKE)
    assert hinge_d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert hinge_g_loss(t(FAKE)).item() == pytest.approx(-mean(FAKE), rel=1e-12)


def test_extreme_logits_stay_finite_and_exact():
    # log(1 + e^100) = 100 + log(1 + e^-100) = 100 to double precision; a naive log(sigmoid) gives -inf.
    big = t([100.0])
    assert logistic_d_loss(-big, big).item() == pytest.approx(200.0, rel=1e-12)
    assert nonsaturating_g_loss(-big).item() == pytest.approx(100.0, rel=1e-12)
    assert minimax_g_loss(big).item() == pytest.approx(-100.0, rel=1e-12)


def test_minimax_generator_gradient_vanishes_where_d_rejects_fakes():
    """The lecture's heuristic: with D confident (logit -10), d/dl log(1-D) = -sigmoid(l) ~ 4.5e-5,
    while d/dl -log D = -(1 - sigmoid(l)) ~ -1."""
    logit = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (grad_minimax,) = torch.autograd.grad(minimax_g_loss(logit), logit)
    (grad_ns,) = torch.autograd.grad(nonsaturating_g_loss(logit), logit)
    assert grad_minimax.item() == pytest.approx(-sigmoid(-10.0), rel=1e-9)
    assert grad_ns.item() == pytest.approx(-(1 - sigmoid(-10.0)), rel=1e-9)


class Fixed(nn.Module):
    """A 'discriminator' that returns its input's first column as the logit."""

    num_classes = 0

    def forward(self, x, y=None):
        return x[:, 0]


def test_objective_reports_logits_and_accuracy():
    objective = build_objective(Config(objective=ObjectiveConfig(loss="ns")))
    real, fake = t(REAL)[:, None], t(FAKE)[:, None]
    loss, stats = objective.discriminator_loss(Fixed(), real, fake)
    assert loss.item() == pytest.approx(logistic_d_loss(t(REAL), t(FAKE)).item())
    assert stats["d_real"].item() == pytest.approx(mean(REAL))
    assert stats["d_accuracy"].item() == pytest.approx(0.5 * (2 / 3 + 1 / 3))
    g_loss, _ = objective.generator_loss(Fixed(), fake)
    assert g_loss.item() == pytest.approx(nonsaturating_g_loss(t(FAKE)).item())


def test_unknown_loss():
    with pytest.raises(GankitError, match="valid losses: minimax, ns, hinge, wasserstein, gmmn, mmdgan, smmd"):
        build_objective(Config(objective=ObjectiveConfig(loss="wgan-typo")))
