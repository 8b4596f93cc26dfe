"""``gankit style interpolate RUN``: interpolations in Z and in W, and the perceptual path length in each
(StyleGAN, Karras et al. CVPR 2019, Sec. 4.2; :mod:`gankit.uses.path_length`).

The figure has two rows per pair of latents: the spherical path in Z (unit-sphere slerp, as the PPL uses) and the
linear path between the mapped codes in W, both with the same noise. The table gives PPL in Z and in W with eps
1e-4 over ``-n`` paths, for "full" paths (t ~ U(0, 1), StyleGAN's Table 3) and "end" points (t = 0, StyleGAN2's
variant), in each feature space of ``--features`` (a comma-separated list; default the data set's classifier,
add ``inception`` for the FID Inception features). The paper's distance is LPIPS; see the module above for what
gankit uses instead. Lower PPL in W than in Z is the paper's "W is more linear" claim, measured.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.commands.common import build_features, output_folder, print_table, training_data
from gankit.uses.path_length import PPL_EPSILON, SAMPLINGS, float_feature_fn, perceptual_path_length, unit_slerp
from gankit.uses.style.common import add_feature_options, add_run_arguments, load_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    add_run_arguments(parser)
    parser.add_argument("--pairs", type=int, default=4, help="latent pairs in the figure (default 4)")
    parser.add_argument("--steps", type=int, default=9, help="images per path (default 9)")
    parser.add_argument("-n", type=int, default=1000, help="paths for each PPL (default 1000; 0: no PPL)")
    parser.add_argument("--eps", type=float, default=PPL_EPSILON, help="PPL step (default 1e-4, the paper's)")
    parser.add_argument("--sampling", default="full,end", help="full, end or both (default full,end)")
    parser.add_argument("--batch-size", type=int, default=100, help="paths per batch (default 100)")
    add_feature_options(parser)


@torch.no_grad()
def paths(G, z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Per pair: the Z path (unit slerp) then the W path (lerp of mapped codes), ``steps`` images each, "const"
    noise: (2 * pairs * steps, C, R, R) on the CPU."""
    device = G.w_avg.device
    t = torch.linspace(0, 1, steps, device=device)
    rows = []
    for a, b in zip(z0.to(device), z1.to(device), strict=True):
        za = unit_slerp(a.expand(steps, -1), b.expand(steps, -1), t)
        rows.append(G.synthesis(G.mapping(za), noise_mode="const"))
        w = G.mapping(torch.stack([a, b]))[:, 0]
        ws = torch.lerp(w[:1], w[1:], t[:, None]).unsqueeze(1).expand(-1, G.num_ws, -1)
        rows.append(G.synthesis(ws, noise_mode="const"))
    return torch.cat(rows).cpu()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The figure, then PPL in Z and W."""
    start = time.perf_counter()
    model, device = load_run(args, "interpolate")
    G = model.generator
    if G.num_classes:
        raise GankitError("gankit style interpolate takes unconditional style generators; this run is conditional")
    samplings = [s.strip() for s in args.sampling.split(",") if s.strip()]
    unknown = [s for s in samplings if s not in SAMPLINGS]
    if unknown or not samplings:
        raise GankitError(f"unknown --sampling '{(unknown or [''])[0]}'; give full, end or full,end")
    if args.pairs < 1 or args.steps < 2:
        raise GankitError(f"--pairs must be >= 1 and --steps >= 2; got {args.pairs} and {args.steps}")
    rng = torch.Generator().manual_seed(args.seed)
    z0, z1 = torch.randn(args.pairs, G.z_dim, generator=rng), torch.randn(args.pairs, G.z_dim, generator=rng)
    out = output_folder(args)
    figure = out / "interpolate.png"
    save_image(grid_image(paths(G, z0, z1, args.steps), nrow=args.steps), figure)
    print(f"figure: {figure}  (per pair: the path in Z, then the path in W)")
    result: dict[str, Any] = {"run": args.run, "figure": str(figure), "eps": args.eps, "n": args.n, "ppl": []}
    if args.n:
        train = None
        table = []
        for spec in [s.strip() for s in args.features.split(",") if s.strip()]:
            if spec in ("auto", "classifier") and train is None:
                train = training_data(args, model)
            extractor = build_features(spec, train, tuple(G.out_shape), device, args.inception_weights)
            feature_fn = float_feature_fn(extractor)
            for sampling in samplings:
                row = {"features": extractor.name, "sampling": sampling}
                for space in ("z", "w"):
                    ppl = perceptual_path_length(
                        G, feature_fn, args.n, space, sampling, args.eps, args.seed, args.batch_size
                    )
                    row[f"ppl_{space}"] = ppl.ppl
                row["ratio_w_over_z"] = row["ppl_w"] / row["ppl_z"] if row["ppl_z"] > 0 else float("nan")
                result["ppl"].append(row)
                table.append([row["features"], sampling, row["ppl_z"], row["ppl_w"], row["ratio_w_over_z"]])
        print_table(
            ["features", "sampling", "PPL in Z", "PPL in W", "W / Z"],
            table,
            f"perceptual path length of {args.run}: {args.n} paths, eps {args.eps:g}, squared feature distance / eps^2",
        )
    result["seconds"] = time.perf_counter() - start
    print(f"time: {result['seconds']:.1f} s")
    return result
