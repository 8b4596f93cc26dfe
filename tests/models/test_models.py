import pytest
import torch

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator32,
    ResNetGenerator32,
    build_discriminator,
    build_generator,
    count_parameters,
)


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


def resnet_g_count(z, c):
    """Layer table of Miyato et al. 2018, Table 4(b) / Gulrajani et al. 2017: linear, 3 up-blocks, BN, conv."""
    block = bn(c) + conv(c, c, 3) + bn(c) + conv(c, c, 3) + conv(c, c, 1)
    return (z * 16 * c + 16 * c) + 3 * block + bn(c) + conv(c, 3, 3)


def resnet_d_count(c):
    """Miyato et al. 2018, Table 4(c): optimised block, down block, two plain blocks, linear."""
    first = conv(3, c, 3) + conv(c, c, 3) + conv(3, c, 1)
    down = conv(c, c, 3) + conv(c, c, 3) + conv(c, c, 1)
    plain = conv(c, c, 3) + conv(c, c, 3)
    return first + down + 2 * plain + (c + 1)


def test_resnet_parameter_counts_match_the_papers_layer_tables():
    assert count_parameters(ResNetGenerator32(128, 3, 256)) == resnet_g_count(128, 256) == 4_276_739
    assert count_parameters(ResNetDiscriminator32(3, 128)) == resnet_d_count(128) == 1_053_825
    assert count_parameters(ResNetGenerator32(128, 3, 128)) == resnet_g_count(128, 128) == 1_204_483


def test_resnet_shapes():
    G, D = ResNetGenerator32(128, 3, 32), ResNetDiscriminator32(3, 32)
    x = G(torch.randn(5, 128))
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32
    assert x.abs().max() <= 1
    assert D(x).shape == (5,)


def test_resnet_rejects_other_resolutions():
    with pytest.raises(GankitError, match="data.resolution=32"):
        ResNetGenerator32(128, 3, 64, resolution=64)


@pytest.mark.parametrize("resolution", [8, 16, 32, 64, 128])
def test_dcgan_shapes(resolution):
    G, D = DCGANGenerator(16, 3, resolution, 8), DCGANDiscriminator(3, resolution, 8)
    x = G(torch.randn(2, 16))
    assert x.shape == (2, 3, resolution, resolution)
    assert D(x).shape == (2,)


def test_dcgan_parameter_count_closed_form():
    # 16x16, width 32: z->64ch 4x4 (no bias) + BN, 64->32 + BN, 32->1 (bias); D: 1->32 (bias), 32->64 + BN, 64->1
    g = conv(64, 64, 4, False) + bn(64) + conv(64, 32, 4, False) + bn(32) + conv(32, 1, 4)
    d = conv(1, 32, 4) + conv(32, 64, 4, False) + bn(64) + conv(64, 1, 4)
    assert count_parameters(DCGANGenerator(64, 1, 16, 32)) == g
    assert count_parameters(DCGANDiscriminator(1, 16, 32)) == d


@pytest.mark.parametrize("resolution", [4, 12, 256])
def test_dcgan_rejects_bad_resolution(resolution):
    with pytest.raises(GankitError, match="8, 16, 32, 64, 128"):
        DCGANGenerator(16, 1, resolution)


def test_mlp_shapes_and_count():
    G, D = MLPGenerator(2, 2, 16, 2), MLPDiscriminator(2, 16, 2)
    assert G(torch.randn(7, 2)).shape == (7, 2)
    assert D(torch.randn(7, 2)).shape == (7,)
    assert count_parameters(G) == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)


def test_labels_are_checked():
    G = MLPGenerator(2, 2)
    with pytest.raises(GankitError, match="unconditional"):
        G(torch.randn(3, 2), torch.zeros(3, dtype=torch.long))


def test_registry_matches_data_kind():
    with pytest.raises(GankitError, match="model.arch=mlp is for vectors"):
        build_generator(ModelConfig(arch="mlp"), (1, 16, 16))
    with pytest.raises(GankitError, match="is for images"):
        build_generator(ModelConfig(arch="dcgan"), (2,))
    with pytest.raises(GankitError, match="valid architectures: mlp, dcgan, resnet"):
        build_generator(ModelConfig(arch="vit"), (1, 16, 16))
    D = build_discriminator(ModelConfig(arch="dcgan", width=8, d_width=16), (1, 16, 16))
    assert D.net[0].out_channels == 16


def test_d_arch_builds_another_familys_discriminator():
    from gankit.models import StyleGAN2Discriminator, StyleGAN2Generator

    hybrid = ModelConfig(arch="stylegan2", d_arch="dcgan", width=8)
    assert isinstance(build_generator(hybrid, (1, 32, 32)), StyleGAN2Generator)
    D = build_discriminator(hybrid, (1, 32, 32))
    assert isinstance(D, DCGANDiscriminator) and D.net[0].out_channels == 8
    assert isinstance(build_discriminator(ModelConfig(arch="stylegan2"), (1, 32, 32)), StyleGAN2Discriminator)
    with pytest.raises(GankitError, match="unknown model.d_arch 'vit'; valid architectures"):
        build_discriminator(ModelConfig(arch="dcgan", d_arch="vit"), (1, 16, 16))
    with pytest.raises(GankitError, match="model.d_arch=mlp is for vectors"):
        build_discriminator(ModelConfig(arch="dcgan", d_arch="mlp"), (1, 16, 16))
