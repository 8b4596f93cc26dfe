"""Penalties against closed forms on critics whose input gradients are known exactly."""

import pytest
import torch
from torch import nn

from gankit.config import ObjectiveConfig, resolve
from gankit.objectives import AdversarialObjective
from gankit.objectives.penalties import (
    add_instance_noise,
    clip_weights,
    gradient_penalty,
    instance_noise_std,
    interpolate,
    zero_centered_penalty,
)
from gankit.training.loop import Trainer


class LinearCritic(nn.Module):
    """D(x) = w . x + b: grad_x D = w everywhere."""

    num_classes = 0

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(0.3, dtype=torch.float64))

    def forward(self, x, y=None):
        return x @ self.w + self.b


class QuadraticCritic(nn.Module):
    """D(x) = x^T A x: grad_x D = (A + A^T) x."""

    num_classes = 0

    def __init__(self, A):
        super().__init__()
        self.A = nn.Parameter(A)

    def forward(self, x, y=None):
        return ((x @ self.A) * x).sum(1)


def batch(n=64, d=3, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("w", "two_sided", "one_sided"), [([0.3, 0.4, 0.0], 0.25, 0.0), ([2.0, 1.0, 2.0], 4.0, 4.0)])
def test_gradient_penalty_closed_form_for_a_linear_critic(w, two_sided, one_sided):
    D = LinearCritic(w)
    real, fake = batch(seed=1), batch(seed=2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(two_sided, rel=1e-12)
    assert gradient_penalty(D, real, fake, one_sided=True).item() == pytest.approx(one_sided, abs=1e-12)


def test_gradient_penalty_gradient_reaches_the_critic():
    D = LinearCritic([2.0, 1.0, 2.0])  # ||w|| = 3: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gradient_penalty(D, batch(seed=1), batch(seed=2)).backward()
    torch.testing.assert_close(D.w.grad, 2 * 2 * D.w.detach() / 3)


def test_r1_closed_form_for_a_quadratic_critic():
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 0.5], [0.3, 0.0, 2.0]], dtype=torch.float64)
    D = QuadraticCritic(A)
    x = batch(seed=3)
    expected = ((x @ (A + A.T).T) ** 2).sum(1).mean()
    assert zero_centered_penalty(D, x).item() == pytest.approx(expected.item(), rel=1e-12)


def test_objective_adds_r1_r2_gp_with_their_weights_and_lazy_penalties_leave_the_main_loss():
    D = LinearCritic([0.6, 0.8, 0.0])  # ||w|| = 1: GP 0, R1 = R2 = 1
    real, fake = batch(seed=4), batch(seed=5)
    plain, _ = AdversarialObjective(ObjectiveConfig(loss="ns")).discriminator_loss(D, real, fake)
    eager = AdversarialObjective(ObjectiveConfig(loss="ns", r1=10.0, r2=2.0, gp=5.0))
    loss, stats = eager.discriminator_loss(D, real, fake)
    assert loss.item() == pytest.approx(plain.item() + 0.5 * 10 + 0.5 * 2, rel=1e-12)
    assert stats["gp"].item() == pytest.approx(0.0, abs=1e-12)
    lazy = AdversarialObjective(ObjectiveConfig(loss="ns", r1=10.0, r2=2.0, gp=5.0, reg_every=4))
    main, main_stats = lazy.discriminator_loss(D, real, fake)
    assert main.item() == pytest.approx(plain.item(), rel=1e-12) and "r1" not in main_stats
    penalty, _ = lazy.lazy_penalties(D, real, fake)
    assert penalty.item() == pytest.approx(0.5 * 10 + 0.5 * 2, rel=1e-12)
    assert [p.name for p in lazy.phases(1)] == ["D", "D_reg", "G"]
    assert [p.interval for p in lazy.phases(1)] == [1, 4, 1]


def test_clip_weights():
    layer = nn.Linear(4, 4)
    nn.init.normal_(layer.weight, 0, 5)
    clip_weights(layer, 0.01)
    assert layer.weight.abs().max() <= 0.01 and layer.bias.abs().max() <= 0.01


def test_clip_weights_is_the_clamp_to_minus_c_c():
    layer = nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-0.5, 0.005, 0.5]]))
        layer.bias.fill_(-0.02)
    clip_weights(layer, 0.01)
    torch.testing.assert_close(layer.weight, torch.tensor([[-0.01, 0.005, 0.01]]))
    assert layer.bias.item() == pytest.approx(-0.01)


class LabelledQuadratic(nn.Module):
    """D(x, y) = a_y * ||x||^2 / 2: its input gradient a_y x depends on the label, so a penalty that drops y
    (or passes the wrong one) gets a different value."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor([1.0, 3.0]))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.a[y] * x.pow(2).sum(1) / 2


def test_penalties_pass_the_labels_to_a_conditional_critic():
    x, y = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 1])
    a = torch.tensor([1.0, 3.0])[y]
    expected_r1 = (a[:, None] * x).pow(2).sum(1).mean()  # ||a_y x||^2
    torch.testing.assert_close(zero_centered_penalty(LabelledQuadratic(), x, y), expected_r1)
    fake, eps = torch.randn(6, 2), torch.rand(6, 1)
    x_hat = eps * x + (1 - eps) * fake
    expected_gp = ((a[:, None] * x_hat).norm(dim=1) - 1).pow(2).mean()
    torch.testing.assert_close(gradient_penalty(LabelledQuadratic(), x, fake, y, eps=eps), expected_gp)


def test_clipping_holds_after_every_training_step(tmp_path):
    config = resolve("ring-wgan", ["train.steps=5", "objective.clip=0.02", "log.progress=false"])
    trainer = Trainer(config, tmp_path)
    for _ in range(5):
        trainer.train_step()
        assert max(p.abs().max().item() for p in trainer.D.parameters()) <= 0.02


def test_instance_noise_schedule_and_magnitude():
    assert instance_noise_std(0.2, 100, 0) == 0.2
    assert instance_noise_std(0.2, 100, 25) == pytest.approx(0.15)
    assert instance_noise_std(0.2, 100, 100) == 0.0
    assert instance_noise_std(0.2, 100, 500) == 0.0
    assert instance_noise_std(0.2, 0, 10**6) == 0.2
    x = torch.zeros(200_000)
    torch.manual_seed(0)
    noisy = add_instance_noise(x, 0.3)
    assert noisy.std().item() == pytest.approx(0.3, rel=0.01)  # standard error ~ 0.16%
    assert add_instance_noise(x, 0.0) is x


def test_instance_noise_adds_the_given_noise_and_anneals_to_zero_after_one_step():
    x, noise = batch(n=5, seed=6), batch(n=5, seed=7)
    torch.testing.assert_close(add_instance_noise(x, 0.25, noise), x + 0.25 * noise, rtol=0, atol=0)
    # anneal_steps = 1: sigma_0 = std, sigma_1 = 0 (only anneal_steps = 0 means "constant")
    assert instance_noise_std(0.2, 1, 0) == 0.2 and instance_noise_std(0.2, 1, 1) == 0.0


def test_interpolation_weights_are_drawn_in_the_dtype_of_the_data():
    # U[0, 1] in float64 and float32 are different draws of the same generator state: the interpolate must use
    # the data's dtype (eps of shape (N, 1): one weight per sample)
    real, fake = batch(n=8, seed=8), batch(n=8, seed=9)
    torch.manual_seed(11)
    x_hat = interpolate(real, fake)
    torch.manual_seed(11)
    eps = torch.rand(8, 1, dtype=torch.float64)
    assert x_hat.dtype == torch.float64
    torch.testing.assert_close(x_hat, eps * real + (1 - eps) * fake, rtol=0, atol=1e-15)
