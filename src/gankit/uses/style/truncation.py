"""``gankit style truncation RUN``: the truncation trade-off (StyleGAN, Karras et al. CVPR 2019, Sec. 3.3 and
Fig. 8; BigGAN, Brock et al. ICLR 2019, Sec. 3.1) for any gankit generator.

A figure with one row per latent and one column per truncation value (psi = 1, 0.7, 0.5, 0 for style generators;
the truncated normal's threshold inf, 1, 0.5, 0.04 for the others), and the truncation curve: FID, precision and
recall (:mod:`gankit.uses.truncation_curve`, the existing metrics) of ``-n`` samples at each value against the
run's training images (or ``--data``), printed as a table and plotted. Features: ``--features`` (default the data
set's classifier where gankit has one, else Inception).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from gankit import defaults
from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.commands.common import output_folder, print_table
from gankit.uses.style.common import add_feature_options, add_run_arguments, features_for, load_run
from gankit.uses.truncation_curve import (
    PSI_VALUES,
    ROW_PSI,
    ROW_THRESHOLD,
    THRESHOLD_VALUES,
    plot_truncation_curve,
    truncation_curve,
    truncation_kind,
    truncation_row,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    add_run_arguments(parser)
    parser.add_argument(
        "--values",
        help="comma-separated truncation values of the curve (default psi 1,0.9,...,0; thresholds inf,2,1.5,1,0.75,"
        "0.5,0.25 for non-style generators)",
    )
    parser.add_argument("--row-values", help="values of the figure's columns (default 1,0.7,0.5,0 / inf,1,0.5,0.04)")
    parser.add_argument("-n", type=int, default=2000, help="samples per value for the curve (default 2000; 0: none)")
    parser.add_argument("--row-n", type=int, default=8, help="latents in the figure (default 8)")
    parser.add_argument("--real-n", type=int, default=10000, help="real images for the metrics (default 10000)")
    parser.add_argument("--batch-size", type=int, default=64, help="feature batch size (default 64)")
    add_feature_options(parser)


def parse_values(text: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    """Comma-separated floats (``inf`` allowed), or ``default``."""
    if text is None:
        return default
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise GankitError(
            f"truncation values must be comma-separated numbers (e.g. 1,0.7,0.5,0); got '{text}'"
        ) from exc
    if not values:
        raise GankitError("give at least one truncation value")
    return values


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The figure, then the curve."""
    start = time.perf_counter()
    model, device = load_run(args, "truncation", style_only=False)
    G = model.generator
    kind = truncation_kind(G)
    values = parse_values(args.values, PSI_VALUES if kind == "psi" else THRESHOLD_VALUES)
    row_values = parse_values(args.row_values, ROW_PSI if kind == "psi" else ROW_THRESHOLD)
    out = output_folder(args)
    figure = out / "truncation.png"
    save_image(grid_image(truncation_row(G, args.row_n, row_values, args.seed), nrow=len(row_values)), figure)
    shown = ", ".join("inf" if math.isinf(v) else f"{v:g}" for v in row_values)
    print(f"figure: {figure}  (one row per latent; columns: {kind} = {shown})")
    result: dict[str, Any] = {"run": args.run, "kind": kind, "row_values": list(row_values), "figure": str(figure)}
    if args.n:
        train, extractor = features_for(args, model, device)
        real = train.images
        if len(real) > args.real_n:
            real = real[: args.real_n]
        rows = truncation_curve(G, extractor, real, values, args.n, args.seed, args.batch_size)
        table = [
            [
                "inf" if math.isinf(r["value"]) else r["value"],
                r[defaults.FID],
                r[defaults.PRECISION],
                r[defaults.RECALL],
            ]
            for r in rows
        ]
        title = (
            f"truncation curve of {args.run}: {args.n} samples per {kind} vs {len(real)} images of {train.spec}, "
            f"{extractor.name} features"
        )
        print_table([kind, "FID", "precision", "recall"], table, title)
        plot = plot_truncation_curve(rows, kind, out / "truncation-curve.png", title=f"{args.run} ({extractor.name})")
        print(f"plot: {plot}")
        result |= {"curve": rows, "plot": str(plot), "features": extractor.settings(), "real": train.spec}
    result["seconds"] = time.perf_counter() - start
    print(f"time: {result['seconds']:.1f} s")
    return result
