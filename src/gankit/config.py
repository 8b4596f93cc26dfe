"""Typed run configuration: dataclasses, YAML presets shipped in the package, ``key=value`` overrides.

A configuration is a tree of small dataclasses (one per section). Presets are YAML files in
``gankit/presets/``; the command line overrides any leaf with ``section.key=value``, where the value
is parsed as YAML (so ``train.steps=2000`` is an int and ``ema.enabled=false`` a bool) and then
checked against the field's declared type. Every problem is a one-line :class:`GankitError` that
names the valid keys, presets or the expected type.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from gankit import defaults
from gankit.errors import GankitError


@dataclass
class DataConfig:
    """Where training examples come from (see :mod:`gankit.data`)."""

    name: str = "digits"
    path: str = ""
    split: str = "train"
    resolution: int = 16
    grayscale: bool = False
    radius: float = 1.0
    std: float = 0.01
    download: bool = True
    num_workers: int = 0
    conditional: bool = False


@dataclass
class ModelConfig:
    """Generator and discriminator architecture (see :mod:`gankit.models`)."""

    arch: str = "dcgan"
    d_arch: str = ""
    z_dim: int = 64
    width: int = 64
    d_width: int = 0
    depth: int = 3
    d_norm: str = "batch"
    spectral_norm: bool = False
    g_spectral_norm: bool = False
    sn_iters: int = 1
    d_out: int = 1
    g_cond: str = "concat"
    d_cond: str = "projection"
    pack: int = 1


@dataclass
class BigGANConfig:
    """BigGAN's architecture switches (Brock et al. 2019; ``model.arch=biggan``, see :mod:`gankit.models.biggan`)."""

    shared_dim: int = 128
    hierarchical: bool = True
    g_attention: int = 0
    d_attention: int = 0
    init: str = "ortho"


@dataclass
class StyleGANConfig:
    """StyleGAN2's architecture and regularisation switches (Karras et al. 2020; ``model.arch=stylegan2``, see
    :mod:`gankit.models.stylegan` and :mod:`gankit.objectives.stylegan`)."""

    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    w_avg_beta: float = 0.995
    fused_modconv: bool = False
    mbstd_group_size: int = 4
    mbstd_features: int = 1
    d_residual: bool = True
    mixing_prob: float = 0.9
    pl_weight: float = 0.0
    pl_every: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2


@dataclass
class ObjectiveConfig:
    """The adversarial loss and the regularisers of D (see :mod:`gankit.objectives`)."""

    loss: str = "ns"
    gp: float = 0.0
    gp_one_sided: bool = False
    r1: float = 0.0
    r2: float = 0.0
    reg_every: int = 1
    clip: float = 0.0
    noise_std: float = 0.0
    noise_anneal: int = 0
    ortho: float = 0.0
    ac_weight: float = 1.0


@dataclass
class MMDConfig:
    """The kernel and feature space of the MMD objectives (``objective.loss`` gmmn, mmdgan, smmd)."""

    kernel: str = "rq"
    bandwidths: list[float] = field(default_factory=lambda: [1.0])
    scale_lambda: float = 1.0
    features: str = "pixels"


@dataclass
class SemiSupervisedConfig:
    """The K+1-class GAN of Salimans et al. (2016) (``objective.loss=ssgan``, ``model.arch=ssmlp``): K = ``classes``
    real classes, ``labels_per_class`` labelled training images of each chosen with ``label_seed``, and the weight
    of the unsupervised loss (see :mod:`gankit.objectives.semisupervised_gan`)."""

    classes: int = 10
    labels_per_class: int = 10
    label_seed: int = 0
    unsupervised_weight: float = 1.0


@dataclass
class OptimConfig:
    """Optimizers for G and D, and the learning-rate schedule."""

    name: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: str = "none"


@dataclass
class TrainConfig:
    """Length, batch, alternation and numerics of the training loop. ``batch_size`` is the global batch (split
    over the processes of a torchrun job); ``sync_bn`` turns batch norm into SyncBatchNorm under torchrun;
    ``channels_last`` stores image networks' weights and the real batches in channels-last memory order
    (NHWC strides), which oneDNN's CPU convolutions and cuDNN's tensor-core kernels run without reordering."""

    steps: int = 2000
    batch_size: int = 64
    accumulate: int = 1
    n_critic: int = 1
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    sync_bn: bool = False
    channels_last: bool = False


@dataclass
class EMAConfig:
    """Exponential moving average of the generator's weights (Yazici et al., ICLR 2019), as a half-life in
    training images (Karras et al. 2020, StyleGAN2-ADA's ``ema_kimg``): per step the decay is
    ``0.5 ** (batch_size / half_life_images)``, so the average keeps its meaning when the batch size changes."""

    enabled: bool = True
    half_life_images: float = 10_000.0
    start: int = 0

    def decay(self, batch_size: int) -> float:
        """The per-step decay for a (global) batch of ``batch_size`` images."""
        return 0.5 ** (batch_size / self.half_life_images)


@dataclass
class LogConfig:
    """What the run directory receives, and how often."""

    every: int = 50
    sample_every: int = 500
    ckpt_every: int = 500
    keep: int = 3
    n_samples: int = 64
    tensorboard: bool = True
    progress: bool = True
    divergence_window: int = 10


@dataclass
class EvalConfig:
    """Metrics measured during training (see :mod:`gankit.training.evaluation`); ``every`` 0 turns them off."""

    every: int = 0
    metrics: list[str] = field(default_factory=lambda: list(defaults.EVAL_METRICS))
    features: str = defaults.TRAINING_FEATURES
    n: int = 0
    kid_subset_size: int = defaults.KID_SUBSET_SIZE
    fid_bootstrap: int = defaults.FID_BOOTSTRAP
    inception_weights: str = ""
    seed: int = 0


@dataclass
class DistConfig:
    """Several processes under ``torchrun`` (see :mod:`gankit.runtime.distributed`)."""

    backend: str = "auto"
    timeout_s: float = 600.0


@dataclass
class Config:
    """A whole run: one field per section, plus the preset's name and one-line description."""

    name: str = "custom"
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    biggan: BigGANConfig = field(default_factory=BigGANConfig)
    stylegan: StyleGANConfig = field(default_factory=StyleGANConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    mmd: MMDConfig = field(default_factory=MMDConfig)
    semisupervised: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    dist: DistConfig = field(default_factory=DistConfig)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain nested dicts (what ``config.yaml`` holds)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        """The configuration as YAML text, sections in declaration order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


DEFAULT_PRESET = "digits"
SEMISUPERVISED_LOSS = "ssgan"
SEMISUPERVISED_ARCH = "ssmlp"
ADVERSARIAL_LOSS_NAMES = ("minimax", "ns", "hinge", "wasserstein")
AUXILIARY_ARCHS = ("mlp", "dcgan", "resnet")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the declared type ``tp``; ints are accepted where floats are expected."""
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise GankitError(f"{key}: expected a non-empty list like [1.0, 2.0], got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise GankitError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Build dataclass ``cls`` from a dict, rejecting unknown keys and wrongly typed values."""
    if not isinstance(values, dict):
        raise GankitError(f"{prefix or 'config'}: expected a mapping of keys, got {values!r}")
    hints = _field_types(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        where = f"section '{prefix}'" if prefix else "the top level"
        raise GankitError(
            f"unknown config key '{_join(prefix, unknown[0])}'; valid keys in {where}: {', '.join(hints)}"
        )
    kwargs = {}
    for name, tp in hints.items():
        if name not in values:
            continue
        key = _join(prefix, name)
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, values[name], key)
        else:
            kwargs[name] = _coerce(values[name], tp, key)
    return cls(**kwargs)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested dicts (a preset, a ``config.yaml``, a checkpoint)."""
    return _build(Config, values, "")


def config_from_checkpoint(state: dict[str, Any]) -> Config:
    """The configuration stored in a checkpoint, in today's keys: checkpoints of format v1 kept the MMD keys
    under ``objective`` and the EMA as a per-step ``decay`` (converted to the half-life in images it had at
    the run's batch size)."""
    values = copy.deepcopy(state["config"])
    objective = values.get("objective", {})
    moved = {k: objective.pop(k) for k in ("kernel", "bandwidths", "scale_lambda", "features") if k in objective}
    if moved:
        values["mmd"] = {**values.get("mmd", {}), **moved}
    ema = values.get("ema", {})
    if "decay" in ema:
        decay = ema.pop("decay")
        batch = values.get("train", {}).get("batch_size", 64)
        ema["half_life_images"] = batch * math.log(0.5) / math.log(decay) if 0 < decay < 1 else 10_000.0
    return config_from_dict(values)


def preset_names() -> list[str]:
    """Names of the presets shipped in ``gankit/presets``."""
    folder = resources.files("gankit") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> Config:
    """Load a named preset; an unknown name is an error listing the valid ones."""
    names = preset_names()
    if name not in names:
        raise GankitError(f"unknown preset '{name}'; valid presets: {', '.join(names)} (see 'gankit presets')")
    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    values.setdefault("name", name)
    return config_from_dict(values)


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Return a copy of ``config`` with ``section.key=value`` overrides applied (values parsed as YAML)."""
    values = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise GankitError(f"override '{item}' is not of the form section.key=value (e.g. train.steps=2000)")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = values
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                valid = ", ".join(k for k, v in node.items() if isinstance(v, dict))
                where = ".".join(parts[: i + 1])
                raise GankitError(f"unknown config section '{where}'; valid sections: {valid}")
            node = child
        leaf = parts[-1]
        if leaf not in node or isinstance(node[leaf], dict):
            valid = ", ".join(k for k, v in node.items() if not isinstance(v, dict))
            raise GankitError(f"unknown config key '{key}'; valid keys here: {valid}")
        try:
            node[leaf] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise GankitError(f"override '{item}': cannot parse value ({exc.__class__.__name__})") from exc
    return config_from_dict(values)


def resolve(preset: str | None, overrides: list[str]) -> Config:
    """The configuration a ``gankit train [PRESET] [key=value ...]`` command asks for, validated."""
    config = apply_overrides(load_preset(preset or DEFAULT_PRESET), overrides)
    validate(config)
    return config


def _set_away_from_default(section: Any, keys: tuple[str, ...], prefix: str, why: str) -> list[tuple[str, str]]:
    """(key, why) for each of ``keys`` whose value in ``section`` differs from its dataclass default."""
    default = type(section)()
    return [(f"{prefix}.{k}", why) for k in keys if getattr(section, k) != getattr(default, k)]


def _all_keys(section: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(section))


# A family's own section: (section, keys only its discriminator reads, keys both networks read); the other keys are
# read by its generator or by its objective, which follows model.arch.
FAMILY_SECTIONS = {
    "stylegan2": ("stylegan", {"mbstd_group_size", "mbstd_features", "d_residual"}, {"channel_base", "channel_max"}),
    "biggan": ("biggan", {"d_attention"}, {"init"}),
}


def discriminator_arch(model: ModelConfig) -> str:
    """The architecture whose discriminator is built: ``model.d_arch``, or ``model.arch`` when it is empty."""
    return model.d_arch or model.arch


def _ignored_keys(config: Config) -> list[tuple[str, str]]:
    """(key, why) for every key set away from its default that the chosen family does not read."""
    loss, model = config.objective.loss, config.model
    found: list[tuple[str, str]] = []
    if loss in defaults.MMD_LOSSES:
        adversarial_only = ("gp_one_sided", "r1", "r2", "reg_every", "clip", "noise_std", "noise_anneal")
        found += _set_away_from_default(config.objective, adversarial_only, "objective", f"objective.loss={loss}")
        if loss == "gmmn":
            why = "objective.loss=gmmn (no discriminator)"
            found += _set_away_from_default(config.objective, ("gp",), "objective", why)
            d_keys = ("d_arch", "d_width", "d_norm", "spectral_norm", "d_out", "d_cond", "pack")
            found += _set_away_from_default(model, d_keys, "model", why)
    else:
        found += _set_away_from_default(config.mmd, _all_keys(config.mmd), "mmd", f"objective.loss={loss}")
        found += _set_away_from_default(model, ("d_out",), "model", f"objective.loss={loss} (one logit per sample)")
    if loss == SEMISUPERVISED_LOSS:
        adversarial_only = ("gp", "gp_one_sided", "r1", "r2", "reg_every", "clip", "noise_std", "noise_anneal", "ortho")
        found += _set_away_from_default(config.objective, adversarial_only, "objective", f"objective.loss={loss}")
    else:
        why = f"objective.loss={loss} (the semisupervised section is for objective.loss=ssgan)"
        found += _set_away_from_default(config.semisupervised, _all_keys(config.semisupervised), "semisupervised", why)
    if model.d_cond != "auxiliary":
        why = f"model.d_cond={model.d_cond} (ac_weight weighs AC-GAN's class loss, model.d_cond=auxiliary)"
        found += _set_away_from_default(config.objective, ("ac_weight",), "objective", why)
    if model.arch != "mlp":
        found += _set_away_from_default(model, ("depth",), "model", f"model.arch={model.arch} (depth is MLP-only)")
    why = f"model.arch={model.arch}" + (f" with model.d_arch={model.d_arch}" if model.d_arch else "")
    for arch, (name, d_only, shared) in FAMILY_SECTIONS.items():
        section, read = getattr(config, name), set()
        if model.arch == arch:  # the generator's keys and the shared ones
            read |= set(_all_keys(section)) - d_only
        if discriminator_arch(model) == arch:
            read |= d_only | shared
        unread = tuple(key for key in _all_keys(section) if key not in read)
        found += _set_away_from_default(section, unread, name, why)
    return found


def validate(config: Config) -> None:
    """Range checks that the types alone cannot express, and keys that the chosen family would ignore;
    each failure names the key and the fix."""
    train = config.train
    checks = [
        (train.steps >= 1, "train.steps must be >= 1"),
        (train.batch_size >= 1, "train.batch_size must be >= 1"),
        (train.accumulate >= 1, "train.accumulate must be >= 1 (rounds per optimizer step)"),
        (
            train.batch_size % train.accumulate == 0,
            f"train.batch_size={train.batch_size} is not divisible by train.accumulate={train.accumulate}; "
            "pick a batch size that is a multiple of the rounds",
        ),
        (train.n_critic >= 1, "train.n_critic must be >= 1"),
        (train.precision in ("fp32", "bf16"), "train.precision must be one of: fp32, bf16"),
        (config.optim.name in ("adam", "rmsprop"), "optim.name must be one of: adam, rmsprop"),
        (config.optim.lr_decay in ("none", "linear"), "optim.lr_decay must be one of: none, linear"),
        (config.optim.lr_g > 0 and config.optim.lr_d > 0, "optim.lr_g and optim.lr_d must be > 0"),
        (0 <= config.optim.beta1 < 1 and 0 <= config.optim.beta2 < 1, "optim.beta1/beta2 must be in [0, 1)"),
        (config.ema.half_life_images > 0, "ema.half_life_images must be > 0"),
        (config.ema.start >= 0, "ema.start must be >= 0"),
        (config.model.z_dim >= 1 and config.model.width >= 1, "model.z_dim and model.width must be >= 1"),
        (config.model.d_width >= 0, "model.d_width must be >= 0 (0: same as model.width)"),
        (config.model.depth >= 1, "model.depth must be >= 1"),
        (config.model.d_norm in ("batch", "none"), "model.d_norm must be one of: batch, none"),
        (config.model.sn_iters >= 1, "model.sn_iters must be >= 1"),
        (config.model.g_cond in ("concat",), "model.g_cond must be one of: concat"),
        (
            config.model.d_cond in ("projection", "concat", "auxiliary"),
            "model.d_cond must be one of: projection, concat, auxiliary",
        ),
        (config.objective.ac_weight >= 0, "objective.ac_weight must be >= 0"),
        (
            config.model.d_cond != "auxiliary" or discriminator_arch(config.model) in AUXILIARY_ARCHS,
            f"model.d_cond=auxiliary (AC-GAN) is built for discriminators in {', '.join(AUXILIARY_ARCHS)}; "
            f"use model.d_cond=projection with the {discriminator_arch(config.model)} discriminator",
        ),
        (
            config.model.d_cond != "auxiliary" or config.objective.loss in ADVERSARIAL_LOSS_NAMES,
            f"model.d_cond=auxiliary (AC-GAN) adds a classification loss to an adversarial objective "
            f"({', '.join(ADVERSARIAL_LOSS_NAMES)}), not to objective.loss={config.objective.loss}",
        ),
        (config.model.pack >= 1, "model.pack must be >= 1 (samples per discriminator input; 1: no packing)"),
        (
            train.batch_size % (train.accumulate * max(config.model.pack, 1)) == 0,
            f"train.batch_size={train.batch_size} is not divisible by train.accumulate x model.pack="
            f"{train.accumulate * config.model.pack}; pick a batch size that is a multiple of it",
        ),
        (
            config.model.pack == 1 or not config.data.conditional,
            f"model.pack={config.model.pack} packs unconditional samples; set data.conditional=false or model.pack=1",
        ),
        (
            config.model.pack == 1 or config.objective.loss != SEMISUPERVISED_LOSS,
            "model.pack > 1 cannot classify single samples (objective.loss=ssgan); set model.pack=1",
        ),
        (
            min(config.objective.gp, config.objective.r1, config.objective.r2, config.objective.clip) >= 0,
            "objective.gp, objective.r1, objective.r2 and objective.clip must be >= 0",
        ),
        (config.objective.reg_every >= 1, "objective.reg_every must be >= 1"),
        (config.objective.ortho >= 0, "objective.ortho must be >= 0"),
        (config.stylegan.pl_weight >= 0, "stylegan.pl_weight must be >= 0"),
        (config.stylegan.pl_every >= 1, "stylegan.pl_every must be >= 1"),
        (config.stylegan.pl_batch_shrink >= 1, "stylegan.pl_batch_shrink must be >= 1"),
        (0 <= config.stylegan.mixing_prob <= 1, "stylegan.mixing_prob must be in [0, 1]"),
        (
            config.biggan.init in ("ortho", "N02", "xavier"),
            "biggan.init must be one of: ortho, N02, xavier",
        ),
        (min(config.mmd.bandwidths) > 0, "mmd.bandwidths must all be > 0"),
        (config.mmd.scale_lambda >= 0, "mmd.scale_lambda must be >= 0"),
        (config.mmd.features in ("pixels", "classifier"), "mmd.features must be one of: pixels, classifier"),
        (
            config.mmd.features == "pixels" or config.objective.loss in ("gmmn",),
            "mmd.features=classifier is for objective.loss=gmmn (MMD GANs learn their own features)",
        ),
        (config.model.d_out >= 1, "model.d_out must be >= 1 (critic features for MMD GANs)"),
        (config.objective.noise_std >= 0, "objective.noise_std must be >= 0"),
        (config.objective.noise_anneal >= 0, "objective.noise_anneal must be >= 0 (0: constant noise)"),
        (config.data.resolution >= 1, "data.resolution must be >= 1"),
        (config.data.std > 0, "data.std must be > 0"),
        (config.data.num_workers >= 0, "data.num_workers must be >= 0"),
        (
            not (config.data.conditional and config.data.name in defaults.TOY_DATASETS),
            f"data.conditional=true needs labelled data; {config.data.name} has no labels",
        ),
        (
            min(config.log.every, config.log.sample_every, config.log.ckpt_every, config.log.keep) >= 1,
            "log.every, log.sample_every, log.ckpt_every and log.keep must be >= 1",
        ),
        (config.log.n_samples >= 1, "log.n_samples must be >= 1"),
        (config.log.divergence_window >= 1, "log.divergence_window must be >= 1"),
        (config.eval.every >= 0, "eval.every must be >= 0 (0: no evaluation during training)"),
        (config.eval.n >= 0, "eval.n must be >= 0 (0: as many samples as the real set, at most 10000)"),
        (config.eval.kid_subset_size >= 2, "eval.kid_subset_size must be >= 2"),
        (config.eval.fid_bootstrap >= 0, "eval.fid_bootstrap must be >= 0"),
        (
            set(config.eval.metrics) <= set(defaults.METRICS),
            f"eval.metrics must be a list drawn from: {', '.join(defaults.METRICS)}",
        ),
        (
            config.eval.every == 0 or config.data.name not in defaults.TOY_DATASETS,
            "eval.every needs image data; toy runs measure mode coverage (gankit experiment mixtures)",
        ),
        (
            config.model.arch == discriminator_arch(config.model)
            or SEMISUPERVISED_ARCH not in (config.model.arch, discriminator_arch(config.model)),
            f"model.arch={SEMISUPERVISED_ARCH} builds both networks of the K+1-class GAN; set model.d_arch empty",
        ),
        (
            (config.objective.loss == SEMISUPERVISED_LOSS) == (config.model.arch == SEMISUPERVISED_ARCH),
            f"objective.loss={SEMISUPERVISED_LOSS} and model.arch={SEMISUPERVISED_ARCH} go together (the K+1-class "
            f"discriminator gives K logits); set both or neither",
        ),
        (
            config.objective.loss != SEMISUPERVISED_LOSS or not config.data.conditional,
            "objective.loss=ssgan is unconditional (the classes are D's outputs); set data.conditional=false",
        ),
        (config.semisupervised.classes >= 2, "semisupervised.classes must be >= 2"),
        (config.semisupervised.labels_per_class >= 1, "semisupervised.labels_per_class must be >= 1"),
        (config.semisupervised.unsupervised_weight >= 0, "semisupervised.unsupervised_weight must be >= 0"),
        (config.dist.backend in ("auto", "nccl", "gloo"), "dist.backend must be one of: auto, nccl, gloo"),
        (config.dist.timeout_s > 0, "dist.timeout_s must be > 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise GankitError(message)
    ignored = _ignored_keys(config)
    if ignored:
        key, why = ignored[0]
        raise GankitError(f"{key} is set but {why} ignores it; remove the key or change the family")
