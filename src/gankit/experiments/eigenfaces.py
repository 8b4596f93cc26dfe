"""Eigenfaces on the Olivetti faces: the 1987 way to model faces, as a Gaussian in PCA space.

Sirovich & Kirby (1987) and Turk & Pentland (1991): centre the 400 faces, take the principal
components ("eigen-images"), and describe a face by a few coefficients. Shown here:

- ``eigenfaces.png``: the mean face, then the first eigen-images (grey = 0, white/black = +-largest entry).
- ``samples.png``: real faces (top row), then samples of the Gaussian in the space of the first
  k = 10, 50 and ``--components`` eigen-images (one row each): plausible-looking but ghostly, averaged faces.
- ``explained-variance.png``: the cumulative fraction of variance against k.

The table adds held-out numbers: probabilistic PCA (Tipping & Bishop 1999) with k components and the
full-covariance Gaussian are fitted on 9 pictures of each person and scored in bits/dim on the 10th
(40 faces). With 360 training faces in 4,096 dimensions the full Gaussian has almost no variance off the
training faces' span, so it scores the held-out faces worst: the reason eigenfaces keep only k components.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from gankit.baselines.eigenfaces import Eigenfaces, components_for, fit_eigenfaces
from gankit.baselines.gaussian import Gaussian
from gankit.baselines.ppca import PPCA
from gankit.data.faces import load_faces
from gankit.imaging import figure_to_array, grid_image, save_image

TABLE_KS = (1, 5, 10, 20, 50, 100, 200, 399)
SAMPLE_KS = (10, 50)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument(
        "--components", type=int, default=100, help="eigen-images for the last row of samples (default 100, max 399)"
    )
    parser.add_argument("--show", type=int, default=15, help="eigen-images drawn beside the mean face (default 15)")
    parser.add_argument("--samples", type=int, default=10, help="faces per row of samples.png (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-root", help="folder holding olivettifaces.mat (default $GANKIT_HOME/datasets/faces, downloaded)"
    )
    parser.add_argument("--no-download", action="store_true", help="never download; fail if the file is missing")


def held_out_split(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the first 9 pictures of each person (training) and the 10th (held out)."""
    position = torch.arange(len(labels)) - torch.searchsorted(labels, labels)
    return (position < 9).nonzero()[:, 0], (position == 9).nonzero()[:, 0]


def held_out_bits(images: torch.Tensor, labels: torch.Tensor, ks: list[int]) -> list[dict[str, float]]:
    """bits/dim of the 10th picture of each person under PPCA(k) and the full Gaussian fitted on the other 9."""
    train, test = held_out_split(labels)
    rows = []
    for k in ks:
        model = PPCA(k).fit(images[train])
        rows.append({"model": f"ppca k={k}", "held_out_bits_per_dim": float(model.bits_per_dim(images[test]).mean())})
    full = Gaussian().fit(images[train])
    rows.append({"model": "gaussian (full)", "held_out_bits_per_dim": float(full.bits_per_dim(images[test]).mean())})
    return rows


def variance_figure(eigenfaces: Eigenfaces, path: Path) -> None:
    """The cumulative explained-variance curve with the 90% and 95% points marked, as a PNG."""
    import matplotlib.pyplot as plt

    cumulative = torch.cumsum(eigenfaces.explained_variance_ratio, 0).numpy()
    ks = np.arange(1, len(cumulative) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.plot(ks, cumulative, lw=1.5)
    for fraction in (0.9, 0.95):
        k = components_for(eigenfaces, fraction)
        if k is not None:
            ax.axhline(fraction, color="k", lw=0.6, ls=":")
            ax.plot([k], [cumulative[k - 1]], "o", color="C3")
            ax.annotate(f"{fraction:.0%} at k={k}", (k, cumulative[k - 1]), xytext=(6, -12), textcoords="offset points")
    ax.set(xlabel="eigen-images k", ylabel="cumulative explained variance", ylim=(0, 1.01), xlim=(0, ks[-1]))
    ax.set_title("Olivetti faces: explained variance", fontsize=10)
    fig.tight_layout()
    save_image(figure_to_array(fig), path)


def run(args: argparse.Namespace) -> dict:
    """Fit the eigenfaces, write the three figures under ``--out``, print and return the numbers."""
    start = time.perf_counter()
    images, labels = load_faces(args.data_root, download=not args.no_download)
    eigenfaces = fit_eigenfaces(images, len(images) - 1)
    components = min(args.components, len(images) - 1)
    generator = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    show = min(args.show, len(images) - 1)
    picture = torch.cat([eigenfaces.mean_image(), eigenfaces.component_images()[:show]])
    save_image(grid_image(picture, nrow=min(len(picture), 8)), out / "eigenfaces.png")
    order = torch.randperm(len(images), generator=generator)[: args.samples]
    rows = [images[order].float() / 127.5 - 1]
    sample_ks = [k for k in SAMPLE_KS if k < components] + [components]
    rows += [eigenfaces.sample(args.samples, generator, components=k) for k in sample_ks]
    save_image(grid_image(torch.cat(rows), nrow=args.samples), out / "samples.png")
    variance_figure(eigenfaces, out / "explained-variance.png")

    cumulative = torch.cumsum(eigenfaces.explained_variance_ratio, 0)
    table_ks = list(TABLE_KS)
    bits = held_out_bits(images, labels, [k for k in table_ks if k < 360])
    print(f"Olivetti faces: {len(images)} images of 64x64, {int(labels.max()) + 1} people")
    print(f"{'k':>5}  {'explained variance':>18}")
    for k in table_ks:
        print(f"{k:>5}  {float(cumulative[k - 1]):>18.4f}")
    reach = {f"{f:.2f}": components_for(eigenfaces, f) for f in (0.5, 0.8, 0.9, 0.95)}
    print("components for a fraction of the variance: " + ", ".join(f"{f}: {k}" for f, k in reach.items()))
    print("\nbits/dim of each person's 10th picture, models fitted on the other 9 (360 faces):")
    for row in bits:
        print(f"  {row['model']:<16} {row['held_out_bits_per_dim']:.3f}")
    seconds = time.perf_counter() - start
    print(f"\npictures: {out / 'eigenfaces.png'}, {out / 'samples.png'}, {out / 'explained-variance.png'}")
    print(f"time: {seconds:.1f} s")
    return {
        "components": components,
        "sample_components": sample_ks,
        "explained_variance_ratio": eigenfaces.explained_variance_ratio.tolist(),
        "cumulative": {str(k): float(cumulative[k - 1]) for k in table_ks},
        "components_for_fraction": reach,
        "held_out": bits,
        "seconds": seconds,
    }
