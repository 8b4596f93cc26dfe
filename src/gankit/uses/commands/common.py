"""What the ``gankit use`` commands share: reading data sets by a short name, loading a trained model (a GAN run or
a classic baseline's run) with its discriminator, feature spaces, and printing tables.

Data specs: ``mnist``, ``fashion-mnist``, ``cifar10``, ``faces`` (their training split), ``NAME-train``,
``NAME-test``, ``faces-all``, ``digits``, a ``FILE.npz`` (key ``x``, labels ``y``) or an image folder. Images are
read at ``--resolution`` pixels, by default the model's resolution, else the data set's own size.

Models: ``--run`` takes a run directory (or checkpoint) of ``gankit train``, whose generator is loaded with
:func:`gankit.sampling.load_generator` (EMA weights) and whose discriminator is rebuilt from the checkpoint's
``D`` entry, or a run directory of ``gankit fit-baseline``, which gives the fitted density model and its
linear-Gaussian generator (no discriminator).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from gankit.baselines import build_baseline
from gankit.baselines.base import DensityBaseline
from gankit.baselines.run import is_baseline_run, load_run
from gankit.config import DataConfig, config_from_checkpoint
from gankit.data.arrays import load_arrays
from gankit.data.named import NAMED_DATASETS
from gankit.errors import GankitError
from gankit.metrics.features.extractors import ClassifierFeatures, FeatureExtractor, build_extractor
from gankit.models import build_discriminator
from gankit.runtime import checkpoint as checkpoint_io
from gankit.sampling import find_checkpoint, load_generator

NATIVE_RESOLUTION = {"mnist": 28, "fashion-mnist": 28, "cifar10": 32, "faces": 64, "digits": 8}
CLASSIFIER_DATA = ("digits", "mnist", "fashion-mnist")
SPEC = re.compile(r"^(digits|mnist|fashion-mnist|cifar10|faces)(?:-(train|test|all))?$")
DATA_HELP = (
    "mnist, fashion-mnist, cifar10, faces (training split), NAME-test, NAME-train, faces-all, digits, "
    "FILE.npz (x, y) or an image folder"
)


@dataclass
class Data:
    """uint8 images (N, C, R, R), int64 labels or None, and the spec they were read from."""

    images: torch.Tensor
    labels: torch.Tensor | None
    spec: str
    config: DataConfig

    @property
    def name(self) -> str:
        """The data set's name (``npz`` / ``folder`` for files)."""
        return self.config.name


def data_config(spec: str, resolution: int | None) -> DataConfig:
    """The :class:`DataConfig` of a data spec (module text) at ``resolution`` (None: the data set's own size)."""
    path = Path(spec)
    if spec.endswith(".npz"):
        if not path.is_file():
            raise GankitError(f"no such .npz file: {spec}")
        if resolution is None:
            from gankit.data.images import load_npz

            resolution = int(load_npz(path)[0].shape[-1])
        return DataConfig(name="npz", path=spec, resolution=resolution)
    if path.is_dir():
        if resolution is None:
            raise GankitError(f"{spec}: give --resolution for an image folder")
        return DataConfig(name="folder", path=spec, resolution=resolution)
    match = SPEC.match(spec)
    if match is None:
        raise GankitError(f"unknown data '{spec}'; give {DATA_HELP}")
    name, split = match.group(1), match.group(2) or "train"
    if name == "digits" and match.group(2):
        raise GankitError("digits has no splits; use digits")
    if split == "all" and name != "faces":
        raise GankitError(f"'{spec}': only faces has the split 'all'; use {name}-train or {name}-test")
    return DataConfig(name=name, split=split, resolution=resolution or NATIVE_RESOLUTION[name])


def load_data(spec: str, resolution: int | None = None) -> Data:
    """The images and labels of a data spec (module text)."""
    config = data_config(spec, resolution)
    images, labels = load_arrays(config)
    return Data(images, labels, spec, config)


def spec_of(config: DataConfig, split: str | None = None) -> str:
    """A data spec naming the data set of a run's ``data`` section (its ``split``, or ``split`` if given)."""
    if config.name in ("npz", "folder"):
        return config.path
    if config.name in NAMED_DATASETS:
        return f"{config.name}-{split or config.split}"
    return config.name


def held_out_spec(config: DataConfig) -> str:
    """The held-out counterpart of a training data spec: the ``test`` split of a named data set; data sets
    without splits (digits, npz files, folders) have none, and the command needs ``--test``."""
    if config.name in NAMED_DATASETS:
        return f"{config.name}-test"
    raise GankitError(f"{spec_of(config)} has no test split; name held-out images with --test (e.g. mnist-test)")


@dataclass
class Model:
    """A trained model: ``generator`` (any gankit generator), its ``discriminator`` (None for MMD generators and
    baselines), the fitted ``baseline`` of a fit-baseline run, and the run's ``data`` section."""

    path: str
    generator: nn.Module
    discriminator: nn.Module | None
    baseline: DensityBaseline | None
    data: DataConfig | None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def resolution(self) -> int | None:
        """The resolution of the model's images (None for vectors)."""
        shape = tuple(self.generator.out_shape)
        return shape[-1] if len(shape) == 3 else None


def load_model(source: str, device: torch.device | str = "cpu") -> Model:
    """A run of ``gankit train`` (generator with EMA weights and its discriminator) or of ``gankit fit-baseline``."""
    if is_baseline_run(source):
        folder = Path(source) if Path(source).is_dir() else Path(source).parent
        config_file = folder / "config.yaml"
        values = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
        data = DataConfig(**values["data"]) if "data" in values else None
        generator = load_generator(folder, device=device)
        return Model(str(source), generator, None, load_run(source), data, {"kind": "baseline", **values})
    state = checkpoint_io.load(find_checkpoint(source))
    config = config_from_checkpoint(state)
    generator = load_generator(source, device=device)
    discriminator = None
    if state.get("D") is not None:
        discriminator = build_discriminator(config, tuple(state["data_shape"]), int(state.get("num_classes", 0)))
        discriminator.load_state_dict(state["D"])
        discriminator = discriminator.to(device).eval().requires_grad_(False)
    record = {"kind": "gan", "checkpoint": str(find_checkpoint(source)), "step": int(state["step"])}
    record |= {"arch": config.model.arch, "loss": config.objective.loss, "seed": config.train.seed}
    return Model(str(source), generator, discriminator, None, config.data, record)


def fit_density(name_or_run: str, train: Data, components: int) -> tuple[str, DensityBaseline]:
    """A Gaussian density model: the baseline of a fit-baseline run directory, or ``gaussian`` / ``ppca`` / ``gmm``
    fitted to ``train`` (``components`` for ppca and gmm)."""
    if is_baseline_run(name_or_run):
        model = load_run(name_or_run)
        return f"{model.kind} ({name_or_run})", model
    options = {"components": components} if name_or_run in ("ppca", "gmm") else {}
    model = build_baseline(name_or_run, **options).fit(train.images)
    shown = f"{name_or_run} k={components}" if options else name_or_run
    return shown, model


# -- feature spaces ---------------------------------------------------------------------------------------------
class FittedClassifierFeatures(ClassifierFeatures):
    """The data's own small CNN classifier (:mod:`gankit.metrics.features.classifier`, same recipe) trained on the
    command's labelled training images: for data whose training split is not available as a named data set
    (e.g. the first 10k MNIST training images in an .npz). Cached in ``$GANKIT_HOME/classifiers`` by content."""

    def __init__(self, train: Data, seed: int = 0, device: str | torch.device = "cpu") -> None:
        from gankit.metrics.features.classifier import FEATURE_DIM, load_or_fit

        FeatureExtractor.__init__(self, device)
        if train.labels is None:
            raise GankitError(f"{train.spec} has no labels; the classifier features need labelled training data")
        model, record = load_or_fit(train.images, train.labels, train.spec, seed)
        resolution = train.images.shape[-1]
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.record, self.dataset, self.resolution, self.seed = record, train.spec, resolution, seed
        self.name, self.dim = "classifier:data", FEATURE_DIM

    def settings(self) -> dict[str, Any]:
        """The classifier's settings plus the data it was trained on (part of feature-cache keys)."""
        return {**super().settings(), "trained_on": self.record["dataset"], "data_sha256": self.record["sha256"]}


def build_features(
    spec: str, train: Data | None, shape: tuple[int, int, int], device: torch.device | str = "cpu", weights=None
) -> FeatureExtractor:
    """``auto``: the data set's classifier (``classifier:NAME``) for digits / MNIST / Fashion-MNIST, the classifier
    trained on the training data for labelled .npz files, else Inception; ``classifier``: the classifier trained on
    ``train``; or any spec of :func:`gankit.metrics.features.extractors.build_extractor`."""
    if spec == "auto":
        if train is not None and train.name in CLASSIFIER_DATA:
            spec = f"classifier:{train.name}"
        elif train is not None and train.name == "npz" and train.labels is not None:
            spec = "classifier"
        else:
            spec = "inception"
    if spec == "classifier":
        if train is None:
            raise GankitError("--features classifier trains on the labelled training data; give --data")
        return FittedClassifierFeatures(train, device=device)
    return build_extractor(spec, shape, weights, device=device)


def features_of(extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """(N, d) float64 features of uint8 images."""
    return extractor(images, batch_size=batch_size)[0].double()


# -- command-line plumbing --------------------------------------------------------------------------------------
def add_data_arguments(parser: argparse.ArgumentParser, test: bool = True) -> None:
    """``--data``, ``--test`` and ``--resolution``."""
    parser.add_argument("--data", help=f"training data ({DATA_HELP}; default: the run's)")
    if test:
        parser.add_argument("--test", help="held-out images, a data spec as --data (default: the test split)")
    parser.add_argument("--resolution", type=int, help="image size (default: the run's, else the data set's own)")


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """``--features`` and ``--inception-weights``."""
    parser.add_argument(
        "--features",
        default="auto",
        help="auto (the data set's classifier for digits/MNIST/Fashion-MNIST and labelled .npz, else inception), "
        "classifier (trained on --data), classifier:DATASET, inception, pixels",
    )
    parser.add_argument(
        "--inception-weights", help="FID Inception weights (pt_inception-...pth or NVIDIA's TorchScript)"
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed``, ``--device``, ``--threads``."""
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")


def setup(args: argparse.Namespace) -> torch.device:
    """Apply ``--threads`` and pick the device."""
    from gankit.runtime.device import select_device

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    return select_device(args.device)


def training_data(args: argparse.Namespace, model: Model | None, required: bool = True) -> Data | None:
    """The ``--data`` images, by default the run's training data, at the model's (or ``--resolution``) size."""
    resolution = args.resolution or (model.resolution if model is not None else None)
    if args.data:
        return load_data(args.data, resolution)
    if model is not None and model.data is not None:
        return load_data(spec_of(model.data), resolution)
    if required:
        raise GankitError("give the data with --data (e.g. --data mnist) or a trained run with --run")
    return None


def test_data(args: argparse.Namespace, train: Data) -> Data:
    """The ``--test`` images, by default the held-out split of the training data, at the training resolution."""
    spec = args.test or held_out_spec(train.config)
    return load_data(spec, train.images.shape[-1])


def check_shape(images: torch.Tensor, model: Model, what: str = "images") -> None:
    """A one-line error when ``images`` do not have the shape the model makes."""
    shape = tuple(model.generator.out_shape)
    if tuple(images.shape[1:]) != shape:
        raise GankitError(
            f"{what} of shape {tuple(images.shape[1:])} do not match the model's {shape}; "
            f"read them at the model's resolution (--resolution {shape[-1]})"
        )


def print_table(headers: list[str], rows: list[list[Any]], title: str = "") -> None:
    """A plain-text table: strings as given, floats to 4 significant places."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    if title:
        print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def output_folder(args: argparse.Namespace) -> Path:
    """``--out``, created."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out
