"""``gankit project RUN IMAGE...``: find the latent code of a trained generator that reproduces each image
(projection / GAN inversion; Karras et al., CVPR 2020, Sec. 5 and Appendix D; Abdal et al., ICCV 2019, for w+),
with :func:`gankit.uses.projection.project`.

IMAGE: image files or image sources with an optional slice (``mnist-test:0:100``; :mod:`gankit.uses.targets`).
Style generators are inverted in w (default), w+ or z with their noise maps; every other gankit generator in z.
The loss is pixel MSE plus ``--feature-weight`` times the squared distance of the data set's classifier features
(``--features``; LPIPS weights are not available offline; ``--features none``: pixels only). Prints per image the
pixel PSNR, the feature distance, the steps and the seconds (the wall time of its batch divided by the batch's
images: images of a batch are optimised together); writes ``targets.png``, ``reconstructions.png``,
``comparison.png`` (target above reconstruction) and ``latents.safetensors`` (latents, ws, noise maps, targets,
reconstructions, PSNR, feature distances).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import save_file

from gankit.errors import GankitError
from gankit.imaging import from_uint8, grid_image, save_image
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.commands.common import Model, build_features, load_model, output_folder, print_table, setup
from gankit.uses.commands.common import training_data as run_training_data
from gankit.uses.path_length import float_feature_fn
from gankit.uses.projection import ProjectionResult, project
from gankit.uses.targets import Targets, read_targets


def add_projection_options(parser: argparse.ArgumentParser) -> None:
    """The projection's own options, shared by ``gankit project``, ``gankit more-like`` and ``gankit use more-like``."""
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000, the paper's)")
    parser.add_argument("--space", help="w, w+ or z (default: w for style generators, z for the others)")
    parser.add_argument("--lr", type=float, default=0.1, help="Adam's peak learning rate (default 0.1)")
    parser.add_argument(
        "--features",
        default="auto",
        help="feature space of the loss and the distances: auto (the data set's classifier; for .npz-trained runs "
        "the classifier fitted on the run's data), classifier:DATASET, inception, none (pixels only)",
    )
    parser.add_argument("--feature-weight", type=float, default=0.1, help="weight of the feature term (default 0.1)")
    parser.add_argument("--inception-weights", help="FID Inception weights for --features inception")
    parser.add_argument("--batch-size", type=int, default=100, help="images projected together (default 100)")


def add_projection_arguments(parser: argparse.ArgumentParser) -> None:
    """:func:`add_projection_options` plus ``--data``, ``--resolution``, ``--seed``, ``--device``, ``--threads``."""
    add_projection_options(parser)
    parser.add_argument("--data", help="the classifier's training data (default: the run's)")
    parser.add_argument("--resolution", type=int, help="image size of --data (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("run", metavar="RUN", help="a run directory (or checkpoint) of gankit train")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files or sources such as mnist-test:0:100")
    add_projection_arguments(parser)


@dataclass
class Projected:
    """Every image's projection, merged over batches: targets (float, [-1, 1]), and the merged result fields."""

    targets: torch.Tensor
    result: ProjectionResult
    seconds_per_image: torch.Tensor
    feature_name: str


def load_projection_model(args: argparse.Namespace, command: str) -> tuple[Model, torch.device]:
    """The run's generator (any gankit generator; fit-baseline runs are refused)."""
    device = setup(args)
    model = load_model(args.run, device)
    if model.baseline is not None:
        raise GankitError(
            f"gankit {command} needs a run of gankit train; for a fit-baseline run use gankit use more-like"
        )
    if len(tuple(model.generator.out_shape)) != 3:
        raise GankitError(f"{args.run} makes vectors, not images; gankit {command} needs an image generator")
    if model.generator.num_classes:
        raise GankitError(
            f"gankit {command} takes unconditional runs; for a conditional one call gankit.uses.projection.project "
            "with the labels y"
        )
    return model, device


def load_model_and_targets(args: argparse.Namespace, command: str) -> tuple[Model, torch.device, Targets]:
    """:func:`load_projection_model`, then ``args.images`` read and fitted to its output shape (notes printed)."""
    model, device = load_projection_model(args, command)
    targets = read_targets(args.images, tuple(model.generator.out_shape))
    for note in targets.notes:
        print(f"note: {note}")
    return model, device, targets


def feature_space(args: argparse.Namespace, model: Model, device: torch.device):
    """(name, differentiable float feature function or None) of ``--features``."""
    if args.features == "none":
        return "none", None
    train = run_training_data(args, model) if args.features in ("auto", "classifier") else None
    extractor = build_features(args.features, train, tuple(model.generator.out_shape), device, args.inception_weights)
    return extractor.name, float_feature_fn(extractor)


def space_of(args: argparse.Namespace, generator: torch.nn.Module) -> str:
    """``--space``, by default w for style generators and z for the others."""
    return args.space or ("w" if isinstance(generator, StyleGAN2Generator) else "z")


def project_all(
    args: argparse.Namespace, model: Model, targets: Targets, device: torch.device, features=None
) -> Projected:
    """Project the targets in batches of ``--batch-size``; one seeded random stream for all batches. ``features``:
    the (name, function) of :func:`feature_space`, built from ``--features`` when None."""
    if args.batch_size < 1:
        raise GankitError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.steps < 1:
        raise GankitError(f"--steps must be >= 1, got {args.steps}")
    name, feature_fn = features if features is not None else feature_space(args, model, device)
    G, space = model.generator, space_of(args, model.generator)
    floats = from_uint8(targets.images)
    rng = torch.Generator().manual_seed(args.seed)
    parts, per_image = [], []
    for i in range(0, len(floats), args.batch_size):
        batch = floats[i : i + args.batch_size]
        part = project(
            G,
            batch,
            args.steps,
            space,
            feature_fn=feature_fn,
            feature_weight=args.feature_weight,
            lr=args.lr,
            generator=rng,
        )
        parts.append(part)
        per_image.append(torch.full((len(batch),), part.seconds / len(batch)))
    merged = ProjectionResult(
        images=torch.cat([p.images for p in parts]),
        latents=torch.cat([p.latents for p in parts]),
        ws=None if parts[0].ws is None else torch.cat([p.ws for p in parts]),
        noise=None
        if parts[0].noise is None
        else [torch.cat(maps) for maps in zip(*(p.noise for p in parts), strict=True)],
        space=space,
        psnr=torch.cat([p.psnr for p in parts]),
        feature_distance=None if feature_fn is None else torch.cat([p.feature_distance for p in parts]),
        steps=args.steps,
        seconds=sum(p.seconds for p in parts),
    )
    return Projected(floats, merged, torch.cat(per_image), name)


def save_latents(path, projected: Projected) -> None:
    """Everything needed to re-render the reconstructions, as safetensors (no code runs on load)."""
    result = projected.result
    tensors = {
        "latents": result.latents,
        "targets": projected.targets,
        "reconstructions": result.images,
        "psnr": result.psnr,
    }
    if result.ws is not None:
        tensors["ws"] = result.ws
    if result.feature_distance is not None:
        tensors["feature_distance"] = result.feature_distance
    for i, maps in enumerate(result.noise or []):
        tensors[f"noise.{i}"] = maps
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, str(path), metadata={"space": result.space})


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Read, project, print, write."""
    start = time.perf_counter()
    model, device, targets = load_model_and_targets(args, "project")
    projected = project_all(args, model, targets, device)
    result = projected.result
    distances = result.feature_distance
    rows = [
        [
            name,
            float(result.psnr[i]),
            "-" if distances is None else float(distances[i]),
            result.steps,
            float(projected.seconds_per_image[i]),
        ]
        for i, name in enumerate(targets.names)
    ]
    mean_row = [
        "mean",
        float(result.psnr.mean()),
        "-" if distances is None else float(distances.mean()),
        result.steps,
        float(projected.seconds_per_image.mean()),
    ]
    print_table(
        ["image", "PSNR (dB)", f"feature distance ({projected.feature_name})", "steps", "seconds"],
        [*rows, mean_row],
        f"projection into {args.run} ({type(model.generator).__name__}, space {result.space}), {len(rows)} images",
    )
    out = output_folder(args)
    files = {name: out / f"{name}.png" for name in ("targets", "reconstructions", "comparison")}
    nrow = min(10, len(rows))
    save_image(grid_image(projected.targets, nrow=nrow), files["targets"])
    save_image(grid_image(result.images, nrow=nrow), files["reconstructions"])
    pairs = torch.stack([projected.targets, result.images.clamp(-1, 1)], dim=1).flatten(0, 1)
    save_image(grid_image(pairs, nrow=2 * nrow), files["comparison"])
    latents = out / "latents.safetensors"
    save_latents(latents, projected)
    seconds = time.perf_counter() - start
    print(f"wrote {', '.join(str(p) for p in files.values())}, {latents}")
    print(f"time: {seconds:.1f} s")
    return {
        "run": args.run,
        "space": result.space,
        "steps": result.steps,
        "features": projected.feature_name,
        "feature_weight": args.feature_weight,
        "images": targets.names,
        "psnr": result.psnr.tolist(),
        "psnr_mean": float(result.psnr.mean()),
        "feature_distance": None if distances is None else distances.tolist(),
        "feature_distance_mean": None if distances is None else float(distances.mean()),
        "seconds_per_image": projected.seconds_per_image.tolist(),
        "notes": targets.notes,
        "files": {k: str(v) for k, v in files.items()} | {"latents": str(latents)},
        "seconds": seconds,
    }
