import math

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.nn.equalized import EqualizedConv2d, EqualizedLinear, scaled_lrelu


@pytest.mark.parametrize("lr_mul", [1.0, 0.01])
def test_linear_effective_weight_has_he_scale_times_lr_multiplier(lr_mul):
    torch.manual_seed(0)
    layer = EqualizedLinear(256, 512, lr_multiplier=lr_mul)
    # stored weights ~ N(0, 1 / lr_mul^2); used times lr_mul / sqrt(fan_in)
    assert torch.equal(layer.effective_weight(), layer.weight * (lr_mul / math.sqrt(256)))
    assert layer.weight.std().item() == pytest.approx(1 / lr_mul, rel=0.02)
    assert layer.effective_weight().std().item() == pytest.approx(1 / math.sqrt(256), rel=0.02)
    x = torch.randn(4, 256)
    ref = x @ (layer.weight.detach() * lr_mul / 16).T + layer.bias.detach() * lr_mul
    torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5)


def test_conv_effective_weight_has_he_scale_and_matches_plain_conv():
    torch.manual_seed(0)
    layer = EqualizedConv2d(32, 64, 3, activation="lrelu")
    fan_in = 32 * 9
    assert layer.effective_weight().std().item() == pytest.approx(1 / math.sqrt(fan_in), rel=0.03)
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        layer.bias.normal_()
        ref = F.conv2d(x, layer.weight / math.sqrt(fan_in), layer.bias, padding=1)
        ref = torch.where(ref > 0, ref, 0.2 * ref) * math.sqrt(2)
    torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5)


def test_down_sampling_conv_filters_after_the_convolution_and_before_bias_and_activation():
    torch.manual_seed(5)
    layer = EqualizedConv2d(4, 6, 3, activation="lrelu", down=True)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 4, 8, 8)
    fir = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    conv = F.conv2d(F.pad(x, (4, 4, 4, 4)), layer.effective_weight(), padding=1)
    down = F.conv2d(conv, (fir[:, None] * fir[None, :]).expand(6, 1, 4, 4), stride=2, padding=1, groups=6)
    ref = down[..., 2:-2, 2:-2] + layer.bias.view(1, -1, 1, 1)
    ref = torch.where(ref > 0, ref, 0.2 * ref) * math.sqrt(2)
    out = layer(x)
    assert out.shape == (2, 6, 4, 4)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_bias_init_is_the_effective_bias_whatever_the_multiplier():
    layer = EqualizedLinear(8, 4, bias_init=1.0, lr_multiplier=0.01)
    torch.testing.assert_close(layer.effective_bias(), torch.ones(4))


@pytest.mark.parametrize("lr_mul", [1.0, 0.01])
def test_gradient_wrt_stored_weight_is_scaled_by_the_gain(lr_mul):
    torch.manual_seed(1)
    layer = EqualizedLinear(64, 16, lr_multiplier=lr_mul)
    x = torch.randn(5, 64)
    target = torch.randn(5, 16)
    w_eff = layer.effective_weight().detach().requires_grad_(True)
    b_eff = layer.effective_bias().detach().requires_grad_(True)
    F.mse_loss(F.linear(x, w_eff, b_eff), target).backward()
    F.mse_loss(layer(x), target).backward()
    gain = lr_mul / math.sqrt(64)
    torch.testing.assert_close(layer.weight.grad, w_eff.grad * gain, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(layer.bias.grad, b_eff.grad * lr_mul, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("lr_mul", [1.0, 0.01])
def test_one_adam_step_moves_the_effective_weight_by_lr_times_gain(lr_mul):
    # Adam's first step is lr * g / (|g| + eps) ~ lr * sign(g) in the stored parameter, so the effective
    # weight moves by lr * lr_mul / sqrt(fan_in): the equalized learning rate of Karras et al. 2018.
    torch.manual_seed(2)
    layer = EqualizedLinear(100, 10, lr_multiplier=lr_mul)
    before = layer.effective_weight().detach().clone()
    opt = torch.optim.Adam(layer.parameters(), lr=0.1, eps=1e-12)
    layer(torch.randn(7, 100)).square().sum().backward()
    opt.step()
    step = (layer.effective_weight().detach() - before).abs()
    torch.testing.assert_close(step, torch.full_like(step, 0.1 * lr_mul / 10), rtol=1e-3, atol=0)


def test_scaled_lrelu_preserves_second_moment():
    x = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    # E[lrelu(x)^2] = (1 + 0.2^2) / 2 for x ~ N(0, 1); times gain^2 = 2 -> 1.04
    assert scaled_lrelu(x).square().mean().item() == pytest.approx(1.04, rel=0.01)


def test_bad_arguments_are_gankit_errors():
    with pytest.raises(GankitError, match="activation"):
        EqualizedLinear(2, 2, activation="relu")
    with pytest.raises(GankitError, match="lr_multiplier"):
        EqualizedLinear(2, 2, lr_multiplier=0)
    with pytest.raises(GankitError, match="odd"):
        EqualizedConv2d(2, 2, 2)


def lrelu_times_sqrt2(y):
    return torch.where(y > 0, y, 0.2 * y) * math.sqrt(2)


def test_linear_defaults_and_options():
    torch.manual_seed(6)
    x = torch.randn(5, 9)
    plain = EqualizedLinear(9, 4)  # bias 0, multiplier 1, no activation
    assert plain.lr_multiplier == 1.0 and torch.equal(plain.bias, torch.zeros(4))
    expected = x @ (plain.weight.detach() / 3).T
    assert (expected < 0).any()
    torch.testing.assert_close(plain(x), expected, rtol=1e-5, atol=1e-6)
    activated = EqualizedLinear(9, 4, bias_init=0.5, activation="lrelu")
    expected = lrelu_times_sqrt2(x @ (activated.weight.detach() / 3).T + 0.5)
    torch.testing.assert_close(activated(x), expected, rtol=1e-5, atol=1e-6)
    no_bias = EqualizedLinear(9, 4, bias=False)
    assert no_bias.bias is None and no_bias.effective_bias() is None
    torch.testing.assert_close(no_bias(x), x @ (no_bias.weight.detach() / 3).T, rtol=1e-5, atol=1e-6)
    assert "bias=False" in repr(no_bias) and "bias=True" in repr(plain)


@pytest.mark.parametrize("down", [False, True])
def test_conv_defaults_bias_multiplier_and_kernel_sizes(down):
    torch.manual_seed(7)
    x = torch.randn(2, 3, 8, 8)
    for size in (1, 5):  # 'same' padding for every odd size
        layer = EqualizedConv2d(3, 4, size, down=down)  # linear by default: negative outputs stay
        with torch.no_grad():
            layer.bias.normal_()
        gain = 1 / math.sqrt(3 * size * size)
        if down:
            conv = F.conv2d(F.pad(x, (4, 4, 4, 4)), layer.weight * gain, padding=size // 2)
            fir = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
            filtered = F.conv2d(conv, (fir[:, None] * fir[None, :]).expand(4, 1, 4, 4), stride=2, padding=1, groups=4)
            expected = filtered[..., 2:-2, 2:-2] + layer.bias.view(1, -1, 1, 1)
        else:
            expected = F.conv2d(x, layer.weight * gain, layer.bias, padding=size // 2)
        assert (expected < 0).any()
        torch.testing.assert_close(layer(x), expected.detach(), rtol=1e-5, atol=1e-5)
    no_bias = EqualizedConv2d(3, 4, 3, bias=False, down=down)
    assert no_bias.bias is None and no_bias.effective_bias() is None
    assert torch.isfinite(no_bias(x)).all()
    assert "bias=False" in repr(no_bias) and f"down={down}" in repr(no_bias)


def test_conv_lr_multiplier_scales_storage_and_bias():
    torch.manual_seed(8)
    layer = EqualizedConv2d(16, 32, 3, lr_multiplier=0.01)
    # stored ~ N(0, 1 / lr_mul^2), used times lr_mul / sqrt(fan_in): the effective kernel has He scale
    assert layer.weight.std().item() == pytest.approx(100, rel=0.05)
    assert layer.effective_weight().std().item() == pytest.approx(1 / 12, rel=0.05)
    with torch.no_grad():
        layer.bias.fill_(3.0)
    torch.testing.assert_close(layer.effective_bias(), torch.full((32,), 0.03))


def test_unknown_activation_message_lists_the_valid_ones():
    with pytest.raises(GankitError, match=r"^unknown activation 'relu'; valid: linear, lrelu$"):
        EqualizedConv2d(2, 2, 3, activation="relu")
