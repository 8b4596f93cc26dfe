"""Packing (PacGAN, Lin et al. 2018): the packed discriminator is the inner network on concatenated samples."""

import pytest
import torch

from gankit.config import Config, MMDConfig, ModelConfig, ObjectiveConfig, resolve
from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import make_kernel
from gankit.models import PackedDiscriminator, build_discriminator
from gankit.models.packing import pack_samples
from gankit.objectives import AdversarialObjective
from gankit.objectives.mmd_losses import MMDObjective
from gankit.objectives.penalties import gradient_penalty, zero_centered_penalty
from gankit.training.loop import Trainer


def by_hand(x: torch.Tensor, m: int) -> torch.Tensor:
    """Pack j = torch.cat of samples j m, ..., j m + m - 1 along their first (feature / channel) axis."""
    return torch.stack([torch.cat([x[j * m + i] for i in range(m)], dim=0) for j in range(len(x) // m)])


def mlp_config(pack: int, **model) -> Config:
    return Config(model=ModelConfig(arch="mlp", width=16, depth=2, pack=pack, **model))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_packed_vectors_are_the_inner_network_on_concatenated_samples(m):
    torch.manual_seed(0)
    D = build_discriminator(mlp_config(m), (2,))
    assert isinstance(D, PackedDiscriminator) and D.inner.net[0].in_features == 2 * m
    x = torch.randn(6 * m, 2)
    out = D(x)
    assert out.shape == (6,)
    torch.testing.assert_close(out, D.inner(by_hand(x, m)))
    # the pairing is by consecutive rows: swapping two rows of one pack changes that pack's logit only
    swapped = x.clone()
    swapped[[0, 1]] = x[[1, 0]]
    changed = D(swapped) != out
    assert changed[0] and not changed[1:].any()


def test_packed_images_are_concatenated_along_channels():
    torch.manual_seed(0)
    config = Config(model=ModelConfig(arch="dcgan", width=8, pack=2, d_norm="none"))
    D = build_discriminator(config, (3, 16, 16))
    assert D.inner.in_shape == (6, 16, 16)
    x = torch.randn(8, 3, 16, 16)
    torch.testing.assert_close(D(x), D.inner(by_hand(x, 2)))
    torch.testing.assert_close(pack_samples(x, 2)[1, 3:], x[3])


def test_pack_one_is_the_plain_discriminator_with_the_same_weights():
    torch.manual_seed(0)
    plain = build_discriminator(mlp_config(1), (2,))
    torch.manual_seed(0)
    packed = build_discriminator(mlp_config(1), (2,))
    assert not isinstance(plain, PackedDiscriminator)
    x = torch.randn(5, 2)
    torch.testing.assert_close(plain(x), packed(x))


def test_gradients_reach_every_sample_of_a_pack_and_no_other():
    torch.manual_seed(1)
    D = build_discriminator(mlp_config(3), (2,))
    x = torch.randn(9, 2, requires_grad=True)
    D(x)[1].backward()
    nonzero = x.grad.abs().sum(1) > 0
    assert nonzero.tolist() == [False] * 3 + [True] * 3 + [False] * 3
    x.grad = None
    D(x).sum().backward()
    assert (x.grad.abs().sum(1) > 0).all()


def test_spectral_norm_applies_inside_the_packed_network():
    torch.manual_seed(0)
    D = build_discriminator(mlp_config(2, spectral_norm=True), (2,))
    first = D.inner.net[0]
    assert (
        hasattr(first, "parametrizations") or hasattr(first, "weight_orig") or "weight_u" in dict(first.named_buffers())
    )


def test_r1_and_gp_on_a_packed_discriminator_follow_the_documented_formulas():
    torch.manual_seed(2)
    m = 2
    D = build_discriminator(mlp_config(m), (2,))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    # R1 of the packed input, by hand on the inner network: E_packs ||grad_pack||^2; gankit's is that over m
    packed = by_hand(real, m).requires_grad_(True)
    (grad,) = torch.autograd.grad(D.inner(packed).sum(), packed)
    per_pack = grad.pow(2).sum(1).mean()
    torch.testing.assert_close(zero_centered_penalty(D, real), per_pack / m)
    # GP: per-sample blocks of the packed gradient at per-sample interpolates
    eps = torch.rand(8, 1)
    x_hat = eps * real + (1 - eps) * fake
    hat = by_hand(x_hat, m).requires_grad_(True)
    (grad,) = torch.autograd.grad(D.inner(hat).sum(), hat)
    blocks = grad.reshape(len(grad), m, 2).norm(dim=2).reshape(-1)
    torch.testing.assert_close(gradient_penalty(D, real, fake, eps=eps), (blocks - 1).pow(2).mean())


@pytest.mark.parametrize("loss", ["ns", "minimax", "hinge", "wasserstein"])
def test_adversarial_losses_average_over_packs(loss):
    torch.manual_seed(3)
    D = build_discriminator(mlp_config(2), (2,))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    objective = AdversarialObjective(ObjectiveConfig(loss=loss, gp=1.0, r1=1.0))
    total, stats = objective.discriminator_loss(D, real, fake)
    expected = objective.d_loss(D.inner(by_hand(real, 2)), D.inner(by_hand(fake, 2)))
    torch.testing.assert_close(stats["loss_d"], expected)
    assert torch.isfinite(total) and stats["gp"] > 0 and stats["r1"] > 0


def test_mmd_critic_compares_packed_features():
    torch.manual_seed(4)
    config = mlp_config(2, d_out=4)
    D = build_discriminator(config, (2,))
    real, fake = torch.randn(12, 2), torch.randn(12, 2) + 0.5
    objective = MMDObjective(ObjectiveConfig(loss="mmdgan", gp=1.0), MMDConfig(kernel="rq"))
    loss, stats = objective.discriminator_loss(D, real, fake)
    phi_real, phi_fake = D.inner(by_hand(real, 2)), D.inner(by_hand(fake, 2))
    assert phi_real.shape == (6, 4)
    torch.testing.assert_close(stats["mmd2"], mmd2(phi_real, phi_fake, make_kernel("rq", [1.0])))
    assert torch.isfinite(loss) and stats["gp"] > 0


def test_training_with_a_packed_discriminator_runs_and_resumes_its_state(tmp_path):
    config = resolve("ring-r1", ["model.pack=4", "train.batch_size=32", "model.width=16", "log.progress=false"])
    trainer = Trainer(config, tmp_path)
    stats = trainer.train_step(measure=True)
    assert torch.isfinite(stats["loss_d"]) and stats["grad_norm_d"] > 0
    assert trainer.D.pack == 4 and trainer.D.inner.net[0].in_features == 8
    state = trainer.state_dict()["D"]
    fresh = build_discriminator(config, (2,))
    fresh.load_state_dict(state)


def test_errors_are_one_line():
    D = build_discriminator(mlp_config(3), (2,))
    with pytest.raises(GankitError, match="multiple of 3"):
        D(torch.randn(7, 2))
    with pytest.raises(GankitError, match="data.conditional=false"):
        build_discriminator(mlp_config(2), (2,), num_classes=10)
    with pytest.raises(GankitError, match="not divisible by train.accumulate x model.pack=3"):
        resolve("ring-ns", ["model.pack=3", "train.batch_size=256"])
    with pytest.raises(GankitError, match="model.pack must be >= 1"):
        resolve("ring-ns", ["model.pack=0"])
    with pytest.raises(GankitError, match="model.pack=2 packs unconditional samples"):
        resolve("digits", ["model.pack=2", "data.conditional=true"])
    with pytest.raises(GankitError, match="model.pack is set but objective.loss=gmmn"):
        resolve("ring-gmmn", ["model.pack=2"])
    with pytest.raises(GankitError, match="unconditional"):
        D(torch.randn(6, 2), torch.zeros(6, dtype=torch.long))
