"""``gankit use inpaint``: fill masked held-out images with a Gaussian's conditional mean, a draw from its
conditional, and a GAN's latent search (Yeh et al., CVPR 2017), and measure each fill
(:mod:`gankit.uses.inpainting`).

For each mask (``centre`` square, ``half`` of the image, ``random`` pixels, one random mask per image) the table
gives the mean squared error over the hidden pixels (images in [-1, 1]), the sharpness inside the hole relative to
the true images (mean gradient magnitude and Laplacian variance ratios; 1 = as sharp as real images) and FID / KID
of the completed images against the true ones in the feature space of ``--features``. The lecture's point: the
conditional mean has the lowest MSE and is blurry; the sample and the GAN are sharp. The figure of each mask has
the rows masked input | conditional mean | conditional sample | GAN fill | truth.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import torch

from gankit.baselines.run import is_baseline_run
from gankit.errors import GankitError
from gankit.imaging import save_image, to_uint8
from gankit.metrics.evaluate import EvalOptions, evaluate
from gankit.uses.commands.common import (
    add_common_arguments,
    add_data_arguments,
    add_feature_arguments,
    build_features,
    check_shape,
    fit_density,
    load_data,
    load_model,
    output_folder,
    print_table,
    setup,
    test_data,
    training_data,
)
from gankit.uses.inpainting import (
    MASKS,
    PRIOR_WEIGHT,
    compare_fills,
    fill_gaussian,
    fill_latent,
    inpainting_figure,
    make_mask,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", help="a gankit train run (GAN fill by latent search) or a fit-baseline run")
    add_data_arguments(parser)
    parser.add_argument(
        "--baseline",
        default="gaussian",
        help="the Gaussian model: gaussian, ppca, gmm (fitted to --data) or a fit-baseline run (default gaussian)",
    )
    parser.add_argument("--components", type=int, default=32, help="ppca / gmm components (default 32)")
    parser.add_argument("--masks", default=",".join(MASKS), help=f"comma-separated: {', '.join(MASKS)}")
    parser.add_argument(
        "--fraction", type=float, default=0.5, help="centre: side of the square; random: hidden fraction (0.5)"
    )
    parser.add_argument("--side", default="bottom", help="half: top, bottom, left or right (default bottom)")
    parser.add_argument("-n", type=int, default=256, help="test images (default 256)")
    parser.add_argument("--steps", type=int, default=500, help="Adam steps of the latent search (default 500)")
    parser.add_argument("--lr", type=float, default=0.03, help="learning rate of the latent search (default 0.03)")
    parser.add_argument("--restarts", type=int, default=1, help="latent-search starting points per image")
    parser.add_argument(
        "--prior-weight", type=float, default=PRIOR_WEIGHT, help=f"lambda of D's prior loss ({PRIOR_WEIGHT})"
    )
    parser.add_argument("--show", type=int, default=8, help="images per row of the figures (default 8)")
    add_feature_arguments(parser)
    add_common_arguments(parser)


def _fid_kid(extractor, truth: torch.Tensor, completed: torch.Tensor, seed: int) -> dict[str, float]:
    options = EvalOptions(
        metrics=("fid", "kid"),
        kid_subsets=100,
        kid_subset_size=min(100, len(truth)),
        fid_bootstrap=0,
        fid_infinity=False,
        seed=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the rank warning for few images: said once by run()
        result = evaluate(extractor, to_uint8(truth), to_uint8(completed), options, cache=False)
    return {"fid": result["fid"], "kid": result["kid_mean"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fill every mask with every method, print the table, write one figure per mask."""
    start = time.perf_counter()
    device = setup(args)
    if args.n < 2:
        raise GankitError(f"-n must be at least 2 test images; got {args.n}")
    masks = [m.strip() for m in args.masks.split(",") if m.strip()]
    model = load_model(args.run, device) if args.run else None
    density_source = args.run if model is not None and model.baseline is not None else args.baseline
    need_train = not (is_baseline_run(density_source) and args.test)
    train = training_data(args, model, required=need_train)
    test = test_data(args, train) if train is not None else load_data(args.test, args.resolution)
    if model is not None:
        check_shape(test.images, model, "test images")
    order = torch.randperm(len(test.images), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    truth = test.images[order].float() / 127.5 - 1
    labels = test.labels[order] if test.labels is not None else None
    density_name, density = fit_density(density_source, train, args.components)
    gan = model if model is not None and model.baseline is None else None
    y = None
    if gan is not None and getattr(gan.generator, "num_classes", 0):
        if labels is None:
            raise GankitError("the generator is conditional; the test images need labels")
        y = labels
    extractor = build_features(args.features, train, tuple(truth.shape[1:]), device, args.inception_weights)
    out = output_folder(args)
    shape = tuple(truth.shape[1:])
    results: dict[str, Any] = {}
    table = []
    for name in masks:
        rng = torch.Generator().manual_seed(args.seed)
        count = len(truth) if name == "random" else None
        visible = make_mask(name, shape, fraction=args.fraction, side=args.side, count=count, generator=rng)
        fills = {
            f"{density_name} mean": fill_gaussian(density, truth, visible),
            f"{density_name} sample": fill_gaussian(density, truth, visible, sample=True, rng=rng),
        }
        if gan is not None:
            fill = fill_latent(
                gan.generator,
                truth,
                visible,
                discriminator=gan.discriminator,
                prior_weight=args.prior_weight,
                steps=args.steps,
                lr=args.lr,
                restarts=args.restarts,
                rng=torch.Generator().manual_seed(args.seed),
                labels=y,
            )
            fills["GAN (Yeh et al.)" if gan.discriminator is not None else "generator, no D prior"] = fill.completed
        rows = compare_fills(truth, visible, fills)
        for row, completed in zip(rows, fills.values(), strict=True):
            row.update(_fid_kid(extractor, truth, completed, args.seed))
            table.append(
                [name, row["method"], row["mse"], row["gradient_ratio"], row["laplacian_ratio"], row["fid"], row["kid"]]
            )
        figure = out / f"inpaint-{name}.png"
        save_image(inpainting_figure(truth, visible, fills, count=args.show, scale=2), figure)
        results[name] = {"rows": rows, "figure": str(figure)}
    seconds = time.perf_counter() - start
    print_table(
        ["mask", "fill", "MSE (hidden)", "gradient ratio", "Laplacian ratio", f"FID ({extractor.name})", "KID"],
        table,
        f"inpainting {len(truth)} images of {test.spec} {tuple(shape)}, model {args.run or density_name}",
    )
    if len(truth) <= extractor.dim:
        print(f"note: FID from {len(truth)} images of {extractor.dim}-d features is biased upwards; compare rows only")
    print(f"figures: {', '.join(r['figure'] for r in results.values())}  (rows: masked | fills in order | truth)")
    print(f"time: {seconds:.1f} s")
    return {
        "masks": results,
        "n": len(truth),
        "test": test.spec,
        "train": train.spec if train is not None else None,
        "density": density_name,
        "run": args.run,
        "features": extractor.settings(),
        "latent_search": {"steps": args.steps, "lr": args.lr, "restarts": args.restarts, "prior": args.prior_weight},
        "seconds": seconds,
    }
