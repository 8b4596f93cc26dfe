"""Generator and discriminator networks, looked up by ``model.arch``."""

from __future__ import annotations

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator, count_parameters
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.resnet import ResNetDiscriminator32, ResNetGenerator32
from gankit.nn.spectral_norm import apply_spectral_norm

ARCHITECTURES = ("mlp", "dcgan", "resnet")


def build_generator(config: ModelConfig, data_shape: tuple[int, ...]) -> Generator:
    """The generator of ``config`` for samples of ``data_shape`` ((D,) vectors or (C, R, R) images),
    spectrally normalised when ``model.g_spectral_norm`` (Miyato et al. 2018; Zhang et al. 2019)."""
    generator = _generator(config, data_shape)
    return apply_spectral_norm(generator, config.sn_iters) if config.g_spectral_norm else generator


def build_discriminator(config: ModelConfig, data_shape: tuple[int, ...]) -> Discriminator:
    """The discriminator of ``config``; ``model.d_width`` (0: ``model.width``) sets its width, and
    ``model.spectral_norm`` normalises every weight layer (Miyato et al. 2018)."""
    discriminator = _discriminator(config, data_shape)
    return apply_spectral_norm(discriminator, config.sn_iters) if config.spectral_norm else discriminator


def _generator(config: ModelConfig, data_shape: tuple[int, ...]) -> Generator:
    if config.arch == "mlp":
        if len(data_shape) != 1:
            raise GankitError(f"model.arch=mlp is for vectors; this data set has shape {data_shape}: use dcgan")
        return MLPGenerator(config.z_dim, data_shape[0], config.width, config.depth)
    if len(data_shape) != 3:
        raise GankitError(f"model.arch={config.arch} is for images; this data set has shape {data_shape}: use mlp")
    channels, resolution = data_shape[0], data_shape[1]
    if config.arch == "dcgan":
        return DCGANGenerator(config.z_dim, channels, resolution, config.width)
    if config.arch == "resnet":
        return ResNetGenerator32(config.z_dim, channels, config.width, resolution)
    raise GankitError(f"unknown model.arch '{config.arch}'; valid architectures: {', '.join(ARCHITECTURES)}")


def _discriminator(config: ModelConfig, data_shape: tuple[int, ...]) -> Discriminator:
    width = config.d_width or config.width
    if config.arch == "mlp":
        return MLPDiscriminator(data_shape[0], width, config.depth, config.d_out)
    if config.arch == "dcgan":
        return DCGANDiscriminator(data_shape[0], data_shape[1], width, config.d_norm, config.d_out)
    if config.arch == "resnet":
        return ResNetDiscriminator32(data_shape[0], width, data_shape[1], config.d_out)
    raise GankitError(f"unknown model.arch '{config.arch}'; valid architectures: {', '.join(ARCHITECTURES)}")


__all__ = [
    "ARCHITECTURES",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator",
    "Generator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator32",
    "ResNetGenerator32",
    "build_discriminator",
    "build_generator",
    "count_parameters",
]
