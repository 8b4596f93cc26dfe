import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.objectives.semisupervised import (
    discriminator_loss,
    feature_matching_loss,
    log_real_probability,
    predict,
    supervised_loss,
    unsupervised_loss,
)


def logits(n, k=10, scale=3.0, seed=0):
    return scale * torch.randn(n, k, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def with_fake_class(lg):
    """The explicit K+1-class log-softmax, the generated class's logit fixed at 0 (Salimans et al. 2016, Sec. 5)."""
    return F.log_softmax(torch.cat([lg, torch.zeros(len(lg), 1, dtype=lg.dtype)], 1), dim=1)


def test_probability_of_real_is_z_over_z_plus_one():
    lg = logits(20, scale=1.0)
    z = lg.exp().sum(1)
    assert torch.allclose(log_real_probability(lg).exp(), z / (z + 1), rtol=1e-12)


def test_unsupervised_loss_equals_the_explicit_k_plus_one_softmax():
    real, fake = logits(32, seed=1), logits(24, seed=2)
    log_p_real = with_fake_class(real)
    log_p_fake = with_fake_class(fake)
    expected = -torch.logsumexp(log_p_real[:, :-1], 1).mean() - log_p_fake[:, -1].mean()
    assert unsupervised_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-12)


def test_supervised_loss_is_the_label_probability_given_a_real_class():
    lg, y = logits(16, seed=3), torch.randint(10, (16,), generator=torch.Generator().manual_seed(4))
    log_p = with_fake_class(lg)
    conditional = log_p[torch.arange(16), y] - torch.logsumexp(log_p[:, :-1], 1)
    assert supervised_loss(lg, y).item() == pytest.approx(-conditional.mean().item(), rel=1e-12)
    total = discriminator_loss(lg, y, logits(8, seed=5), logits(8, seed=6), unsupervised_weight=0.5)
    assert total.item() == pytest.approx(
        (supervised_loss(lg, y) + 0.5 * unsupervised_loss(logits(8, seed=5), logits(8, seed=6))).item()
    )


def test_feature_matching_is_the_squared_distance_of_the_feature_means():
    g = torch.Generator().manual_seed(7)
    real, fake = torch.randn(30, 4, 2, generator=g), torch.randn(20, 4, 2, generator=g, requires_grad=True)
    loss = feature_matching_loss(real, fake)
    r, f = real.reshape(30, -1).numpy(), fake.detach().reshape(20, -1).numpy()
    assert loss.item() == pytest.approx(float(((r.mean(0) - f.mean(0)) ** 2).sum()), rel=1e-6)
    (grad,) = torch.autograd.grad(loss, fake)
    expected = -2 * (r.mean(0) - f.mean(0)) / 20  # d/df_i of ||m_r - mean(f)||^2
    assert np.allclose(grad.reshape(20, -1).numpy(), np.broadcast_to(expected, (20, 8)), atol=1e-7)


@pytest.mark.parametrize("scale", [1e3, 1e4, 1e30])
def test_losses_and_gradients_stay_finite_for_huge_logits(scale):
    real = (logits(8, seed=8, scale=1.0) * scale).float().requires_grad_()
    fake = (logits(8, seed=9, scale=1.0) * scale).float().requires_grad_()
    y = torch.arange(8) % 10
    loss = supervised_loss(real, y) + unsupervised_loss(real, fake)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    # -log(1 - D(fake)) = softplus(LSE) ~ max logit when it is huge; -log D(real) ~ 0 there
    big = torch.zeros(1, 10)
    big[0, 3] = 1000.0
    assert unsupervised_loss(big, big).item() == pytest.approx(1000.0, rel=1e-6)


def test_predict_is_the_argmax_over_real_classes():
    lg = logits(12, seed=10)
    assert torch.equal(predict(lg), lg.argmax(1))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: unsupervised_loss(torch.zeros(4), torch.zeros(4, 3)), "K >= 2"),
        (lambda: supervised_loss(torch.zeros(4, 3), torch.zeros(4)), "int64"),
        (lambda: supervised_loss(torch.zeros(2, 3), torch.tensor([0, 3])), "0..2"),
        (lambda: feature_matching_loss(torch.zeros(4, 3), torch.zeros(4, 2)), "one shape"),
    ],
)
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(GankitError, match=message):
        call()


def test_two_classes_and_flat_features_are_enough_and_the_weight_defaults_to_one():
    lg, y = logits(6, k=2, seed=11), torch.tensor([0, 1, 1, 0, 1, 0])
    log_p = with_fake_class(lg)
    conditional = log_p[torch.arange(6), y] - torch.logsumexp(log_p[:, :-1], 1)
    assert supervised_loss(lg, y).item() == pytest.approx(-conditional.mean().item(), rel=1e-12)
    real, fake = logits(5, k=2, seed=12), logits(7, k=2, seed=13)
    expected = -torch.logsumexp(with_fake_class(real)[:, :-1], 1).mean() - with_fake_class(fake)[:, -1].mean()
    assert unsupervised_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.equal(predict(lg), lg.argmax(1))
    # L = L_supervised + L_unsupervised (Salimans et al. 2016, Sec. 5): weight 1 unless given
    total = discriminator_loss(lg, y, real, fake)
    assert total.item() == pytest.approx(supervised_loss(lg, y).item() + expected.item(), rel=1e-12)
    r, f = logits(9, k=3, seed=14), logits(4, k=3, seed=15)  # (N, d) features, no spatial axes
    assert feature_matching_loss(r, f).item() == pytest.approx((r.mean(0) - f.mean(0)).pow(2).sum().item(), rel=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: supervised_loss(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)), "supervised loss"),
        (lambda: unsupervised_loss(torch.zeros(4, 1), torch.zeros(4, 3)), r"unsupervised loss \(real\)"),
        (lambda: unsupervised_loss(torch.zeros(4, 3), torch.zeros(4, 1)), r"unsupervised loss \(generated\)"),
        (lambda: predict(torch.zeros(4)), "predict"),
    ],
)
def test_logit_errors_name_the_function(call, name):
    with pytest.raises(GankitError, match=f"^{name}: the K\\+1-class losses need \\(N, K\\) logits with K >= 2"):
        call()
