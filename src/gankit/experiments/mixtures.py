"""Mode collapse on the 2-D ring and grid, across objectives and stabilisers, over several seeds.

Measured as VEEGAN (Srivastava et al. 2017, Table 1) and PacGAN (Lin et al. 2018, Table 2) measure:
2,500 samples, modes covered, percentage of high-quality samples (within 3 std of a mode) and the
reverse KL divergence of the mode histogram from uniform (:func:`gankit.metrics.modes.mode_coverage`).
Each run also leaves a strip of scatter plots at log-spaced steps, the lecture's "Run 1, epoch 1, 2,
..., 900" slide (Salimans et al. 2016's runs).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from pathlib import Path

import torch

from gankit.config import resolve
from gankit.data.toy import grid_centers, ring_centers
from gankit.experiments import pacgan_protocol
from gankit.imaging import figure_to_array, save_image
from gankit.metrics.modes import mode_coverage
from gankit.training.loop import Trainer

METHODS = {
    "minimax": ("{data}-minimax", []),
    "ns": ("{data}-ns", []),
    "wgan": ("{data}-wgan", []),
    "wgan-gp": ("{data}-wgan-gp", []),
    "noise": ("{data}-noise", []),
    "r1": ("{data}-r1", []),
    "sn": ("{data}-ns", ["model.spectral_norm=true"]),
    "gmmn": ("{data}-gmmn", []),
    "mmdgan": ("{data}-mmdgan", []),
}
DATASETS = ("ring", "grid")
N_SAMPLES = 2500
QUICK_STEPS = 150


def preset_for(method: str, data: str) -> tuple[str, list[str]]:
    """The preset and extra overrides of ``method`` on data set ``data``."""
    template, extra = METHODS[method]
    return template.format(data=data), extra


def snapshot_steps(total: int) -> list[int]:
    """Log-spaced steps (1, 2, 5, 10, 20, 50, ...) below ``total``, then ``total``."""
    return sorted({s * 10**k for k in range(9) for s in (1, 2, 5) if s * 10**k < total} | {total})


def train_and_measure(method: str, data: str, seed: int, steps: int | None) -> tuple[dict, list]:
    """Train one run in memory; return its mode-coverage numbers and the snapshots for the strip."""
    preset, extra = preset_for(method, data)
    overrides = [*extra, f"train.seed={seed}", f"log.n_samples={N_SAMPLES}", "log.progress=false"]
    if steps:
        overrides.append(f"train.steps={steps}")
    config = resolve(preset, overrides)
    trainer = Trainer(config, Path("unused"))
    total = config.train.steps
    wanted = set(snapshot_steps(total))
    snapshots = []
    while trainer.step < total:
        trainer.train_step()
        if trainer.step in wanted:
            with torch.no_grad():
                snapshots.append((trainer.step, trainer.G(trainer.fixed_z).cpu()))
    centers = ring_centers(8, config.data.radius) if data == "ring" else grid_centers()
    result = mode_coverage(snapshots[-1][1], centers, config.data.std)
    return {"data": data, "method": method, "seed": seed, "steps": total, **result.as_dict()}, snapshots


def save_strip(snapshots: list, data: str, title: str, path: Path) -> None:
    """A row of scatter plots of the samples at each snapshot step."""
    import matplotlib.pyplot as plt

    limit = 1.6 if data == "ring" else 5.5
    fig, axes = plt.subplots(1, len(snapshots), figsize=(2 * len(snapshots), 2.3), squeeze=False)
    for ax, (step, points) in zip(axes[0], snapshots, strict=True):
        ax.scatter(*points[:1000].T.numpy(), s=1, c="tab:orange")
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_image(figure_to_array(fig), path)


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds for each (data, method)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["method"]), []).append(row)
    summary = []
    for (data, method), group in groups.items():
        entry = {"data": data, "method": method, "seeds": len(group)}
        for key in ("modes_covered", "high_quality", "reverse_kl"):
            values = [g[key] for g in group]
            if not all(math.isfinite(v) for v in values):  # reverse KL is inf for a run with no good sample
                entry[key] = entry[f"{key}_std"] = math.inf
                continue
            entry[key] = statistics.fmean(values)
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


def markdown(summary: list[dict]) -> str:
    """The summary as a markdown table, mean +- std over seeds."""
    lines = [
        "| data | method | modes covered | high-quality samples | reverse KL |",
        "|---|---|---|---|---|",
    ]
    for s in summary:
        modes = 8 if s["data"] == "ring" else 25
        lines.append(
            f"| {s['data']} | {s['method']} | {s['modes_covered']:.1f} +- {s['modes_covered_std']:.1f} (of {modes}) "
            f"| {100 * s['high_quality']:.1f}% +- {100 * s['high_quality_std']:.1f} "
            f"| {s['reverse_kl']:.3f} +- {s['reverse_kl_std']:.3f} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--data", default=",".join(DATASETS), help="ring, grid or both (default)")
    parser.add_argument("--seeds", type=int, default=0, help="seeds per method (default 3; pacgan: 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (default 0)")
    parser.add_argument("--steps", type=int, default=0, help="training steps (default: each preset's)")
    parser.add_argument(
        "--protocol",
        choices=("lecture", "pacgan"),
        default="lecture",
        help="lecture: the methods above on the ring-*/grid-* presets; pacgan: PacGAN's Table 1 protocol "
        "(GAN and PacGAN2..4, 10 seeds of 400,000 steps, next to the paper's numbers)",
    )
    parser.add_argument("--packs", default="1,2,3,4", help="--protocol pacgan: packing degrees (default 1,2,3,4)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one seed of {QUICK_STEPS} steps per run (lecture) or {pacgan_protocol.QUICK_STEPS} (pacgan): "
        "a smoke run under 2 minutes on 2 cores",
    )


def _split(value: str, valid, what: str) -> list[str]:
    from gankit.errors import GankitError

    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in valid]
    if unknown or not items:
        raise GankitError(f"unknown {what} '{','.join(unknown) or value}'; valid: {', '.join(valid)}")
    return items


def run(args: argparse.Namespace) -> dict:
    """Train every (data, method, seed); write the CSV, the markdown table and the strips (``--protocol pacgan``:
    :func:`gankit.experiments.pacgan_protocol.run`)."""
    if getattr(args, "protocol", "lecture") == "pacgan":
        return pacgan_protocol.run(args)
    quick = getattr(args, "quick", False)
    seeds = 1 if quick else (args.seeds or 3)
    steps = args.steps or (QUICK_STEPS if quick else None)
    methods = _split(args.methods, METHODS, "method")
    datasets = _split(args.data, DATASETS, "data set")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for data in datasets:
        for method in methods:
            for seed in range(args.first_seed, args.first_seed + seeds):
                row, snapshots = train_and_measure(method, data, seed, steps)
                rows.append(row)
                save_strip(snapshots, data, f"{data}, {method}, seed {seed}", out / f"strip-{data}-{method}-{seed}.png")
                print(
                    f"{data:<5} {method:<8} seed {seed}: {row['modes_covered']} of {row['modes']} modes, "
                    f"{100 * row['high_quality']:.1f}% high quality, reverse KL {row['reverse_kl']:.3f}",
                    flush=True,
                )
    with (out / "mixtures.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[k for k in rows[0] if k != "counts"])
        writer.writeheader()
        writer.writerows([{k: v for k, v in r.items() if k != "counts"} for r in rows])
    summary = summarise(rows)
    table = markdown(summary)
    (out / "mixtures.md").write_text(table + "\n")
    print(table)
    print(f"table: {out / 'mixtures.md'}, rows: {out / 'mixtures.csv'}, strips: {out}/strip-*.png")
    return {"experiment": "mixtures", "rows": rows, "summary": summary, "n_samples": N_SAMPLES, "seeds": seeds}


__all__ = ["METHODS", "run"]
