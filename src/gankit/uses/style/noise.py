"""``gankit style noise RUN``: what the per-pixel noise inputs control (StyleGAN, Karras et al. CVPR 2019,
Sec. 3.2, Fig. 4 and 5).

For each of ``--latents`` style codes: the image under ``--draws`` noise draws (Fig. 4a-c), the per-pixel standard
deviation over ``--std-draws`` draws (Fig. 4d, white = most variation, scaled per image), and the image with noise
everywhere, nowhere, only in the fine layers (coarse noise off) and only in the coarse layers (fine noise off)
(Fig. 5; groups of :func:`gankit.uses.latent_structure.resolution_groups`). The table gives the mean per-pixel
standard deviation in each setting (pixels in [-1, 1]): noise changes detail, not identity, so it stays small.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.commands.common import output_folder, print_table
from gankit.uses.latent_structure import noise_draws, pixel_std, resolution_groups, std_image
from gankit.uses.style.common import add_run_arguments, load_run, style_codes

SETTINGS = {"all": (), "fine only": ("coarse",), "coarse only": ("fine",), "none": ("coarse", "fine")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    add_run_arguments(parser)
    parser.add_argument("--latents", type=int, default=4, help="style codes (default 4)")
    parser.add_argument("--draws", type=int, default=6, help="noise draws shown per code (default 6)")
    parser.add_argument("--std-draws", type=int, default=100, help="draws for the per-pixel std (default 100)")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation of the codes (default 1: none)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Render, measure, write the figures."""
    model, _ = load_run(args, "noise")
    G = model.generator
    if args.latents < 1 or args.draws < 1 or args.std_draws < 2:
        raise GankitError("--latents and --draws must be >= 1 and --std-draws >= 2")
    rng = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        codes = style_codes(G, args.latents, rng, args.psi)
    draws_rows, settings_rows, stds = [], [], {name: [] for name in SETTINGS}
    for ws in codes:
        stack = noise_draws(G, ws, args.std_draws, rng)
        std = pixel_std(stack)
        draws_rows.append(torch.cat([stack[: args.draws], std_image(std)]))
        stds["all"].append(float(std.mean()))
        row = [stack[:1]]
        for name, off in SETTINGS.items():
            if name == "all":
                continue
            images = noise_draws(G, ws, args.std_draws, rng, off)
            stds[name].append(float(pixel_std(images).mean()))
            row.append(images[:1])
        settings_rows.append(torch.cat(row))
    out = output_folder(args)
    draws_figure, settings_figure = out / "noise-draws.png", out / "noise-layers.png"
    save_image(grid_image(torch.cat(draws_rows), nrow=args.draws + 1), draws_figure)
    save_image(grid_image(torch.cat(settings_rows), nrow=len(SETTINGS)), settings_figure)
    groups = resolution_groups(G.resolution)
    coarse = sorted(groups["coarse"] + groups["middle"])
    table = [[name, sum(values) / len(values), max(values)] for name, values in stds.items()]
    print_table(
        ["noise", "mean per-pixel std", "max over codes"],
        table,
        f"noise of {args.run}: {args.std_draws} draws per code, {args.latents} codes; coarse layers {coarse}, "
        f"fine layers {groups['fine']}",
    )
    print(f"figure: {draws_figure}  (per code: {args.draws} noise draws, then the per-pixel std, white = max)")
    print(f"figure: {settings_figure}  (per code: noise in all layers, fine only, coarse only, none)")
    return {
        "run": args.run,
        "mean_pixel_std": {name: sum(v) / len(v) for name, v in stds.items()},
        "pixel_std_per_code": stds,
        "coarse_resolutions": coarse,
        "fine_resolutions": groups["fine"],
        "figures": [str(draws_figure), str(settings_figure)],
    }
