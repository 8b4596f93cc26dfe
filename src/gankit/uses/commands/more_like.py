"""``gankit use more-like``: more samples like a given image x from a classic baseline, drawn from its conditional
Gaussian around x; for a run of ``gankit train`` (``--run``), x is projected into the generator's latent space and
sampled around instead, by the code of ``gankit more-like`` (:mod:`gankit.uses.commands.more_like_generator`).

Each draw keeps a random ``--keep`` fraction of x's pixels and samples the others from the model's conditional
distribution given them (Gaussian: the Schur complement, Bishop 2006, Sec. 2.3.1; mixture: the mixture of the
components' conditionals; :meth:`gankit.baselines.base.DensityBaseline.conditional`), with a fresh mask per draw:
variations of x that the model finds likely. The table compares the draws' distance to x with that of unconditional
samples of the same model (pixels in [-1, 1]); the figure has one row per image: x, then its draws.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from gankit.baselines.base import DensityBaseline
from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.commands.common import (
    add_common_arguments,
    add_data_arguments,
    fit_density,
    load_data,
    load_model,
    output_folder,
    print_table,
    setup,
    test_data,
    training_data,
)
from gankit.uses.commands.more_like_generator import add_sampling_arguments, more_like_run
from gankit.uses.commands.project import add_projection_options, load_projection_model
from gankit.uses.inpainting import fill_gaussian, random_mask
from gankit.uses.targets import Targets, fit_shape


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", help="a fit-baseline run, or a gankit train run (projection, as gankit more-like)")
    parser.add_argument("--baseline", default="gaussian", help="gaussian, ppca or gmm fitted to --data (no --run)")
    parser.add_argument("--components", type=int, default=32, help="ppca / gmm components (default 32)")
    add_data_arguments(parser)
    parser.add_argument("-n", type=int, default=8, help="images x (default 8)")
    parser.add_argument("--draws", type=int, default=7, help="draws per image (default 7)")
    parser.add_argument("--keep", type=float, default=0.2, help="fraction of x's pixels each draw keeps (default 0.2)")
    add_common_arguments(parser)
    group = parser.add_argument_group("generator runs (projection; see gankit more-like)")
    add_sampling_arguments(group)
    add_projection_options(group)


def draws_around(
    density: DensityBaseline, x: torch.Tensor, draws: int, keep: float, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``draws`` completions of each image of ``x`` ([-1, 1], (N, C, H, W)), each keeping a fresh random ``keep``
    fraction of its pixels and drawing the rest from the conditional: (N * draws, C, H, W) draws, image by image,
    and their (N * draws, C, H, W) masks (True = kept)."""
    if not 0 < keep < 1:
        raise GankitError(f"keep must be strictly between 0 and 1 (a draw keeps some pixels, hides some); got {keep}")
    repeated = x.repeat_interleave(draws, 0)
    masks = random_mask(tuple(x.shape[1:]), 1 - keep, count=len(repeated), generator=rng)
    return fill_gaussian(density, repeated, masks, sample=True, rng=rng), masks


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).flatten(1).norm(dim=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Draw, measure, write the grid."""
    start = time.perf_counter()
    setup(args)
    if not 0 < args.keep < 1:
        raise GankitError(
            f"--keep must be strictly between 0 and 1 (a draw must keep some pixels and hide some); got {args.keep}"
        )
    if args.n < 1 or args.draws < 1:
        raise GankitError(f"-n and --draws must be >= 1; got {args.n} and {args.draws}")
    model = load_model(args.run) if args.run else None
    if model is not None and model.baseline is None:
        return _generator_run(args, start)
    train = training_data(args, model, required=model is None or not args.test)
    test = test_data(args, train) if train is not None else load_data(args.test, args.resolution)
    name, density = (
        (f"{model.baseline.kind} ({args.run})", model.baseline)
        if model
        else fit_density(args.baseline, train, args.components)
    )
    order = torch.randperm(len(test.images), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    x = test.images[order].float() / 127.5 - 1
    repeated = x.repeat_interleave(args.draws, 0)
    rng = torch.Generator().manual_seed(args.seed)
    draws, _ = draws_around(density, x, args.draws, args.keep, rng)
    free = density.sample(len(repeated), rng).clamp(-1, 1)
    near = _distance(draws, repeated).view(args.n, args.draws).mean(1)
    far = _distance(free, repeated).view(args.n, args.draws).mean(1)
    table = [[i, float(a), float(b)] for i, (a, b) in enumerate(zip(near, far, strict=True))]
    table.append(["mean", float(near.mean()), float(far.mean())])
    out = output_folder(args)
    figure = out / "more-like.png"
    rows = torch.cat([torch.cat([x[i : i + 1], draws[i * args.draws : (i + 1) * args.draws]]) for i in range(args.n)])
    save_image(grid_image(rows, nrow=args.draws + 1), figure)
    seconds = time.perf_counter() - start
    print_table(
        ["image", "distance of draws to x", "distance of free samples to x"],
        table,
        f"{name}: {args.draws} draws around each of {args.n} images of {test.spec}, keeping {args.keep:.0%} of x",
    )
    print(f"figure: {figure}  (one row per image: x, then its draws)")
    print(f"time: {seconds:.1f} s")
    return {
        "model": name,
        "test": test.spec,
        "keep": args.keep,
        "draws": args.draws,
        "distance_draws": near.tolist(),
        "distance_free_samples": far.tolist(),
        "figure": str(figure),
        "seconds": seconds,
    }


def _generator_run(args: argparse.Namespace, start: float) -> dict[str, Any]:
    """``--run`` of gankit train: ``-n`` test images (seeded choice, as for baselines), each projected and sampled
    around ``--draws`` times by :func:`gankit.uses.commands.more_like_generator.more_like_run`."""
    model, device = load_projection_model(args, "use more-like")
    train = training_data(args, model, required=not args.test)
    test = test_data(args, train) if train is not None else load_data(args.test, model.resolution)
    order = torch.randperm(len(test.images), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    images, note = fit_shape(test.images[order], tuple(model.generator.out_shape), test.spec)
    targets = Targets(images, [f"{test.spec}[{int(i)}]" for i in order], [note] if note else [])
    for line in targets.notes:
        print(f"note: {line}")
    result = more_like_run(args, model, targets, device, args.draws)
    result["seconds"] = time.perf_counter() - start
    print(f"time: {result['seconds']:.1f} s")
    return result
