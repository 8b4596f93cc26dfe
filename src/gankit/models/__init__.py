"""Generator and discriminator networks, looked up by ``model.arch`` in a registry.

Each architecture registers two builders, ``(config, data_shape, num_classes) -> module``; a new family
adds one :class:`Architecture` entry, not a branch in a chain of ifs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gankit.config import Config, ModelConfig, discriminator_arch
from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator, count_parameters
from gankit.models.biggan import BigGANDiscriminator, BigGANGenerator
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.maxout import MaxoutMLPDiscriminator, MaxoutMLPGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.packing import PackedDiscriminator, packed_shape
from gankit.models.resnet import ResNetDiscriminator32, ResNetGenerator32
from gankit.models.semisupervised import SemiSupervisedMLPDiscriminator, SemiSupervisedMLPGenerator
from gankit.models.stylegan import StyleGAN2Discriminator, StyleGAN2Generator
from gankit.nn.spectral_norm import apply_spectral_norm

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Architecture:
    """How to build one family's networks, and for which kind of data (``vectors`` or ``images``). Builders take
    ``(config, data shape, number of classes)`` and read ``config.model`` and their family's own section."""

    data: str
    generator: Callable[[Config, Shape, int], Generator]
    discriminator: Callable[[Config, Shape, int], Discriminator]


def _d_width(config: Config) -> int:
    return config.model.d_width or config.model.width


def _ssmlp_discriminator(config: Config, shape: Shape, num_classes: int) -> SemiSupervisedMLPDiscriminator:
    """Salimans et al.'s K-class discriminator with K = ``semisupervised.classes`` outputs (unconditional)."""
    if num_classes:
        raise GankitError("model.arch=ssmlp is unconditional (the classes are D's outputs); set data.conditional=false")
    return SemiSupervisedMLPDiscriminator(shape, out_features=config.semisupervised.classes)


def _unconditional(arch: str, num_classes: int) -> None:
    if num_classes:
        raise GankitError(f"model.arch={arch} is unconditional; set data.conditional=false")


def _maxout_generator(config: Config, shape: Shape, num_classes: int) -> MaxoutMLPGenerator:
    """PacGAN's 2-D generator (Lin et al. 2018): 4 x (linear, batch norm, ReLU) of ``model.width`` units."""
    _unconditional("maxout-mlp", num_classes)
    return MaxoutMLPGenerator(config.model.z_dim, shape[0], config.model.width)


def _maxout_discriminator(config: Config, shape: Shape, num_classes: int) -> MaxoutMLPDiscriminator:
    """PacGAN's 2-D discriminator (Lin et al. 2018): 3 LinearMaxout layers (5 pieces) of ``model.d_width`` units."""
    _unconditional("maxout-mlp", num_classes)
    return MaxoutMLPDiscriminator(shape[0], _d_width(config), out_features=config.model.d_out)


REGISTRY: dict[str, Architecture] = {
    "mlp": Architecture(
        "vectors",
        lambda c, s, k: MLPGenerator(c.model.z_dim, s[0], c.model.width, c.model.depth, k),
        lambda c, s, k: MLPDiscriminator(s[0], _d_width(c), c.model.depth, c.model.d_out, k, c.model.d_cond),
    ),
    "dcgan": Architecture(
        "images",
        lambda c, s, k: DCGANGenerator(c.model.z_dim, s[0], s[1], c.model.width, k),
        lambda c, s, k: DCGANDiscriminator(s[0], s[1], _d_width(c), c.model.d_norm, c.model.d_out, k, c.model.d_cond),
    ),
    "resnet": Architecture(
        "images",
        lambda c, s, k: ResNetGenerator32(c.model.z_dim, s[0], c.model.width, s[1], k),
        lambda c, s, k: ResNetDiscriminator32(s[0], _d_width(c), s[1], c.model.d_out, k, c.model.d_cond),
    ),
    "biggan": Architecture(
        "images",
        lambda c, s, k: BigGANGenerator(
            s[1],
            s[0],
            c.model.z_dim,
            c.model.width,
            k,
            shared_dim=c.biggan.shared_dim,
            hierarchical=c.biggan.hierarchical,
            attention_resolution=c.biggan.g_attention,
            init=c.biggan.init,
        ),
        lambda c, s, k: BigGANDiscriminator(
            s[1], s[0], _d_width(c), k, c.biggan.d_attention, c.model.d_out, c.biggan.init
        ),
    ),
    "stylegan2": Architecture(
        "images",
        lambda c, s, k: StyleGAN2Generator(
            c.model.z_dim,
            s[0],
            s[1],
            c.stylegan.w_dim,
            c.stylegan.mapping_layers,
            c.stylegan.channel_base,
            c.stylegan.channel_max,
            k,
            c.stylegan.mapping_lr_multiplier,
            c.stylegan.w_avg_beta,
            c.stylegan.fused_modconv,
        ),
        lambda c, s, k: StyleGAN2Discriminator(
            s[0],
            s[1],
            c.stylegan.channel_base,
            c.stylegan.channel_max,
            c.stylegan.mbstd_group_size,
            c.stylegan.mbstd_features,
            k,
            c.model.d_out,
            c.stylegan.d_residual,
        ),
    ),
    "ssmlp": Architecture(
        "images",
        lambda c, s, k: SemiSupervisedMLPGenerator(c.model.z_dim, s, k),
        lambda c, s, k: _ssmlp_discriminator(c, s, k),
    ),
    "maxout-mlp": Architecture("vectors", _maxout_generator, _maxout_discriminator),
}
ARCHITECTURES = tuple(REGISTRY)


def _architecture(arch: str, data_shape: Shape, key: str = "model.arch") -> Architecture:
    if arch not in REGISTRY:
        raise GankitError(f"unknown {key} '{arch}'; valid architectures: {', '.join(REGISTRY)}")
    entry = REGISTRY[arch]
    if entry.data == "vectors" and len(data_shape) != 1:
        raise GankitError(f"{key}={arch} is for vectors; this data set has shape {data_shape}: use dcgan")
    if entry.data == "images" and len(data_shape) != 3:
        raise GankitError(f"{key}={arch} is for images; this data set has shape {data_shape}: use mlp")
    return entry


def _as_config(config: Config | ModelConfig) -> Config:
    """A whole config; a bare ``ModelConfig`` gets default family sections."""
    return config if isinstance(config, Config) else Config(model=config)


def build_generator(config: Config | ModelConfig, data_shape: Shape, num_classes: int = 0) -> Generator:
    """The generator of ``config`` for samples of ``data_shape`` ((D,) vectors or (C, R, R) images), conditional
    on ``num_classes`` classes when > 0, spectrally normalised when ``model.g_spectral_norm`` (Miyato et al.
    2018; Zhang et al. 2019)."""
    config = _as_config(config)
    generator = _architecture(config.model.arch, data_shape).generator(config, data_shape, num_classes)
    return apply_spectral_norm(generator, config.model.sn_iters) if config.model.g_spectral_norm else generator


def build_discriminator(config: Config | ModelConfig, data_shape: Shape, num_classes: int = 0) -> Discriminator:
    """The discriminator of ``config``: that of ``model.d_arch`` (empty: ``model.arch``), so one family's generator
    can train against another's discriminator; ``model.d_width`` (0: ``model.width``) sets its width,
    ``model.spectral_norm`` normalises every weight layer (Miyato et al. 2018), and ``model.pack`` m > 1 makes it
    judge m samples at once (PacGAN, Lin et al. 2018: :class:`gankit.models.packing.PackedDiscriminator`)."""
    config = _as_config(config)
    pack = config.model.pack
    if pack > 1 and num_classes:
        raise GankitError(f"model.pack={pack} packs unconditional samples; set data.conditional=false or model.pack=1")
    entry = _architecture(
        discriminator_arch(config.model), data_shape, "model.d_arch" if config.model.d_arch else "model.arch"
    )
    discriminator = entry.discriminator(config, packed_shape(data_shape, pack), num_classes)
    if config.model.spectral_norm:
        discriminator = apply_spectral_norm(discriminator, config.model.sn_iters)
    return PackedDiscriminator(discriminator, pack, data_shape) if pack > 1 else discriminator


__all__ = [
    "ARCHITECTURES",
    "REGISTRY",
    "Architecture",
    "BigGANDiscriminator",
    "BigGANGenerator",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator",
    "Generator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MaxoutMLPDiscriminator",
    "MaxoutMLPGenerator",
    "PackedDiscriminator",
    "ResNetDiscriminator32",
    "ResNetGenerator32",
    "SemiSupervisedMLPDiscriminator",
    "SemiSupervisedMLPGenerator",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "build_discriminator",
    "build_generator",
    "count_parameters",
]
