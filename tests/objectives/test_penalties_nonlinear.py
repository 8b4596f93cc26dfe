"""Gradient penalties on critics whose input gradient changes from point to point, so that evaluating a penalty
at the wrong points (real data instead of interpolates) or dropping its weight changes the number.

Oracles: the closed-form gradient of a quadratic critic, and central finite differences of an explicit numpy
witness function (Binkowski et al., ICLR 2018, Sec. 3) for the MMD GAN penalty."""

import numpy as np
import pytest
import torch
from torch import nn

from gankit.config import MMDConfig, ObjectiveConfig
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel
from gankit.objectives import AdversarialObjective, MMDObjective
from gankit.objectives.adversarial import wasserstein_d_loss, wasserstein_g_loss
from gankit.objectives.base import StepContext
from gankit.objectives.penalties import gradient_penalty, zero_centered_penalty

A = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 0.5], [0.3, 0.0, 2.0]], dtype=torch.float64)


class QuadraticCritic(nn.Module):
    """D(x) = x^T A x + b: grad_x D = (A + A^T) x, different at every point."""

    num_classes = 0

    def __init__(self):
        super().__init__()
        self.A = nn.Parameter(A.clone())
        self.b = nn.Parameter(torch.tensor(0.2, dtype=torch.float64))

    def forward(self, x, y=None):
        return ((x @ self.A) * x).sum(1) + self.b


class TanhCritic(nn.Module):
    """phi(x) = tanh(W x): a nonlinear feature map for the MMD GAN critic."""

    num_classes = 0

    def __init__(self, seed=0):
        super().__init__()
        self.W = nn.Parameter(torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))

    def forward(self, x, y=None):
        return torch.tanh(x @ self.W.T)


def draws(n=24, d=3, shift=0.0, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def eps_of(real, seed=7):
    """The mixing weights a standalone step context with ``seed`` gives the objective."""
    return StepContext.standalone(len(real), seed=seed).random.rand_per_sample(real)


def quadratic_gp(real, fake, eps, one_sided=False):
    x_hat = eps * real + (1 - eps) * fake
    excess = (x_hat @ (A + A.T).T).norm(dim=1) - 1
    return (excess.clamp(min=0) if one_sided else excess).pow(2).mean().item()


@pytest.mark.parametrize("one_sided", [False, True])
def test_wgan_gp_is_taken_at_the_interpolates_for_a_quadratic_critic(one_sided):
    real, fake = draws(seed=1), 0.2 * draws(seed=2)
    eps = torch.rand(len(real), 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    value = gradient_penalty(QuadraticCritic(), real, fake, one_sided=one_sided, eps=eps).item()
    assert value == pytest.approx(quadratic_gp(real, fake, eps, one_sided), rel=1e-12)
    # the same critic at the real points or at the fakes gives another number
    assert value != pytest.approx(quadratic_gp(real, fake, torch.ones_like(eps), one_sided), rel=1e-3)
    assert value != pytest.approx(quadratic_gp(real, fake, torch.zeros_like(eps), one_sided), rel=1e-3)


def test_r2_is_taken_at_the_fakes_and_every_weight_multiplies_its_penalty():
    real, fake = draws(seed=4), 0.3 * draws(seed=5, shift=1.0)
    D = QuadraticCritic()
    grad_sq = lambda x: (x @ (A + A.T).T).pow(2).sum(1).mean().item()  # noqa: E731
    assert zero_centered_penalty(D, fake).item() == pytest.approx(grad_sq(fake), rel=1e-12)
    plain, _ = AdversarialObjective(ObjectiveConfig(loss="wasserstein")).discriminator_loss(D, real, fake)
    config = ObjectiveConfig(loss="wasserstein", gp=7.0, r1=3.0, r2=0.5)
    loss, stats = AdversarialObjective(config).discriminator_loss(D, real, fake, ctx=StepContext.standalone(24, 7))
    gp = quadratic_gp(real, fake, eps_of(real))
    assert stats["gp"].item() == pytest.approx(gp, rel=1e-12)
    assert stats["r1"].item() == pytest.approx(grad_sq(real), rel=1e-12)
    assert stats["r2"].item() == pytest.approx(grad_sq(fake), rel=1e-12)
    expected = plain.item() + 7.0 * gp + 0.5 * 3.0 * grad_sq(real) + 0.5 * 0.5 * grad_sq(fake)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_wasserstein_losses_are_the_kantorovich_rubinstein_differences():
    real_logits = torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64)
    fake_logits = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    assert wasserstein_d_loss(real_logits, fake_logits).item() == pytest.approx(-0.25 - 3.0, rel=1e-15)
    assert wasserstein_g_loss(fake_logits).item() == pytest.approx(0.25, rel=1e-15)
    D, real, fake = QuadraticCritic(), draws(seed=8), draws(seed=9, shift=0.5)
    objective = AdversarialObjective(ObjectiveConfig(loss="wasserstein"))
    loss, stats = objective.discriminator_loss(D, real, fake)
    with torch.no_grad():
        d_real, d_fake = D(real).mean().item(), D(fake).mean().item()
    assert loss.item() == pytest.approx(d_fake - d_real, rel=1e-12)
    assert stats["wasserstein_estimate"].item() == pytest.approx(d_real - d_fake, rel=1e-12)
    assert objective.generator_loss(D, fake)[0].item() == pytest.approx(-d_fake, rel=1e-12)


def numpy_witness_gradient(W, bandwidth, phi_real, phi_fake, x, h=1e-6):
    """Central differences of f(x) = mean_i k(tanh(Wx), phi_r_i) - mean_j k(tanh(Wx), phi_f_j), k Gaussian."""

    def f(point):
        phi = np.tanh(W @ point)
        k = lambda rows: np.exp(-((rows - phi) ** 2).sum(1) / (2 * bandwidth**2)).mean()  # noqa: E731
        return k(phi_real) - k(phi_fake)

    grad = np.zeros_like(x)
    for i in range(len(x)):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def witness_penalty_by_hand(D, real, fake, eps, bandwidth):
    W = D.W.detach().numpy()
    phi_real, phi_fake = (D(real).detach().numpy(), D(fake).detach().numpy())
    x_hat = (eps * real + (1 - eps) * fake).numpy()
    norms = [np.linalg.norm(numpy_witness_gradient(W, bandwidth, phi_real, phi_fake, x)) for x in x_hat]
    return float(np.mean((np.array(norms) - 1) ** 2))


def test_mmd_gan_witness_penalty_for_a_nonlinear_critic_against_finite_differences():
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=1.0), MMDConfig(kernel="gaussian", bandwidths=[0.4]))
    D, real, fake = TanhCritic(seed=1), draws(16, seed=10), draws(16, seed=11, shift=0.7)
    eps = torch.rand(16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    value = objective.witness_penalty(D, real, fake, D(real), D(fake), eps=eps).item()
    assert value == pytest.approx(witness_penalty_by_hand(D, real, fake, eps, 0.4), rel=1e-6)
    at_real = witness_penalty_by_hand(D, real, fake, torch.ones_like(eps), 0.4)
    assert value != pytest.approx(at_real, rel=1e-2)


def test_mmd_gan_critic_loss_adds_the_witness_penalty_times_its_weight():
    bandwidth, weight = 0.5, 4.0
    mmd = MMDConfig(kernel="gaussian", bandwidths=[bandwidth])
    D, real, fake = TanhCritic(seed=2), draws(12, seed=13), draws(12, seed=14, shift=0.5)
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=weight), mmd)
    loss, stats = objective.discriminator_loss(D, real, fake, ctx=StepContext.standalone(12, 7))
    estimate = mmd2(D(real), D(fake), GaussianKernel((bandwidth,))).item()
    penalty = witness_penalty_by_hand(D, real, fake, eps_of(real), bandwidth)
    assert penalty > 0.01
    assert stats["gp"].item() == pytest.approx(penalty, rel=1e-6)
    assert loss.item() == pytest.approx(-estimate + weight * penalty, rel=1e-6)
