"""FID is biased, KID is not: two samples of one distribution, measured at growing sample size n.

The lecture's point (Binkowski et al., ICLR 2018, Sec. 4; Chong & Forsyth, CVPR 2020):
FID's estimator has a bias that shrinks like 1/n but is large at the usual n, so FIDs computed with
different n cannot be compared; KID's estimator (unbiased MMD^2, cubic kernel) has expectation 0 at
every n when both samples come from one distribution. Here the population FID and KID are exactly 0:

- ``gaussian``: X, Y ~ N(0, I_d) independently (d = 2048 by default, Inception's dimension). For this
  case E||mu_X - mu_Y||^2 = 2d/n exactly; the covariance term adds far more bias, and below n = d the
  sample covariances are rank-deficient. The 1/n law needs n well above d, hence the default sizes.
- ``digits``: the 1,797 embedded digits in their classifier's 128-d features, split at random into
  two disjoint halves and subsampled to n per half.

For each n, FID and KID are averaged over ``repeats`` independent draws; FID_n = FID_inf + s / n is
then fitted over the sizes (Chong & Forsyth's extrapolation) and FID_inf should be near 0.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.imaging import save_image
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", type=int, default=2048, help="Gaussian dimension (default 2048)")
    parser.add_argument(
        "--sizes", default="5000,10000,20000,40000", help="Gaussian sample sizes n (default 5000,10000,20000,40000)"
    )
    parser.add_argument("--digit-sizes", default="100,200,400,898", help="digits sample sizes n per half")
    parser.add_argument("--repeats", type=int, default=2, help="independent draws per size (default 2)")
    parser.add_argument("--seed", type=int, default=0)


def _sweep(draw, sizes: list[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    for n in sizes:
        fids, kids = [], []
        for r in range(repeats):
            x, y = draw(n, r)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the rank-deficiency warning is part of what is shown
                fids.append(fid(x, y))
            kids.append(kid(x, y, subsets=20, subset_size=min(1000, n), seed=r)["kid_mean"])
        rows.append(
            {
                "n": n,
                "fid_mean": float(np.mean(fids)),
                "fid_std": float(np.std(fids)),
                "kid_mean": float(np.mean(kids)),
                "kid_std": float(np.std(kids)),
            }
        )
    return rows


def extrapolate(rows: list[dict[str, float]]) -> dict[str, float]:
    """Least-squares fit FID_n = FID_inf + slope / n (Chong & Forsyth 2020, Sec. 3)."""
    n = np.array([r["n"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(1 / n, [r["fid_mean"] for r in rows], 1)
    return {"fid_infinity": float(intercept), "fid_slope": float(slope)}


def gaussian_rows(dim: int, sizes: list[int], repeats: int, seed: int) -> list[dict[str, float]]:
    def draw(n: int, r: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1000 + r * 100 + n % 97)
        return torch.randn(n, dim, generator=g), torch.randn(n, dim, generator=g)

    return _sweep(draw, sizes, repeats)


def digits_rows(sizes: list[int], repeats: int, seed: int) -> list[dict[str, float]]:
    from gankit.data.images import load_digits
    from gankit.metrics.features.extractors import ClassifierFeatures

    images, _ = load_digits(16)
    features, _ = ClassifierFeatures("digits", 16)(images)
    half = len(features) // 2
    if max(sizes) > half:
        raise ValueError(f"digits sizes must be at most {half} (half of the 1,797 digits)")

    def draw(n: int, r: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed * 1000 + r))
        return features[order[:n]], features[order[half : half + n]]

    return _sweep(draw, sizes, repeats)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    from gankit.imaging import figure_to_array

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for column, (name, result) in enumerate(results.items()):
        rows = result["rows"]
        n = np.array([r["n"] for r in rows], dtype=float)
        ax = axes[0, column]
        ax.errorbar(n, [r["fid_mean"] for r in rows], [r["fid_std"] for r in rows], marker="o", label="FID_n")
        grid = np.linspace(n.min(), n.max() * 4, 100)
        fit = result["fit"]
        ax.plot(grid, fit["fid_infinity"] + fit["fid_slope"] / grid, "--", label="FID_inf + s/n fit")
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="log", title=f"{name}: FID (population value 0)", xlabel="n")
        ax.legend()
        ax = axes[1, column]
        ax.errorbar(n, [r["kid_mean"] for r in rows], [r["kid_std"] for r in rows], marker="o", color="C2")
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="log", title=f"{name}: KID (population value 0)", xlabel="n")
    fig.tight_layout()
    save_image(figure_to_array(fig), path)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    """Both sweeps, a table on stdout, ``fid-bias.png`` under ``--out``; returns every number."""
    sizes = [int(s) for s in args.sizes.split(",")]
    digit_sizes = [int(s) for s in args.digit_sizes.split(",")]
    results = {
        f"gaussian-{args.dim}d": {"rows": gaussian_rows(args.dim, sizes, args.repeats, args.seed)},
        "digits-classifier-128d": {"rows": digits_rows(digit_sizes, args.repeats, args.seed)},
    }
    for name, result in results.items():
        result["fit"] = extrapolate(result["rows"])
        print(f"\n{name}: two samples of one distribution (population FID = KID = 0), {args.repeats} draws per n")
        print(f"{'n':>7}  {'FID mean':>11}  {'FID std':>9}  {'KID mean':>11}  {'KID std':>9}")
        for r in result["rows"]:
            fid_part = f"{r['n']:>7}  {r['fid_mean']:>11.4f}  {r['fid_std']:>9.4f}"
            print(f"{fid_part}  {r['kid_mean']:>11.6f}  {r['kid_std']:>9.6f}")
        fit = result["fit"]
        print(f"FID_n = FID_inf + s/n fit: FID_inf = {fit['fid_infinity']:.4f}, s = {fit['fid_slope']:.1f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(results, out / "fid-bias.png")
    print(f"\nplot: {out / 'fid-bias.png'}")
    return {"dim": args.dim, "repeats": args.repeats, "seed": args.seed, **results}
