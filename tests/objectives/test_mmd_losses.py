import pytest
import torch
from torch import nn

from gankit.config import MMDConfig, ObjectiveConfig, resolve
from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel, RationalQuadraticKernel
from gankit.objectives import MMDObjective
from gankit.objectives.base import Batch, StepContext, StepRandom
from gankit.objectives.mmd_losses import jacobian_frobenius_sq
from gankit.runtime.distributed import DistributedContext
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


class LabelledCritic(nn.Module):
    """phi(x, y) = tanh(W x + e_y): features and their Jacobian depend on the label."""

    num_classes = 3

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(2, 3, generator=g))
        self.E = nn.Parameter(torch.randn(3, 2, generator=g))

    def forward(self, x, y=None):
        return torch.tanh(x @ self.W.T + self.E[y])


class LabelledGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(9)
        self.A = nn.Parameter(torch.randn(4, 3, generator=g))
        self.E = nn.Parameter(torch.randn(3, 3, generator=g))

    def forward(self, z, y=None):
        return z @ self.A + self.E[y]


def labelled_batch(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    real, z = torch.randn(n, 3, generator=g), torch.randn(n, 4, generator=g)
    return Batch(real, torch.randint(3, (n,), generator=g), z, torch.randint(3, (n,), generator=g))


@pytest.mark.parametrize(("loss", "expected"), [("gmmn", [("G", "G", 1, "all")]), ("mmdgan", None), ("smmd", None)])
def test_phases(loss, expected):
    objective = MMDObjective(ObjectiveConfig(loss=loss), MMDConfig(kernel="gaussian"))
    assert objective.name == loss and objective.uses_discriminator == (loss != "gmmn")
    expected = expected or [("D", "D", 1, "all", 3), ("G", "G", 1, "latents", 1)]
    got = [(p.name, p.player, p.interval, p.draws, p.repeats) for p in objective.phases(3)]
    assert [g[: len(e)] for g, e in zip(got, expected, strict=True)] == [tuple(e) for e in expected]


@pytest.mark.parametrize("loss", ["mmdgan", "smmd"])
def test_labels_reach_the_critic_and_the_scaled_losses(loss):
    objective = MMDObjective(ObjectiveConfig(loss=loss), MMDConfig(kernel="gaussian", bandwidths=[1.0]))
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch()
    fake = G(batch.z, batch.y_fake).detach()
    kernel = GaussianKernel((1.0,))
    expected = mmd2(D(batch.real, batch.y_real), D(fake, batch.y_fake), kernel).item()
    loss_d, stats = objective.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake)
    assert stats["mmd2"].item() == pytest.approx(expected, rel=1e-5)
    loss_g, g_stats = objective.generator_loss(D, fake, batch.real, batch.y_fake, batch.y_real)
    assert g_stats["mmd2_g"].item() == pytest.approx(expected, rel=1e-5)
    if loss == "smmd":
        # sigma^2 from the Jacobian of phi(., y_real) on the real batch: d tanh(u) = (1 - tanh^2) W
        h = D(batch.real, batch.y_real).detach()
        jacobian = ((1 - h**2)[:, :, None] * D.W.detach()[None]).pow(2).sum((1, 2)).mean()
        scale = 1 / (1.0 + 1.0 + jacobian.item())  # lambda 1, k(a, a) = 1, c_k = 1 / s^2 = 1
        assert set(stats) == {"mmd2", "smmd_scale", "loss_d"}
        assert stats["smmd_scale"].item() == pytest.approx(scale, rel=1e-5)
        assert loss_d.item() == pytest.approx(-expected * scale, rel=1e-5)
        assert loss_g.item() == pytest.approx(expected * scale, rel=1e-5)
        loss_g.backward()
        assert D.W.grad is not None  # through the estimate; the scale itself is held fixed for G
    else:
        assert set(stats) == {"mmd2", "loss_d"}
        assert loss_d.item() == pytest.approx(-expected, rel=1e-5) and loss_g.item() == pytest.approx(
            expected, rel=1e-5
        )
    assert stats["loss_d"] is loss_d


def test_the_witness_penalty_is_added_with_its_weight_and_sees_the_labels():
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch(seed=1)
    fake = G(batch.z, batch.y_fake).detach()
    plain = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=0.0), MMDConfig(kernel="gaussian"))
    assert "gp" not in plain.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake)[1]
    weighted = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=0.5), MMDConfig(kernel="gaussian"))
    loss, stats = weighted.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake)  # no ctx: standalone
    eps = StepContext.standalone(10).random.rand_per_sample(batch.real)
    phi_real, phi_fake = D(batch.real, batch.y_real), D(fake, batch.y_fake)
    # witness of the labelled critic at the interpolates, each with its real label, by autograd
    x_hat = (eps * batch.real + (1 - eps) * fake).requires_grad_(True)
    kernel = GaussianKernel((1.0,))
    phi = D(x_hat, batch.y_real)
    f = kernel(phi, phi_real).mean(1) - kernel(phi, phi_fake).mean(1)
    (grad,) = torch.autograd.grad(f.sum(), x_hat)
    expected = ((grad.norm(dim=1) - 1) ** 2).mean()
    assert stats["gp"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.item() == pytest.approx((-stats["mmd2"] + 0.5 * stats["gp"]).item(), rel=1e-5)


def test_loss_phases_run_g_and_pass_every_argument():
    objective = MMDObjective(ObjectiveConfig(loss="smmd"), MMDConfig(kernel="gaussian", bandwidths=[1.0]))
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch(seed=2)
    ctx = StepContext.standalone(10)
    fake = G(batch.z, batch.y_fake)
    loss_d, stats_d = objective.loss("D", G, D, batch, ctx)
    expected_d, _ = objective.discriminator_loss(D, batch.real, fake.detach(), batch.y_real, batch.y_fake, ctx)
    assert loss_d.item() == pytest.approx(expected_d.item(), rel=1e-6) and "smmd_scale" in stats_d
    loss_g, stats_g = objective.loss("G", G, D, batch, ctx)
    expected_g, _ = objective.generator_loss(D, fake, batch.real, batch.y_fake, batch.y_real, ctx)
    assert loss_g.item() == pytest.approx(expected_g.item(), rel=1e-6) and "mmd2_g" in stats_g
    loss_g.backward()
    assert G.A.grad is not None and G.A.grad.abs().sum() > 0
    with pytest.raises(GankitError, match=r"^the smmd objective has no phase 'D_reg'$"):
        objective.loss("D_reg", G, D, batch, ctx)
    with pytest.raises(GankitError, match=r"^objective\.loss=smmd needs the real batch in the generator step$"):
        objective.generator_loss(D, fake)


def test_smmd_kernel_message_in_full():
    with pytest.raises(GankitError, match=r"^the Scaled MMD needs a radial kernel: mmd\.kernel=gaussian or rq$"):
        MMDObjective(ObjectiveConfig(loss="smmd"), MMDConfig(kernel="linear"))


def witness_penalty_by_autograd(D, real, fake, phi_real, phi_fake, y, eps, kernel):
    """E[(||grad f(x_hat)|| - 1)^2] of f(x) = mean_i K(x, r_i) - mean_j K(x, f_j) over the given feature rows,
    at x_hat = eps real + (1 - eps) fake, by autograd (Binkowski et al. 2018)."""
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    phi = D(x_hat, y)
    f = kernel(phi, phi_real).mean(1) - kernel(phi, phi_fake).mean(1)
    (grad,) = torch.autograd.grad(f.sum(), x_hat)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def test_the_d_phase_draws_the_penalty_interpolates_from_the_steps_context():
    """loss("D") with objective.gp > 0 mixes real and fake with the step context's draws (seed 7 here), not
    with a standalone context's (seed 0)."""
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=0.5), MMDConfig(kernel="gaussian"))
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch(seed=3)
    loss, stats = objective.loss("D", G, D, batch, StepContext.standalone(10, seed=7))
    fake = G(batch.z, batch.y_fake).detach()
    phi_real, phi_fake = D(batch.real, batch.y_real), D(fake, batch.y_fake)
    kernel = GaussianKernel((1.0,))

    def penalty(seed):
        eps = StepContext.standalone(10, seed=seed).random.rand_per_sample(batch.real)
        return witness_penalty_by_autograd(D, batch.real, fake, phi_real, phi_fake, batch.y_real, eps, kernel).item()

    assert stats["gp"].item() == pytest.approx(penalty(7), rel=1e-5)
    assert abs(penalty(7) - penalty(0)) > 1e-3 * penalty(7)  # the two contexts are told apart
    assert loss.item() == pytest.approx(-stats["mmd2"].item() + 0.5 * penalty(7), rel=1e-5)


def test_the_g_phase_adds_the_orthogonal_penalty_of_g():
    """loss("G") with objective.ortho = beta > 0 is G's MMD^2 plus beta sum_W sum_(i != j) (w_i . w_j)^2 over
    G's weight matrices (Brock et al. 2019, eq. 3), written out row by row."""
    beta = 0.01
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", ortho=beta), MMDConfig(kernel="gaussian"))
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch(seed=4)
    ctx = StepContext.standalone(10)
    loss, stats = objective.loss("G", G, D, batch, ctx)
    by_hand = 0.0
    for W in (G.A.detach(), G.E.detach()):
        by_hand += sum(float(W[i] @ W[j]) ** 2 for i in range(len(W)) for j in range(len(W)) if i != j)
    assert by_hand > 1.0
    assert stats["ortho"].item() == pytest.approx(beta * by_hand, rel=1e-6)
    fake = G(batch.z, batch.y_fake)
    mmd = objective.generator_loss(D, fake, batch.real, batch.y_fake, batch.y_real, ctx)[0].item()
    assert loss.item() == pytest.approx(mmd + beta * by_hand, rel=1e-6)


def test_the_witness_uses_the_first_n_rows_of_each_side_when_their_counts_differ():
    """Feature sets of 12 real and 8 fake rows: the witness averages over the first min(12, 8) = 8 of each."""
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=1.0), MMDConfig(kernel="gaussian"))
    D = LabelledCritic(seed=5)
    g = torch.Generator().manual_seed(5)
    real, fake, more = (
        torch.randn(8, 3, generator=g),
        torch.randn(8, 3, generator=g) + 0.5,
        torch.randn(4, 3, generator=g),
    )
    y, y_more = torch.randint(3, (8,), generator=g), torch.randint(3, (4,), generator=g)
    eps = torch.rand(8, 1, generator=g)
    phi_real = D(torch.cat([real, more]), torch.cat([y, y_more]))  # 12 rows
    phi_fake = D(fake, y)  # 8 rows
    kernel = GaussianKernel((1.0,))
    penalty = objective.witness_penalty(D, real, fake, phi_real, phi_fake, y, eps).item()
    first_8 = witness_penalty_by_autograd(D, real, fake, phi_real[:8], phi_fake, y, eps, kernel).item()
    all_12 = witness_penalty_by_autograd(D, real, fake, phi_real, phi_fake, y, eps, kernel).item()
    assert penalty == pytest.approx(first_8, rel=1e-5)
    assert abs(first_8 - all_12) > 1e-3 * first_8


class SimulatedPair(DistributedContext):
    """Rank 0 of two simulated processes, without torch.distributed: the other process's rows are this process's
    shifted by +1 (``gather_rows``) and its value of a per-process mean is 3 times this one's
    (``mean_over_processes``), so an estimate on the gathered batch differs from the local one."""

    def gather_rows(self, x):
        return torch.cat([x, x.detach() + 1.0])

    def mean_over_processes(self, x):
        return (x + 3 * x.detach()) / 2


@pytest.mark.parametrize("loss", ["mmdgan", "smmd"])
def test_every_estimate_covers_the_rows_of_every_process(loss):
    """With several processes the MMD^2 of both players (and the G phase) is the estimate on the rows of every
    process, and the SMMD scale uses the Jacobian term averaged over processes (Arbel et al. 2018, eq. 5)."""
    objective = MMDObjective(ObjectiveConfig(loss=loss), MMDConfig(kernel="gaussian", bandwidths=[1.0]))
    D, G, batch = LabelledCritic(), LabelledGenerator(), labelled_batch(seed=6)
    ctx = StepContext(0, 1.0, StepRandom(torch.Generator().manual_seed(0), 10), world=SimulatedPair())
    fake = G(batch.z, batch.y_fake).detach()
    kernel = GaussianKernel((1.0,))
    with torch.no_grad():
        phi_r, phi_f = D(batch.real, batch.y_real), D(fake, batch.y_fake)
        expected = mmd2(torch.cat([phi_r, phi_r + 1]), torch.cat([phi_f, phi_f + 1]), kernel).item()
        local = mmd2(phi_r, phi_f, kernel).item()
    assert abs(expected - local) > 1e-2 * abs(expected)
    scale = 1.0
    if loss == "smmd":
        jacobian = ((1 - phi_r**2)[:, :, None] * D.W.detach()[None]).pow(2).sum((1, 2)).mean().item()
        scale = 1 / (1.0 + 1.0 + (jacobian + 3 * jacobian) / 2)  # lambda 1, k(a, a) 1, c_k 1; mean of J and 3 J
    loss_d, stats = objective.discriminator_loss(D, batch.real, fake, batch.y_real, batch.y_fake, ctx)
    assert stats["mmd2"].item() == pytest.approx(expected, rel=1e-5)
    assert loss_d.item() == pytest.approx(-expected * scale, rel=1e-5)
    loss_g, g_stats = objective.generator_loss(D, fake, batch.real, batch.y_fake, batch.y_real, ctx)
    assert g_stats["mmd2_g"].item() == pytest.approx(expected, rel=1e-5)
    assert loss_g.item() == pytest.approx(expected * scale, rel=1e-5)
    loss_phase, _ = objective.loss("G", G, D, batch, ctx)
    assert loss_phase.item() == pytest.approx(expected * scale, rel=1e-5)
