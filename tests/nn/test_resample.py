import pytest
import torch
import torch.nn.functional as F

from gankit.nn.resample import conv2d_downsample, downsample_2x, upsample_2x, upsample_conv2d


def explicit_upsample(x):
    """Zero insertion and the separable [1, 3, 3, 1] / 4 filter per axis, written out with loops over pixels."""
    n, c, h, w = x.shape
    f = [0.25, 0.75, 0.75, 0.25]
    out = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype)
    for j in range(2 * h):
        for i in range(2 * w):
            for a in range(4):
                for b in range(4):
                    sj, si = j + a - 2, i + b - 2  # position in the zero-inserted image
                    if sj % 2 == 0 and si % 2 == 0 and 0 <= sj // 2 < h and 0 <= si // 2 < w:
                        out[:, :, j, i] += f[a] * f[b] * x[:, :, sj // 2, si // 2]
    return out


def explicit_downsample(x):
    """(x[2m-1] + 3 x[2m] + 3 x[2m+1] + x[2m+2]) / 8 per axis, zeros outside the image."""
    n, c, h, w = x.shape
    f = [1 / 8, 3 / 8, 3 / 8, 1 / 8]
    out = torch.zeros(n, c, h // 2, w // 2, dtype=x.dtype)
    for j in range(h // 2):
        for i in range(w // 2):
            for a in range(4):
                for b in range(4):
                    sj, si = 2 * j + a - 1, 2 * i + b - 1
                    if 0 <= sj < h and 0 <= si < w:
                        out[:, :, j, i] += f[a] * f[b] * x[:, :, sj, si]
    return out


def test_upsample_is_the_fir_filter_and_bilinear_away_from_the_border():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    up = upsample_2x(x)
    torch.testing.assert_close(up, explicit_upsample(x))
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])
    assert not torch.allclose(up[..., 0, :], bilinear[..., 0, :])


def test_downsample_is_the_fir_filter():
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    torch.testing.assert_close(downsample_2x(x), explicit_downsample(x))
    ones = downsample_2x(torch.ones(1, 1, 8, 8, dtype=torch.float64))
    torch.testing.assert_close(ones[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("groups", [1, 2])
def test_upsample_conv_equals_upsampling_then_convolving_the_zero_extended_image(k, groups):
    g = torch.Generator().manual_seed(k)
    x = torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    w = torch.randn(6, 4 // groups, k, k, generator=g, dtype=torch.float64)
    padded = F.pad(x, (3, 3, 3, 3))
    ref = F.conv2d(upsample_2x(padded), w, padding=k // 2, groups=groups)[..., 6:-6, 6:-6]
    out = upsample_conv2d(x, w, groups)
    assert out.shape == (2, 6, 12, 12)
    torch.testing.assert_close(out, ref)
    two_step = F.conv2d(upsample_2x(x), w, padding=k // 2, groups=groups)
    inner = slice(1 + k // 2, -1 - k // 2)
    torch.testing.assert_close(out[..., inner, inner], two_step[..., inner, inner])


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_downsample_equals_convolving_then_downsampling_the_zero_extended_image(k, groups):
    g = torch.Generator().manual_seed(10 + k)
    x = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
    w = torch.randn(6, 4 // groups, k, k, generator=g, dtype=torch.float64)
    padded = F.pad(x, (4, 4, 4, 4))
    ref = downsample_2x(F.conv2d(padded, w, padding=k // 2, groups=groups))[..., 2:-2, 2:-2]
    out = conv2d_downsample(x, w, groups)
    assert out.shape == (2, 6, 4, 4)
    torch.testing.assert_close(out, ref)
