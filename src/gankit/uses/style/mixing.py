"""``gankit style mixing RUN``: the style-mixing figure of StyleGAN (Karras et al., CVPR 2019, Fig. 3).

Sources A (``--columns`` of them) across the top, sources B (``--rows``) down the side; each row copies one
group of B's styles into every A: the first rows B's coarse styles (4^2 - 8^2 in the paper; here the groups of
:func:`gankit.uses.latent_structure.style_groups`), the next rows the middle ones, the last rows the fine ones.
All images share one noise map per layer (the layers' "const" noise), so only the styles change.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.commands.common import output_folder
from gankit.uses.latent_structure import GROUPS, mixing_grid, style_groups
from gankit.uses.style.common import add_run_arguments, load_run, style_codes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    add_run_arguments(parser)
    parser.add_argument("--columns", type=int, default=5, help="sources A across the top (default 5)")
    parser.add_argument("--rows", type=int, default=6, help="sources B down the side, split coarse/middle/fine (6)")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation of every source (default 1: none)")


def row_groups(rows: int) -> list[str]:
    """``rows`` groups in the paper's order, as even as possible: e.g. 6 -> coarse x2, middle x2, fine x2."""
    if rows < 1:
        raise GankitError(f"--rows must be >= 1, got {rows}")
    return [GROUPS[min(len(GROUPS) - 1, i * len(GROUPS) // rows)] for i in range(rows)]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Draw the sources, mix, write the figure."""
    model, _ = load_run(args, "mixing")
    G = model.generator
    if args.columns < 1:
        raise GankitError(f"--columns must be >= 1, got {args.columns}")
    rng = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        ws_a = style_codes(G, args.columns, rng, args.psi)
        ws_b = style_codes(G, args.rows, rng, args.psi)
    groups = row_groups(args.rows)
    images = mixing_grid(G, ws_a, ws_b, groups)
    out = output_folder(args)
    figure = out / "mixing.png"
    save_image(grid_image(images, nrow=args.columns + 1), figure)
    indices = style_groups(G)
    print(f"style mixing on {args.run}: {G.num_ws} styles at {G.resolution}x{G.resolution}")
    for name in GROUPS:
        resolutions = sorted({2 ** (i // 2 + 2) for i in indices[name]})
        rows = [i for i, g in enumerate(groups) if g == name]
        print(f"  {name:<6} styles {indices[name]} ({', '.join(f'{r}x{r}' for r in resolutions)}): rows {rows}")
    print(f"figure: {figure}  (top: sources A; left: sources B; cell: A with B's styles of the row's group)")
    return {"run": args.run, "groups": indices, "row_groups": groups, "psi": args.psi, "figure": str(figure)}
