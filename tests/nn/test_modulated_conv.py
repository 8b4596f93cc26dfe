import re

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.nn.modulated_conv import ModulatedConv2d, modulated_conv2d


def explicit_modulated_conv(x, weight, styles, demodulate, up):
    """StyleGAN2 eq. 1-3 written out sample by sample and output channel by output channel, in float64.

    With ``up``, the image is zero-extended by 3 pixels, up-sampled bilinearly (the [1, 3, 3, 1] FIR filter
    away from the border), convolved, and the 6-pixel margin is cropped again.
    """
    x, weight, styles = x.double(), weight.double(), styles.double()
    if up:
        x = F.interpolate(F.pad(x, (3, 3, 3, 3)), scale_factor=2, mode="bilinear", align_corners=False)
    outputs = []
    for n in range(len(x)):
        kernel = weight.clone()
        for o in range(weight.shape[0]):
            for i in range(weight.shape[1]):
                kernel[o, i] = weight[o, i] * styles[n, i]  # eq. 1: scale by the style
            if demodulate:
                kernel[o] = kernel[o] / kernel[o].pow(2).sum().sqrt()  # eq. 3: unit norm per output channel
        outputs.append(F.conv2d(x[n : n + 1], kernel, padding=weight.shape[-1] // 2))
    out = torch.cat(outputs)
    return out[..., 6:-6, 6:-6] if up else out


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("kernel", [1, 3])
def test_modulated_convolution_equals_the_explicit_per_sample_formula(demodulate, up, kernel, fused):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, 8, 8, generator=g)
    weight = torch.randn(4, 6, kernel, kernel, generator=g)
    styles = torch.randn(5, 6, generator=g) + 1
    out = modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up, fused=fused)
    ref = explicit_modulated_conv(x, weight, styles, demodulate, up)
    assert out.shape == ((5, 4, 16, 16) if up else (5, 4, 8, 8))
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=1e-5)


@pytest.fixture
def conv2d_groups(monkeypatch) -> list[int]:
    """The ``groups`` of every ``F.conv2d`` call made while the test runs."""
    calls = []
    conv2d = F.conv2d

    def counting_conv2d(*args, **kwargs):
        calls.append(kwargs.get("groups", 1))
        return conv2d(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d", counting_conv2d)
    return calls


def test_a_batch_of_styles_runs_as_one_grouped_convolution(conv2d_groups):
    calls = conv2d_groups
    modulated_conv2d(torch.randn(7, 3, 4, 4), torch.randn(2, 3, 3, 3), torch.randn(7, 3))
    assert calls == [7]
    modulated_conv2d(torch.randn(7, 3, 4, 4), torch.randn(2, 3, 3, 3), torch.randn(7, 3), fused=False)
    assert calls == [7, 1]


def test_demodulated_output_has_unit_variance_for_unit_variance_inputs():
    # eq. 2: with i.i.d. unit-variance inputs the output std is the L2 norm of each kernel row, 1 after eq. 3
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 64, 32, 32, generator=g)
    out = modulated_conv2d(x, torch.randn(16, 64, 3, 3, generator=g), 5 * torch.rand(4, 64, generator=g))
    inner = out[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert inner.std(dim=(0, 2, 3)).mean().item() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("fused", [True, False])
def test_module_kernel_scale_cancels_with_demodulation_and_not_without(fused):
    torch.manual_seed(3)
    x, w = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    for demodulate in (True, False):
        layer = ModulatedConv2d(8, 4, 3, w_dim=16, demodulate=demodulate, fused=fused)
        before = layer(x, w)
        with torch.no_grad():
            layer.weight.mul_(3.0)
        after = layer(x, w)
        if demodulate:
            torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)
        else:
            torch.testing.assert_close(after, 3 * before, rtol=1e-4, atol=1e-5)


def test_module_without_demodulation_is_a_conv_of_the_style_scaled_input():
    torch.manual_seed(4)
    layer = ModulatedConv2d(8, 3, 1, w_dim=16, demodulate=False)
    x, w = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    s = layer.styles(w)
    ref = F.conv2d(x * s[:, :, None, None], layer.weight / 8**0.5)
    torch.testing.assert_close(layer(x, w), ref, rtol=1e-5, atol=1e-5)
    # styles start near 1: the affine's bias is initialised to 1 (Karras et al. 2019)
    torch.testing.assert_close(layer.affine.effective_bias(), torch.ones(8))


def test_shape_mismatch_is_a_gankit_error():
    with pytest.raises(GankitError, match="styles"):
        modulated_conv2d(torch.randn(2, 3, 4, 4), torch.randn(4, 3, 3, 3), torch.randn(3, 3))


def test_five_by_five_kernels_keep_the_size():
    g = torch.Generator().manual_seed(5)
    x, weight, styles = (
        torch.randn(2, 3, 7, 7, generator=g),
        torch.randn(4, 3, 5, 5, generator=g),
        torch.rand(2, 3) + 0.5,
    )
    for fused in (True, False):
        out = modulated_conv2d(x, weight, styles, fused=fused)
        torch.testing.assert_close(
            out.double(), explicit_modulated_conv(x, weight, styles, True, False), rtol=0, atol=1e-5
        )


def test_a_zero_style_gives_a_zero_output_not_nan():
    # eq. 3 divides by sqrt(sum w^2 + eps): the eps keeps an all-zero modulated kernel finite
    g = torch.Generator().manual_seed(6)
    x, weight = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 3, 3, generator=g)
    styles = torch.stack([torch.zeros(3), torch.ones(3)])
    for fused in (True, False):
        out = modulated_conv2d(x, weight, styles, fused=fused)
        assert torch.isfinite(out).all() and torch.equal(out[0], torch.zeros_like(out[0]))


def test_module_defaults_gain_and_options_reach_the_convolution(conv2d_groups):
    torch.manual_seed(7)
    layer = ModulatedConv2d(8, 3, 3, w_dim=16)  # demodulated and fused by default
    x, w = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    s = layer.styles(w)
    ref = explicit_modulated_conv(x, layer.weight.detach(), s.detach(), True, False)
    torch.testing.assert_close(layer(x, w).double(), ref, rtol=0, atol=1e-5)
    # without demodulation the equalized-learning-rate gain 1 / sqrt(in * k * k) shows
    plain = ModulatedConv2d(8, 3, 3, w_dim=16, demodulate=False)
    s = plain.styles(w)
    expected = F.conv2d(x * s[:, :, None, None], plain.weight / (8 * 3 * 3) ** 0.5, padding=1)
    torch.testing.assert_close(plain(x, w), expected, rtol=1e-5, atol=1e-5)
    assert ModulatedConv2d(8, 3, 3, w_dim=16, up=True)(x, w).shape == (2, 3, 8, 8)
    calls = conv2d_groups
    calls.clear()  # count only the two calls below
    layer(x, w)
    ModulatedConv2d(8, 3, 3, w_dim=16, fused=False)(x, w)
    assert calls == [2, 1]


@pytest.mark.parametrize("size", [0, 2, 4, -1])
def test_even_or_empty_kernels_are_an_error(size):
    with pytest.raises(GankitError, match=f"^kernel_size must be odd and >= 1, got {size}$"):
        ModulatedConv2d(4, 4, size, w_dim=8)


@pytest.mark.parametrize(
    ("x", "weight", "styles"),
    [((2, 3, 4, 4), (4, 3, 3, 3), (2, 3, 1)), ((2, 3, 4), (4, 3, 3, 3), (2, 3)), ((2, 3, 4, 4), (4, 3, 3), (2, 3))],
)
def test_wrong_ranks_name_every_shape(x, weight, styles):
    message = (
        r"^modulated_conv2d needs x \(N, in, H, W\), weight \(out, in, k, k\), styles \(N, in\); got "
        + ", ".join(re.escape(str(shape)) for shape in (x, weight, styles))
        + "$"
    )
    with pytest.raises(GankitError, match=message):
        modulated_conv2d(torch.randn(x), torch.randn(weight), torch.randn(styles))
