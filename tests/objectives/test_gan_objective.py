"""The adversarial objective's own plumbing, against formulas written out on critics whose outputs and input
gradients are known in closed form: its phases and the lazy-regularisation condition, instance noise drawn from the
step's stream, labels reaching R1 / R2 / the gradient penalty, the D_reg phase, the statistics (the accuracy at
logit 0), weight clipping only after D steps, and fp16 outputs upcast (Mescheder et al. 2018, eq. 9; Gulrajani et
al. 2017, eq. 3; Sonderby et al. 2017; Karras et al. 2020, Sec. 3.1)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.errors import GankitError
from gankit.objectives import AdversarialObjective
from gankit.objectives.base import Batch, StepContext
from gankit.objectives.gan import at_least_fp32


class LabelledQuadratic(nn.Module):
    """D(x, y) = a_y ||x||^2 / 2 + b . x: input gradient a_y x + b, different for every label and point."""

    num_classes = 3

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor([1.0, 3.0, -2.0]))
        self.b = nn.Parameter(torch.tensor([0.5, -1.0]))

    def forward(self, x, y=None):
        return self.a[y] * x.pow(2).sum(1) / 2 + x @ self.b

    def gradient(self, x, y):
        return self.a[y].detach()[:, None] * x + self.b.detach()


class LabelledGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(4)
        self.A = nn.Parameter(torch.randn(3, 2, generator=g))
        self.E = nn.Parameter(torch.randn(3, 2, generator=g))

    def forward(self, z, y=None):
        return z @ self.A + self.E[y]


def batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return Batch(
        torch.randn(n, 2, generator=g),
        torch.randint(3, (n,), generator=g),
        torch.randn(n, 3, generator=g),
        torch.randint(3, (n,), generator=g),
    )


def squared_norms(g):
    return g.pow(2).sum(1).mean()


@pytest.mark.parametrize(
    ("reg_every", "r1", "r2", "lazy"),
    [(1, 1.0, 1.0, False), (2, 0.5, 0.0, True), (4, 0.0, 0.5, True), (4, 0.0, 0.0, False), (2, 2.0, 3.0, True)],
)
def test_phases_and_when_r1_r2_are_lazy(reg_every, r1, r2, lazy):
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", r1=r1, r2=r2, reg_every=reg_every))
    assert objective.lazy is lazy
    got = [(p.name, p.player, p.interval, p.draws, p.repeats) for p in objective.phases(3)]
    expected = [("D", "D", 1, "all", 3)]
    if lazy:
        expected.append(("D_reg", "D", reg_every, "none", 1))
    assert got == [*expected, ("G", "G", 1, "latents", 1)]


def test_eager_r1_r2_and_gp_see_the_labels_and_their_weights():
    D, b = LabelledQuadratic(), batch(1)
    fake = LabelledGenerator()(b.z, b.y_fake).detach()
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", r1=0.4, r2=0.6, gp=2.0))
    ctx = StepContext.standalone(8, seed=5)
    loss, stats = objective.discriminator_loss(D, b.real, fake, b.y_real, b.y_fake, ctx)
    r1 = squared_norms(D.gradient(b.real, b.y_real))
    r2 = squared_norms(D.gradient(fake, b.y_fake))
    eps = StepContext.standalone(8, seed=5).random.rand_per_sample(b.real)
    x_hat = eps * b.real + (1 - eps) * fake
    gp = ((D.gradient(x_hat, b.y_real).norm(dim=1) - 1) ** 2).mean()
    with torch.no_grad():
        real_logits, fake_logits = D(b.real, b.y_real), D(fake, b.y_fake)
    adversarial = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    torch.testing.assert_close(stats["r1"].detach(), r1)
    torch.testing.assert_close(stats["r2"].detach(), r2)
    torch.testing.assert_close(stats["gp"].detach(), gp)
    torch.testing.assert_close(loss.detach(), adversarial + 0.5 * 0.4 * r1 + 0.5 * 0.6 * r2 + 2.0 * gp)
    plain = AdversarialObjective(ObjectiveConfig(loss="ns"))
    _, plain_stats = plain.discriminator_loss(D, b.real, fake, b.y_real, b.y_fake, ctx)
    assert set(plain_stats) == {"loss_d", "d_real", "d_fake", "d_accuracy"}


def test_d_reg_phase_is_the_lazy_r1_and_r2_on_the_rounds_batch():
    D, G, b = LabelledQuadratic(), LabelledGenerator(), batch(2)
    ctx = StepContext.standalone(8)
    both = AdversarialObjective(ObjectiveConfig(loss="ns", r1=2.0, r2=1.0, reg_every=4))
    loss, stats = both.loss("D_reg", G, D, b, ctx)
    fake = G(b.z, b.y_fake).detach()
    expected = 0.5 * 2.0 * squared_norms(D.gradient(b.real, b.y_real)) + 0.5 * squared_norms(D.gradient(fake, b.y_fake))
    torch.testing.assert_close(loss.detach(), expected)
    assert set(stats) == {"r1", "r2"}
    # R1 only: no generated batch is needed (G is not called)
    r1_only = AdversarialObjective(ObjectiveConfig(loss="ns", r1=2.0, reg_every=4))
    loss, stats = r1_only.loss("D_reg", None, D, b, ctx)
    torch.testing.assert_close(loss.detach(), squared_norms(D.gradient(b.real, b.y_real)))
    assert set(stats) == {"r1"}


def test_instance_noise_comes_from_the_steps_stream_in_d_and_g():
    D, G, b = LabelledQuadratic(), LabelledGenerator(), batch(3)
    objective = AdversarialObjective(ObjectiveConfig(loss="hinge", noise_std=0.5, noise_anneal=100))
    assert objective.noise_std(50) == pytest.approx(0.25)
    ctx = StepContext.standalone(8, seed=7, step=50)
    loss, stats = objective.loss("D", G, D, b, ctx)
    draws = StepContext.standalone(8, seed=7).random
    noisy_real = b.real + 0.25 * draws.randn_like(b.real)
    fake = G(b.z, b.y_fake).detach()
    noisy_fake = fake + 0.25 * draws.randn_like(fake)
    with torch.no_grad():
        expected = F.relu(1 - D(noisy_real, b.y_real)).mean() + F.relu(1 + D(noisy_fake, b.y_fake)).mean()
    torch.testing.assert_close(loss.detach(), expected)
    assert stats["noise_std"].item() == pytest.approx(0.25)
    g_ctx = StepContext.standalone(8, seed=8, step=50)
    loss_g, g_stats = objective.loss("G", G, D, b, g_ctx)
    fake = G(b.z, b.y_fake)
    noisy = fake + 0.25 * StepContext.standalone(8, seed=8).random.randn_like(fake)
    torch.testing.assert_close(loss_g.detach(), -D(noisy, b.y_fake).mean().detach())
    assert set(g_stats) == {"loss_g"}


def test_generator_phase_adds_the_orthogonal_penalty_of_g():
    D, G, b = LabelledQuadratic(), LabelledGenerator(), batch(4)
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", ortho=0.1))
    loss, stats = objective.loss("G", G, D, b, StepContext.standalone(8))
    fake = G(b.z, b.y_fake)
    adversarial = F.softplus(-D(fake, b.y_fake)).mean()
    penalty = 0.1 * sum((w @ w.T - torch.diag(torch.diagonal(w @ w.T))).pow(2).sum() for w in (G.A, G.E))
    torch.testing.assert_close(loss.detach(), (adversarial + penalty).detach())
    assert set(stats) == {"loss_g", "ortho"}


def test_accuracy_counts_logit_zero_as_wrong_on_both_sides():
    class Fixed(nn.Module):
        def forward(self, x, y=None):
            return x[:, 0]

    objective = AdversarialObjective(ObjectiveConfig(loss="ns"))
    real = torch.tensor([[1.0], [0.0], [2.0], [-1.0]])  # 2 of 4 above 0
    fake = torch.tensor([[-1.0], [0.0], [0.0], [3.0]])  # 1 of 4 below 0
    _, stats = objective.discriminator_loss(Fixed(), real, fake)
    assert stats["d_accuracy"].item() == pytest.approx(0.5 * (2 / 4 + 1 / 4))
    assert stats["d_real"].item() == pytest.approx(0.5) and stats["d_fake"].item() == pytest.approx(0.5)


def test_clipping_only_after_d_steps_and_only_when_set():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.bias.fill_(-0.5)
    AdversarialObjective(ObjectiveConfig(loss="wasserstein", clip=0.0)).after_step("D", None, layer)
    assert layer.weight.abs().min().item() == 0.5
    clipping = AdversarialObjective(ObjectiveConfig(loss="wasserstein", clip=0.1))
    clipping.after_step("G", None, layer)
    assert layer.weight.abs().min().item() == 0.5
    clipping.after_step("D", None, layer)
    assert layer.weight.abs().max().item() == pytest.approx(0.1) and layer.bias.min().item() == pytest.approx(-0.1)


def test_half_precision_outputs_are_upcast_and_errors_are_one_line():
    half = torch.tensor([1.0, 2.0], dtype=torch.float16)
    assert at_least_fp32(half).dtype == torch.float32 and at_least_fp32(half.bfloat16()).dtype == torch.float32
    assert at_least_fp32(torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(GankitError, match=r"^unknown objective\.loss 'lsgan'$"):
        AdversarialObjective(ObjectiveConfig(loss="lsgan"))
    objective = AdversarialObjective(ObjectiveConfig(loss="ns"))
    with pytest.raises(GankitError, match=r"^the ns objective has no phase 'E'$"):
        objective.loss("E", None, None, batch(), StepContext.standalone(8))


@pytest.mark.parametrize("one_sided", [False, True])
def test_a_gradient_penalty_weight_below_one_counts_and_the_one_sided_flag_reaches_it(one_sided):
    """Gulrajani et al. 2017, eq. 3, and its one-sided variant max(0, ||grad|| - 1)^2 (their Appendix), at a
    weight of 0.5 (a weight in (0, 1] must switch the penalty on like any positive weight)."""
    D, b = LabelledQuadratic(), batch(6)
    fake = LabelledGenerator()(b.z, b.y_fake).detach()
    objective = AdversarialObjective(ObjectiveConfig(loss="wasserstein", gp=0.5, gp_one_sided=one_sided))
    loss, stats = objective.discriminator_loss(D, b.real, fake, b.y_real, b.y_fake, StepContext.standalone(8, seed=3))
    eps = StepContext.standalone(8, seed=3).random.rand_per_sample(b.real)
    norms = D.gradient(eps * b.real + (1 - eps) * fake, b.y_real).norm(dim=1)
    gap = (norms - 1).clamp_min(0) if one_sided else norms - 1
    assert (norms < 1).any() and (norms > 1).any()  # the two variants differ on this batch
    with torch.no_grad():
        wasserstein = D(fake, b.y_fake).mean() - D(b.real, b.y_real).mean()
    torch.testing.assert_close(stats["gp"].detach(), gap.square().mean())
    torch.testing.assert_close(loss.detach(), wasserstein + 0.5 * gap.square().mean())


def test_d_reg_phase_draws_its_instance_noise_from_the_steps_stream():
    """The lazy R1 phase sees the same instance noise as the D phase would (Sonderby et al. 2017): drawn from the
    step's context, not from a fresh one."""
    D, b = LabelledQuadratic(), batch(7)
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", r1=2.0, reg_every=4, noise_std=0.5))
    loss, _ = objective.loss("D_reg", None, D, b, StepContext.standalone(8, seed=11))
    noisy = b.real + 0.5 * StepContext.standalone(8, seed=11).random.randn_like(b.real)
    torch.testing.assert_close(loss.detach(), squared_norms(D.gradient(noisy, b.y_real)))


def test_without_a_context_the_losses_draw_their_noise_as_a_standalone_step_of_the_batchs_size():
    """Called outside the loop (experiments), ``generator_loss`` and ``lazy_penalties`` use
    ``StepContext.standalone(len(batch))``: the same instance noise as an explicit context of that size."""
    D, b = LabelledQuadratic(), batch(9)
    fake = LabelledGenerator()(b.z, b.y_fake).detach()
    objective = AdversarialObjective(ObjectiveConfig(loss="ns", r1=2.0, reg_every=4, noise_std=0.5))
    implicit_g, _ = objective.generator_loss(D, fake, b.y_fake)
    explicit_g, _ = objective.generator_loss(D, fake, b.y_fake, StepContext.standalone(len(fake)))
    torch.testing.assert_close(implicit_g, explicit_g)
    implicit_r1, _ = objective.lazy_penalties(D, b.real, b.real, b.y_real, b.y_fake)
    explicit_r1, _ = objective.lazy_penalties(D, b.real, b.real, b.y_real, b.y_fake, StepContext.standalone(8))
    torch.testing.assert_close(implicit_r1, explicit_r1)
