"""PacGAN's 2-D experiment (Lin, Khetan, Fanti & Oh, NeurIPS 2018, Table 1), next to the paper's numbers.

The protocol is that of the authors' code (github.com/fjxmlzn/PacGAN, ``synthetic_data_experiments``; the
presets ``ring-pacgan`` and ``grid-pacgan`` cite each number): the 2D-ring (8 Gaussians on the unit circle,
std 0.01) and 2D-grid (25 Gaussians at {-4,...,4}^2, std 0.05); G with 4 x 400 (linear, batch norm, ReLU), D with
3 x 200 LinearMaxout units of 5 pieces; the non-saturating loss; Adam(1e-4, beta1 0.8); 100 packs per step; 400
epochs of 100,000 samples (400,000 steps); 10 trials of GAN (m = 1) and PacGAN2..4 (``model.pack`` m). Each run
is scored on 2,500 samples (the generator in inference mode, batch norm on its population statistics, as the
authors' figure logger does) by :func:`gankit.metrics.modes.mode_coverage` with the authors' rules: a sample is of
high quality within 3 standard deviations of its nearest mode, a mode is captured by one high-quality sample
(``min_count=1``; their ``MetricLogger`` counts the non-zero entries of the histogram), and the reverse KL is
that of the histogram of high-quality samples from the uniform one.

Where gankit's loop differs from theirs (documented, not hidden): their ALI-based code updates D and G
simultaneously from one batch (``ali_algorithm``: both gradients taken at the same point), gankit alternates a D
step and a G step on fresh latents (Goodfellow et al. 2014, Alg. 1); they sample a fixed set of 100,000 points
once and form packs by resampling it, gankit draws fresh points every step; their generator normalises each of
the m sub-batches of a pack separately (one decoder call per packed position), gankit's one batch of 100 m.

The paper reports mean +- standard error over 10 trials; the table here flags a difference larger than the
paper's standard deviation (standard error x sqrt(10)).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import time
from pathlib import Path

import torch

from gankit.config import resolve
from gankit.data.toy import grid_centers, ring_centers
from gankit.errors import GankitError
from gankit.metrics.modes import mode_coverage
from gankit.training.loop import Trainer

PACKS = (1, 2, 3, 4)
DATASETS = ("ring", "grid")
PACKS_PER_BATCH = 100
N_SAMPLES = 2500
PAPER_TRIALS = 10
QUICK_STEPS = 120
#: Lin et al. (NeurIPS 2018), Table 1: (modes, high-quality %, reverse KL) as (mean, standard error) over 10 trials.
PAPER_TABLE_1: dict[tuple[str, int], tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    ("ring", 1): ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
    ("ring", 2): ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
    ("ring", 3): ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
    ("ring", 4): ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    ("grid", 1): ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
    ("grid", 2): ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
    ("grid", 3): ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
    ("grid", 4): ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
}
KEYS = ("modes_covered", "high_quality", "reverse_kl")


def method_name(pack: int) -> str:
    """GAN for m = 1, PacGANm otherwise (the paper's row names)."""
    return "GAN" if pack == 1 else f"PacGAN{pack}"


def protocol_overrides(pack: int, seed: int, steps: int | None = None) -> list[str]:
    """The overrides of ``{data}-pacgan`` for PacGAN``pack``: m samples per pack, 100 packs per batch."""
    overrides = [
        f"model.pack={pack}",
        f"train.batch_size={PACKS_PER_BATCH * pack}",
        f"train.seed={seed}",
        "log.progress=false",
    ]
    return [*overrides, f"train.steps={steps}"] if steps else overrides


def centers_of(data: str, radius: float) -> torch.Tensor:
    """The mode centres of the ring or grid."""
    return ring_centers(8, radius) if data == "ring" else grid_centers()


def train_and_measure(data: str, pack: int, seed: int, steps: int | None = None) -> dict:
    """Train one PacGAN``pack`` run in memory and score 2,500 samples with the authors' rules."""
    config = resolve(f"{data}-pacgan", protocol_overrides(pack, seed, steps))
    trainer = Trainer(config, Path("unused"))
    start = time.perf_counter()
    accuracy = []
    while trainer.step < config.train.steps:
        stats = trainer.train_step()
        accuracy.append(float(stats["d_accuracy"]))
    seconds = time.perf_counter() - start
    trainer.G.eval()
    with torch.no_grad():
        samples = trainer.G(trainer.fixed_z[:N_SAMPLES])
    result = mode_coverage(samples, centers_of(data, config.data.radius), config.data.std, min_count=1)
    tail = accuracy[-max(1, len(accuracy) // 10) :]
    return {
        "data": data,
        "method": method_name(pack),
        "pack": pack,
        "seed": seed,
        "steps": config.train.steps,
        "seconds": seconds,
        "d_accuracy_last10pct": statistics.fmean(tail),
        **{k: v for k, v in result.as_dict().items() if k != "counts"},
        "counts": " ".join(str(c) for c in result.counts),
    }


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and standard error over seeds per (data, pack), with the paper's numbers beside them."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["pack"]), []).append(row)
    summary = []
    for (data, pack), group in sorted(groups.items()):
        entry: dict = {"data": data, "pack": pack, "method": method_name(pack), "seeds": len(group)}
        entry["steps"] = group[0]["steps"]
        for key, paper in zip(KEYS, PAPER_TABLE_1[(data, pack)], strict=True):
            values = [g[key] * (100 if key == "high_quality" else 1) for g in group]
            finite = all(math.isfinite(v) for v in values)
            mean = statistics.fmean(values) if finite else math.inf
            se = statistics.stdev(values) / math.sqrt(len(values)) if finite and len(values) > 1 else 0.0
            paper_mean, paper_se = paper
            entry[key] = mean
            entry[f"{key}_se"] = se
            entry[f"{key}_paper"] = paper_mean
            entry[f"{key}_paper_se"] = paper_se
            entry[f"{key}_differs"] = abs(mean - paper_mean) > paper_se * math.sqrt(PAPER_TRIALS)
        summary.append(entry)
    return summary


def _cell(entry: dict, key: str, fmt: str) -> str:
    flag = " **!**" if entry[f"{key}_differs"] else ""
    ours = f"{entry[key]:{fmt}} +- {entry[f'{key}_se']:{fmt}}"
    return f"{ours} | {entry[f'{key}_paper']:{fmt}} +- {entry[f'{key}_paper_se']:{fmt}}{flag}"


def markdown(summary: list[dict]) -> str:
    """Our table next to Lin et al. (2018)'s Table 1 (mean +- standard error); ``!`` marks a difference larger
    than the paper's standard deviation (standard error x sqrt(10))."""
    lines = [
        "| data | method | seeds x steps | modes (ours) | modes (Table 1) | high quality % (ours) "
        "| high quality % (Table 1) | reverse KL (ours) | reverse KL (Table 1) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        lines.append(
            f"| {e['data']} | {e['method']} | {e['seeds']} x {e['steps']} | {_cell(e, 'modes_covered', '.1f')} "
            f"| {_cell(e, 'high_quality', '.1f')} | {_cell(e, 'reverse_kl', '.2f')} |"
        )
    return "\n".join(lines)


def _packs(value: str) -> list[int]:
    try:
        packs = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise GankitError(f"--packs takes comma-separated integers from 1..4, got '{value}'") from exc
    if not packs or any(p not in PACKS for p in packs):
        raise GankitError(f"--packs takes comma-separated integers from 1..4 (Table 1's rows), got '{value}'")
    return packs


TEXT_COLUMNS = ("data", "method", "counts")


def finished_runs(path: Path) -> dict[tuple[str, int, int, int], dict]:
    """The runs already in ``pacgan.csv``, by (data, pack, seed, steps), numbers parsed back; a row cut short by an
    interrupted write is left out (that run is trained again)."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [key for key in ("data", "pack", "seed", "steps", *KEYS) if key not in (reader.fieldnames or [])]
        if missing:
            raise GankitError(
                f"{path} is not a pacgan.csv of this version (no column {', '.join(missing)}); "
                "move it away or choose another --out"
            )
        runs = {}
        for row in reader:
            if None in row.values() or None in row:  # a short or long (torn) line
                continue
            row = {k: v if k in TEXT_COLUMNS else float(v) for k, v in row.items()}
            for key in ("pack", "seed", "steps", "modes_covered", "modes"):
                if key in row:
                    row[key] = int(row[key])
            runs[(row["data"], row["pack"], row["seed"], row["steps"])] = row
    return runs


def append_run(path: Path, row: dict) -> None:
    """Add one finished run to ``pacgan.csv`` (the header first if the file is new), flushed to disk at once, so
    that an interrupted protocol keeps every run it finished."""
    new = not path.exists() or path.stat().st_size == 0
    torn = False
    if not new:  # a last line cut short: the new row starts on a line of its own
        with path.open("rb") as tail:
            tail.seek(-1, os.SEEK_END)
            torn = tail.read(1) != b"\n"
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        if torn:
            handle.write("\r\n")
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def run(args: argparse.Namespace) -> dict:
    """Train every (data, m, seed) of the protocol (``--quick``: one seed of 120 steps each, a smoke run of about
    a minute); write ``pacgan.csv`` and ``pacgan.md`` and print the table. Each run is added to ``pacgan.csv`` as
    it finishes, and the runs already there are not trained again: the same command resumes an interrupted
    protocol, and runs split over several invocations (``--data``, ``--packs``, ``--first-seed``) into one
    ``--out`` end in one table."""
    datasets = [d.strip() for d in args.data.split(",") if d.strip()]
    if not datasets or any(d not in DATASETS for d in datasets):
        raise GankitError(f"unknown data set '{args.data}'; valid: ring, grid")
    packs = _packs(args.packs)
    seeds = 1 if args.quick else (args.seeds or PAPER_TRIALS)
    steps = QUICK_STEPS if args.quick and not args.steps else (args.steps or None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pacgan.csv"
    finished = finished_runs(path)
    rows = []
    for data in datasets:
        run_steps = steps or resolve(f"{data}-pacgan").train.steps  # the key of a finished run
        for pack in packs:
            for seed in range(args.first_seed, args.first_seed + seeds):
                row = finished.get((data, pack, seed, run_steps))
                if row is None:
                    row = train_and_measure(data, pack, seed, steps)
                    append_run(path, row)
                    done = f"{row['steps']} steps, {row['seconds']:.0f} s"
                else:
                    done = f"{row['steps']} steps, already in {path.name}"
                rows.append(row)
                print(
                    f"{data:<5} {row['method']:<8} seed {seed}: {row['modes_covered']} of {row['modes']} modes, "
                    f"{100 * row['high_quality']:.1f}% high quality, reverse KL {row['reverse_kl']:.3f} ({done})",
                    flush=True,
                )
    summary = summarise(rows)
    table = markdown(summary)
    (out / "pacgan.md").write_text(table + "\n")
    print(table)
    print(f"table: {out / 'pacgan.md'}, rows: {path}")
    return {"experiment": "mixtures", "protocol": "pacgan", "rows": rows, "summary": summary, "n_samples": N_SAMPLES}


__all__ = [
    "PAPER_TABLE_1",
    "append_run",
    "finished_runs",
    "markdown",
    "protocol_overrides",
    "run",
    "summarise",
    "train_and_measure",
]
