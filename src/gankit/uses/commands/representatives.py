"""``gankit use representatives``: the most representative points and the modes of a data set, or of a generator's
samples, in a feature space (:mod:`gankit.uses.representatives`).

Representatives: kernel herding (Chen, Welling & Smola 2010) and k-medoids (Park & Jun 2009), each scored by the
biased MMD of the k selected points to the whole set (Gaussian kernel, median-heuristic bandwidth); modes: density
peaks (Rodriguez & Laio 2014). Writes grids of the k representatives of each method, of the modes and of k random
points, and the curve of the MMD of k representatives against k random points for k = 1..64 (log-log).
"""

from __future__ import annotations

import argparse
import time
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
from gankit.uses.representatives import (
    METHODS,
    MeanEmbedding,
    density_peaks,
    mmd_curve,
    plot_mmd_curve,
    random_mmd2,
    select,
)

TABLE_KS = (1, 2, 4, 8, 16, 32, 64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", help="select among this generator's samples (gankit train or fit-baseline run)")
    add_data_arguments(parser, test=False)
    parser.add_argument("-n", type=int, default=2000, help="points (data subset or samples; default 2000)")
    parser.add_argument("-k", type=int, default=16, help="representatives and modes in the grids (default 16)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--max-k", type=int, default=64, help="largest k of the MMD curve (default 64)")
    parser.add_argument("--repeats", type=int, default=10, help="random subsets per k (default 10)")
    add_feature_arguments(parser)
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Select, score, draw the grids and the MMD curves."""
    start = time.perf_counter()
    device = setup(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for method in methods:
        if method not in METHODS:
            raise GankitError(f"unknown method '{method}'; valid: {', '.join(METHODS)}")
    if args.n < 2 or not 1 <= args.k <= args.n or not 1 <= args.max_k <= args.n:
        raise GankitError(f"need -n >= 2 and 1 <= -k, --max-k <= -n; got n={args.n}, k={args.k}, max-k={args.max_k}")
    model = load_model(args.run, device) if args.run else None
    train = training_data(args, model, required=model is None or args.features in ("auto", "classifier"))
    if model is not None:
        images = to_uint8(generate(model.generator, args.n, args.seed))
        source = f"{args.n} samples of {args.run}"
    else:
        order = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(args.seed))[: args.n]
        images = train.images[order]
        source = f"{len(images)} images of {train.spec}"
    extractor = build_features(args.features, train, tuple(images.shape[1:]), device, args.inception_weights)
    features = features_of(extractor, images)
    embedding = MeanEmbedding.build(features)
    out = output_folder(args)
    pictures = {}
    selections = {}
    for method in methods:
        chosen = select(embedding, args.k, method, seed=args.seed)
        selections[method] = {"indices": chosen.indices.tolist(), "mmd": chosen.mmd2**0.5}
        pictures[method] = out / f"representatives-{method}.png"
        save_image(grid_image(images[chosen.indices].float() / 127.5 - 1, nrow=args.k), pictures[method])
    peaks = density_peaks(features, args.k)
    peaks_mmd = embedding.mmd2(peaks.indices) ** 0.5
    pictures["modes"] = out / "modes.png"
    save_image(grid_image(images[peaks.indices].float() / 127.5 - 1, nrow=args.k), pictures["modes"])
    random_pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed + 1))[: args.k]
    pictures["random"] = out / "random.png"
    save_image(grid_image(images[random_pick].float() / 127.5 - 1, nrow=args.k), pictures["random"])
    ks = list(range(1, args.max_k + 1)) if "herding" in methods else [k for k in TABLE_KS if k <= args.max_k]
    curves = {}
    for method in methods:
        method_ks = ks if method == "herding" else [k for k in TABLE_KS if k <= args.max_k]
        curves[method] = mmd_curve(features, method_ks, method, args.repeats, args.seed, embedding.kernel)
        pictures[f"curve-{method}"] = plot_mmd_curve(curves[method], out / f"mmd-curve-{method}.png", method)
    table_ks = [k for k in TABLE_KS if k <= args.max_k]
    rows = []
    for k in table_ks:
        row: list[Any] = [k]
        for method in methods:
            row.append(next(r["mmd"] for r in curves[method] if r["k"] == k))
        random = random_mmd2(embedding, k, args.repeats, seed=args.seed + k).sqrt()
        row.append(f"{float(random.mean()):.4g} +- {float(random.std()):.4g}")
        rows.append(row)
    seconds = time.perf_counter() - start
    print_table(
        ["k", *methods, "random (mean +- sd)"],
        rows,
        f"MMD of k representatives to the whole set: {source}, {extractor.name} features",
    )
    print(f"{args.k} density peaks (modes): MMD to the whole set {peaks_mmd:.4g}")
    print(f"figures: {', '.join(str(p) for p in pictures.values())}")
    print(f"time: {seconds:.1f} s")
    return {
        "source": source,
        "features": extractor.settings(),
        "bandwidth": list(getattr(embedding.kernel, "bandwidths", [])),
        "selections": selections,
        "modes": {"indices": peaks.indices.tolist(), "mmd": peaks_mmd},
        "curves": curves,
        "figures": {k: str(v) for k, v in pictures.items()},
        "seconds": seconds,
    }
