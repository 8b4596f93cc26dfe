import pytest
import torch
from torch import nn

from gankit.config import MMDConfig, ObjectiveConfig, resolve
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel, RationalQuadraticKernel
from gankit.objectives import MMDObjective
from gankit.objectives.mmd_losses import jacobian_frobenius_sq
from gankit.training.loop import Trainer


class Critic(nn.Module):
    num_classes = 0

    def __init__(self, d_in=3, d_out=2, nonlinear=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(d_in, d_out, bias=False).double()
        self.nonlinear = nonlinear

    def forward(self, x, y=None):
        h = self.linear(x)
        return torch.tanh(h) if self.nonlinear else h


def draws(n, d=3, shift=0.0, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


@pytest.mark.parametrize(("kernel", "bandwidths", "diagonal"), [("gaussian", [0.5], 1.0), ("rq", [1.0], 5.0)])
def test_scaled_mmd_scale_by_hand_for_a_linear_critic(kernel, bandwidths, diagonal):
    """phi(x) = W x has J = W everywhere: sigma^-2 = lambda + k(a, a) + c_k ||W||_F^2 (Arbel et al. 2018, eq. 5)."""
    mmd = MMDConfig(kernel=kernel, bandwidths=bandwidths, scale_lambda=0.7)
    objective = MMDObjective(ObjectiveConfig(loss="smmd"), mmd)
    D = Critic()
    W = D.linear.weight.detach()
    curvature = 1 / 0.25 if kernel == "gaussian" else 5.0
    expected = 1 / (0.7 + diagonal + curvature * W.pow(2).sum())
    assert objective.scale(D, draws(16), None).item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize("kernel", [GaussianKernel((0.7, 1.9)), RationalQuadraticKernel()], ids=["gaussian", "rq"])
def test_curvature_term_equals_the_mixed_second_derivative(kernel):
    """sum_i d/dx_i d/dy_i K(x, y) at y = x, K = k(phi(x), phi(y)), by autograd on a nonlinear critic."""
    D = Critic(nonlinear=True, seed=3)
    x = draws(5, seed=4)
    total = 0.0
    for point in x:
        a = point.clone().requires_grad_(True)
        b = point.clone().requires_grad_(True)
        value = kernel.paired(D(a[None]), D(b[None]))[0]  # direct differences: exact at a = b
        (grad_b,) = torch.autograd.grad(value, b, create_graph=True)
        total += sum(torch.autograd.grad(grad_b[i], a, retain_graph=True)[0][i].item() for i in range(3))
    assert total / len(x) == pytest.approx(kernel.curvature() * jacobian_frobenius_sq(D, x).item(), rel=1e-10)


def test_mmdgan_losses_are_plus_and_minus_mmd_on_critic_features():
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan"), MMDConfig(kernel="rq"))
    D, real, fake = Critic(), draws(20, seed=1), draws(20, shift=0.5, seed=2)
    expected = mmd2(D(real), D(fake), RationalQuadraticKernel())
    loss_d, stats = objective.discriminator_loss(D, real, fake)
    loss_g, _ = objective.generator_loss(D, fake, real)
    assert loss_d.item() == pytest.approx(-expected.item(), rel=1e-12)
    assert loss_g.item() == pytest.approx(expected.item(), rel=1e-12)
    assert stats["mmd2"].item() == pytest.approx(expected.item(), rel=1e-12)


def test_witness_penalty_for_a_linear_critic_and_kernel():
    """With K(x, y) = (Wx).(Wy) the witness is f(x) = (Wx).(mu_r - mu_f) and grad f = W^T (mu_r - mu_f)."""
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=1.0), MMDConfig(kernel="linear"))
    D, real, fake = Critic(), draws(20, seed=5), draws(20, shift=0.5, seed=6)
    delta = D(real).mean(0) - D(fake).mean(0)
    expected = ((D.linear.weight.T @ delta).norm() - 1) ** 2
    penalty = objective.witness_penalty(D, real, fake, D(real), D(fake))
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-10)


def test_gmmn_needs_no_discriminator_and_learns(tmp_path):
    config = resolve(
        "ring-gmmn", ["train.steps=150", "log.progress=false", "log.tensorboard=false", "log.ckpt_every=75"]
    )
    trainer = Trainer(config, tmp_path)
    assert trainer.D is None and trainer.opt_d is None
    first = trainer.train_step()["loss_g"].item()
    trainer.fit()
    kernel = GaussianKernel(tuple(config.mmd.bandwidths))
    data = trainer.stream.next()[0]
    with torch.no_grad():
        last = mmd2(trainer.G(trainer.fixed_z[:256]), data, kernel).item()
    assert last < 0.2 * first
    resumed = Trainer.resume(tmp_path, ["train.steps=160"])
    assert resumed.step == 150 and resumed.D is None
    resumed.fit()


def test_smmd_rejects_a_non_radial_kernel():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="radial kernel"):
        MMDObjective(ObjectiveConfig(loss="smmd"), MMDConfig(kernel="polynomial"))
