"""What the ``gankit style`` commands share: loading a run's generator (checked to be a style generator where a
command needs one), drawing style codes, and the feature space of a run's data."""

from __future__ import annotations

import argparse

import torch

from gankit.errors import GankitError
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.commands.common import Model, add_feature_arguments, build_features, load_model, setup, training_data


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional RUN, ``--seed``, ``--device`` and ``--threads``."""
    parser.add_argument("run", metavar="RUN", help="a run directory (or checkpoint) of gankit train")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--resolution`` (for the feature space and real images) and ``--features``."""
    parser.add_argument("--data", help="real images / the classifier's training data (default: the run's data)")
    parser.add_argument("--resolution", type=int, help="image size (default: the run's)")
    add_feature_arguments(parser)


def load_run(args: argparse.Namespace, command: str, style_only: bool = True) -> tuple[Model, torch.device]:
    """The run of ``args.run`` on the chosen device; for ``style_only`` commands a one-line error when its generator
    is not a style generator."""
    device = setup(args)
    model = load_model(args.run, device)
    if model.baseline is not None:
        raise GankitError(f"gankit style {command} needs a run of gankit train, not a fit-baseline run")
    if style_only and not isinstance(model.generator, StyleGAN2Generator):
        arch = model.record.get("arch", type(model.generator).__name__)
        raise GankitError(
            f"gankit style {command} needs a style generator (model.arch=stylegan2); {args.run} is a {arch} run"
        )
    return model, device


def features_for(args: argparse.Namespace, model: Model, device: torch.device):
    """(the run's training data or ``--data``, the feature extractor of ``--features``)."""
    train = training_data(args, model)
    shape = tuple(model.generator.out_shape)
    return train, build_features(args.features, train, shape, device, args.inception_weights)


def style_codes(G: StyleGAN2Generator, n: int, generator: torch.Generator, psi: float = 1.0) -> torch.Tensor:
    """``n`` style codes ws (n, num_ws, w_dim) of random z from ``generator``, truncated by ``psi``; conditional
    generators get labels 0, 1, 2, ... cycled."""
    z = torch.randn(n, G.z_dim, generator=generator).to(G.w_avg.device)
    y = torch.arange(n, device=z.device) % G.num_classes if G.num_classes else None
    return G.mapping(z, y, psi=psi)
