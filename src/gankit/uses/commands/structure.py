"""``gankit use structure``: what a generator has learned about the data's structure (:mod:`gankit.uses.structure`).

- Interpolations between latent pairs: linear and spherical (slerp) in z, and linear in w for generators with
  ``mapping`` / ``synthesis`` networks (StyleGAN); the table gives each path's mean length in feature space
  (the sum of feature distances between consecutive images, averaged over pairs: shorter = smoother).
- Unsupervised directions: SeFa (Shen & Zhou 2021; top eigenvectors of A^T A for the first layer's weight A) and
  GANSpace (Harkonen et al. 2020; PCA of the first layer's activations or of w), each direction an image row from
  -span to +span standard deviations; the table gives each direction's eigenvalue / variance and the |cosine|
  between the k-th SeFa and GANSpace directions.
- A 2-D map of real and generated features by PCA and t-SNE (scikit-learn).

A fit-baseline run works too: its generator is linear, x = mu + A u + s e, so SeFa's directions are the principal
axes of the Gaussian (for PPCA, the columns of W).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image, to_uint8
from gankit.sampling import generate
from gankit.uses.commands.common import (
    add_common_arguments,
    add_data_arguments,
    add_feature_arguments,
    build_features,
    features_of,
    load_model,
    output_folder,
    print_table,
    setup,
    training_data,
)
from gankit.uses.structure import (
    MAP_METHODS,
    feature_map,
    ganspace,
    interpolate,
    is_style_generator,
    plot_feature_map,
    sefa,
    traversal,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", required=True, help="a gankit train run or a fit-baseline run")
    add_data_arguments(parser, test=False)
    parser.add_argument("-k", type=int, default=5, help="directions of SeFa and GANSpace (default 5)")
    parser.add_argument("--steps", type=int, default=8, help="images per interpolation / traversal row (default 8)")
    parser.add_argument("--span", type=float, default=3.0, help="traversal from -span to +span (default 3)")
    parser.add_argument("--pairs", type=int, default=6, help="interpolation pairs (default 6)")
    parser.add_argument("--samples", type=int, default=10000, help="latents for GANSpace's PCA (default 10000)")
    parser.add_argument("--maps", default=",".join(MAP_METHODS), help="comma-separated: pca, tsne")
    parser.add_argument("-n", type=int, default=1000, help="real and generated points of the 2-D maps (default 1000)")
    parser.add_argument("--class", dest="label", type=int, help="conditional generators: the class to draw")
    add_feature_arguments(parser)
    add_common_arguments(parser)


def _path_length(extractor, frames: torch.Tensor) -> float:
    features = features_of(extractor, to_uint8(frames))
    return float((features[1:] - features[:-1]).norm(dim=1).sum())


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Interpolations, SeFa and GANSpace traversals, 2-D maps."""
    start = time.perf_counter()
    device = setup(args)
    maps = [m.strip() for m in args.maps.split(",") if m.strip()]
    for method in maps:
        if method not in MAP_METHODS:
            raise GankitError(f"unknown map '{method}'; valid: {', '.join(MAP_METHODS)}")
    model = load_model(args.run, device)
    G = model.generator
    if len(G.out_shape) != 3:
        raise GankitError(f"{args.run} makes {tuple(G.out_shape)} vectors, not images; structure draws images")
    train = training_data(args, model)
    extractor = build_features(args.features, train, tuple(G.out_shape), device, args.inception_weights)
    out = output_folder(args)
    figures: dict[str, str] = {}
    latent = torch.Generator().manual_seed(args.seed)
    ends = G.sample_latent(2 * args.pairs, latent)
    paths = [("linear", "z"), ("spherical", "z")] + ([("linear", "w")] if is_style_generator(G) else [])
    lengths = {}
    for method, space in paths:
        rows = [
            interpolate(G, ends[2 * i], ends[2 * i + 1], args.steps, method, space, args.label)
            for i in range(args.pairs)
        ]
        lengths[f"{method} in {space}"] = sum(_path_length(extractor, r) for r in rows) / len(rows)
        name = f"interpolation-{method}-{space}"
        save_image(grid_image(torch.cat(rows), nrow=args.steps), out / f"{name}.png")
        figures[name] = str(out / f"{name}.png")
    directions = {}
    for name, finder in (
        ("sefa", lambda: sefa(G, args.k)),
        ("ganspace", lambda: ganspace(G, args.k, args.samples, args.seed)),
    ):
        found = finder()
        directions[name] = found
        rows = traversal(G, found, steps=args.steps, span=args.span, seed=args.seed, label=args.label)
        save_image(grid_image(rows, nrow=args.steps), out / f"{name}.png")
        figures[name] = str(out / f"{name}.png")
    n = min(args.n, len(train.images))
    order = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(args.seed))[:n]
    real = features_of(extractor, train.images[order])
    fake = features_of(extractor, to_uint8(generate(G, n, args.seed, labels=args.label)))
    for method in maps:
        real_2d, fake_2d = feature_map(real, fake, method, args.seed)
        path = out / f"map-{method}.png"
        plot_feature_map(
            real_2d,
            fake_2d,
            path,
            f"{method.upper()}, {extractor.name}: {Path(train.spec).name} vs {Path(args.run).name}",
        )
        figures[f"map-{method}"] = str(path)
    sefa_dirs, gan_dirs = directions["sefa"], directions["ganspace"]
    same_space = sefa_dirs.space == gan_dirs.space
    table = []
    for i in range(args.k):
        cosine = float((sefa_dirs.vectors[i] @ gan_dirs.vectors[i]).abs()) if same_space else float("nan")
        table.append([i + 1, float(sefa_dirs.values[i]), float(gan_dirs.values[i]), cosine])
    seconds = time.perf_counter() - start
    print_table(
        ["direction", "SeFa eigenvalue", "GANSpace variance", "|cos(SeFa, GANSpace)|"],
        table,
        f"latent directions of {args.run} ({sefa_dirs.space} space, {type(G).__name__})",
    )
    print()
    print_table(
        ["interpolation", f"mean path length ({extractor.name})"],
        [[k, v] for k, v in lengths.items()],
        f"{args.pairs} interpolations of {args.steps} images",
    )
    print(f"figures: {', '.join(figures.values())}")
    print(f"time: {seconds:.1f} s")
    return {
        "run": args.run,
        "generator": type(G).__name__,
        "space": sefa_dirs.space,
        "sefa": {"values": sefa_dirs.values.tolist(), "directions": sefa_dirs.vectors.tolist()},
        "ganspace": {
            "values": gan_dirs.values.tolist(),
            "scales": gan_dirs.scales.tolist(),
            "directions": gan_dirs.vectors.tolist(),
        },
        "alignment": [row[3] for row in table],
        "path_lengths": lengths,
        "features": extractor.settings(),
        "figures": figures,
        "seconds": seconds,
    }
