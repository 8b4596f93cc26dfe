"""Generator and discriminator networks, looked up by ``model.arch`` in a registry.

Each architecture registers two builders, ``(config, data_shape, num_classes) -> module``; a new family
adds one :class:`Architecture` entry, not a branch in a chain of ifs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator, count_parameters
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.resnet import ResNetDiscriminator32, ResNetGenerator32
from gankit.nn.spectral_norm import apply_spectral_norm

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Architecture:
    """How to build one family's networks, and for which kind of data (``vectors`` or ``images``)."""

    data: str
    generator: Callable[[ModelConfig, Shape, int], Generator]
    discriminator: Callable[[ModelConfig, Shape, int], Discriminator]


def _d_width(config: ModelConfig) -> int:
    return config.d_width or config.width


REGISTRY: dict[str, Architecture] = {
    "mlp": Architecture(
        "vectors",
        lambda c, s, k: MLPGenerator(c.z_dim, s[0], c.width, c.depth, k),
        lambda c, s, k: MLPDiscriminator(s[0], _d_width(c), c.depth, c.d_out, k, c.d_cond),
    ),
    "dcgan": Architecture(
        "images",
        lambda c, s, k: DCGANGenerator(c.z_dim, s[0], s[1], c.width, k),
        lambda c, s, k: DCGANDiscriminator(s[0], s[1], _d_width(c), c.d_norm, c.d_out, k, c.d_cond),
    ),
    "resnet": Architecture(
        "images",
        lambda c, s, k: ResNetGenerator32(c.z_dim, s[0], c.width, s[1], k),
        lambda c, s, k: ResNetDiscriminator32(s[0], _d_width(c), s[1], c.d_out, k, c.d_cond),
    ),
}
ARCHITECTURES = tuple(REGISTRY)


def _architecture(config: ModelConfig, data_shape: Shape) -> Architecture:
    if config.arch not in REGISTRY:
        raise GankitError(f"unknown model.arch '{config.arch}'; valid architectures: {', '.join(REGISTRY)}")
    entry = REGISTRY[config.arch]
    if entry.data == "vectors" and len(data_shape) != 1:
        raise GankitError(f"model.arch={config.arch} is for vectors; this data set has shape {data_shape}: use dcgan")
    if entry.data == "images" and len(data_shape) != 3:
        raise GankitError(f"model.arch={config.arch} is for images; this data set has shape {data_shape}: use mlp")
    return entry


def build_generator(config: ModelConfig, data_shape: Shape, num_classes: int = 0) -> Generator:
    """The generator of ``config`` for samples of ``data_shape`` ((D,) vectors or (C, R, R) images), conditional
    on ``num_classes`` classes when > 0, spectrally normalised when ``model.g_spectral_norm`` (Miyato et al.
    2018; Zhang et al. 2019)."""
    generator = _architecture(config, data_shape).generator(config, data_shape, num_classes)
    return apply_spectral_norm(generator, config.sn_iters) if config.g_spectral_norm else generator


def build_discriminator(config: ModelConfig, data_shape: Shape, num_classes: int = 0) -> Discriminator:
    """The discriminator of ``config``; ``model.d_width`` (0: ``model.width``) sets its width, and
    ``model.spectral_norm`` normalises every weight layer (Miyato et al. 2018)."""
    discriminator = _architecture(config, data_shape).discriminator(config, data_shape, num_classes)
    return apply_spectral_norm(discriminator, config.sn_iters) if config.spectral_norm else discriminator


__all__ = [
    "ARCHITECTURES",
    "REGISTRY",
    "Architecture",
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
