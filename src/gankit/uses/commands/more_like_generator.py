"""``gankit more-like RUN IMAGE... --n 16``: more samples like x from a trained generator: project x into its
latent space (:mod:`gankit.uses.commands.project`), then sample around the found code
(:func:`gankit.uses.projection.more_like`: a Gaussian step of ``--radius`` standard deviations of W, or of Z for
generators without a mapping network, and for style generators the fine layers' styles taken from random w,
StyleGAN's style mixing, Karras et al. CVPR 2019, Sec. 3.1). Style samples keep x's projected noise maps.

The table compares, per image, the mean distance to x of the new samples with that of as many random samples of
the same generator, in pixels (L2 of images in [-1, 1]) and in the feature space of the projection. The figure
has one row per image: x, its reconstruction, then the new samples. ``gankit use more-like --run RUN`` reaches the
same code for generator runs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.models.stylegan import StyleGAN2Generator
from gankit.sampling import generate
from gankit.uses.commands.common import Model, output_folder, print_table
from gankit.uses.commands.project import (
    add_projection_arguments,
    feature_space,
    load_model_and_targets,
    project_all,
)
from gankit.uses.latent_structure import style_groups
from gankit.uses.projection import more_like
from gankit.uses.targets import Targets


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """``--radius`` and ``--mix-fine-from``."""
    parser.add_argument("--radius", type=float, default=0.5, help="Gaussian step in standard deviations (default 0.5)")
    parser.add_argument(
        "--mix-fine-from",
        default="fine",
        help="style generators: take styles from this index on from random w; 'fine' (default): the fine group's "
        "first style; 'none': no mixing",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("run", metavar="RUN", help="a run directory (or checkpoint) of gankit train")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files or sources such as mnist-test:0:8")
    parser.add_argument("--n", "-n", type=int, default=16, help="new samples per image (default 16)")
    add_sampling_arguments(parser)
    add_projection_arguments(parser)


def mixing_index(spec: str, G: torch.nn.Module) -> int | None:
    """The style index of ``--mix-fine-from`` for ``G``: None for 'none' and for generators without styles."""
    if not isinstance(G, StyleGAN2Generator):
        if spec not in ("fine", "none"):
            raise GankitError("--mix-fine-from needs a style generator; leave it at its default for this run")
        return None
    if spec == "none":
        return None
    if spec == "fine":
        return style_groups(G)["fine"][0]
    try:
        return int(spec)
    except ValueError as exc:
        raise GankitError(f"--mix-fine-from takes fine, none or a style index; got '{spec}'") from exc


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).flatten(1).norm(dim=1)


@torch.no_grad()
def _features(feature_fn, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    return feature_fn(images.to(device)).double().cpu()


def more_like_run(args: argparse.Namespace, model: Model, targets: Targets, device: torch.device, n: int) -> dict:
    """Project ``targets``, draw ``n`` samples around each and ``n`` random ones, print the table, write the grid;
    every number in the returned dict."""
    if n < 1:
        raise GankitError(f"--n must be >= 1 new samples per image, got {n}")
    G = model.generator
    mix_from = mixing_index(args.mix_fine_from, G)
    features = feature_space(args, model, device)
    projected = project_all(args, model, targets, device, features)
    result = projected.result
    feature_fn = features[1]
    rng = torch.Generator().manual_seed(args.seed + 1)
    rows, grid, record = [], [], []
    for i, name in enumerate(targets.names):
        x = projected.targets[i : i + 1]
        if isinstance(G, StyleGAN2Generator):
            noise = [maps[i : i + 1] for maps in result.noise]
            near, _ = more_like(G, result.ws[i], n, args.radius, mix_from, noise=noise, generator=rng)
        else:
            near, _ = more_like(G, result.latents[i], n, args.radius, generator=rng)
        free = generate(G, n, seed=args.seed + 1000 + i)
        entry = {
            "image": name,
            "psnr": float(result.psnr[i]),
            "pixel_near": _distance(near, x).tolist(),
            "pixel_random": _distance(free, x).tolist(),
        }
        if feature_fn is not None:
            fx = _features(feature_fn, x, device)
            entry["feature_near"] = _distance(_features(feature_fn, near, device), fx).tolist()
            entry["feature_random"] = _distance(_features(feature_fn, free, device), fx).tolist()
        record.append(entry)
        row = [name, entry["psnr"], _mean(entry["pixel_near"]), _mean(entry["pixel_random"])]
        if feature_fn is not None:
            row += [_mean(entry["feature_near"]), _mean(entry["feature_random"])]
        rows.append(row)
        grid.append(torch.cat([x, result.images[i : i + 1].clamp(-1, 1), near]))
    headers = ["image", "PSNR (dB)", "pixel dist. near", "pixel dist. random"]
    if feature_fn is not None:
        headers += [f"{projected.feature_name} dist. near", f"{projected.feature_name} dist. random"]
    means = [sum(r[j] for r in rows) / len(rows) for j in range(1, len(headers))]
    print_table(
        headers,
        [*rows, ["mean", *means]],
        f"more like x from {args.run}: {n} samples at radius {args.radius} (mixing from style {mix_from}) vs {n} "
        f"random samples; mean distances to x",
    )
    out = output_folder(args)
    figure = out / "more-like.png"
    save_image(grid_image(torch.cat(grid), nrow=n + 2), figure)
    print(f"figure: {figure}  (one row per image: x, its reconstruction, then {n} samples like it)")
    summary = dict(zip(headers[1:], means, strict=True))
    return {
        "run": args.run,
        "space": result.space,
        "steps": result.steps,
        "radius": args.radius,
        "mix_fine_from": mix_from,
        "features": projected.feature_name,
        "n": n,
        "images": record,
        "mean": summary,
        "figure": str(figure),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Read, project, sample, measure."""
    start = time.perf_counter()
    model, device, targets = load_model_and_targets(args, "more-like")
    result = more_like_run(args, model, targets, device, args.n)
    result["seconds"] = time.perf_counter() - start
    print(f"time: {result['seconds']:.1f} s")
    return result
