"""``gankit use semisupervised``: a GAN as the prior for semi-supervised learning (Salimans et al., NeurIPS 2016,
Sec. 5 and 6.1), against the same classifier trained on the labelled examples alone.

For every seed s: the K+1-class GAN with feature matching trains through gankit's training loop (preset
``mnist-ssgan``: ``objective.loss=ssgan``, ``model.arch=ssmlp``, ``train.seed=s``, ``semisupervised.label_seed=s``,
the training images of ``--data`` as unlabelled data and ``--per-class`` labelled images of each class among them),
and its discriminator's test error is measured on ``--test`` (noise layers off); the supervised-only baseline
(:func:`gankit.uses.semisupervised.supervised_baseline`) trains the same discriminator network on the same labelled
images with the same seed. ``--run`` evaluates existing ssgan runs instead of training new ones.

Salimans et al. (2016), Table 1: 93 +- 6.5 test errors out of 10,000 (0.93 %) with 100 labels, trained on the full
60,000-image MNIST training set for 300 epochs.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import torch

from gankit.config import SEMISUPERVISED_LOSS, apply_overrides, load_preset, validate
from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.uses.commands.common import (
    add_common_arguments,
    add_data_arguments,
    data_config,
    load_data,
    load_model,
    output_folder,
    print_table,
    setup,
    spec_of,
    test_data,
)
from gankit.uses.semisupervised import error_rate, supervised_baseline

PRESET = "mnist-ssgan"
PAPER_ERROR = 0.0093
PAPER = "Salimans et al. 2016, Table 1: 93 +- 6.5 errors of 10,000 with 100 labels (full MNIST, 60k unlabelled)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", nargs="+", help="evaluate these ssgan runs instead of training")
    add_data_arguments(parser)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--per-class", type=int, default=10, help="labelled images per class (default 10)")
    parser.add_argument("--steps", type=int, default=1500, help="GAN training steps per seed (default 1500)")
    parser.add_argument("--baseline-steps", type=int, default=500, help="supervised-only steps (default 500)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the supervised-only baseline")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="more config overrides of the GAN runs")
    add_common_arguments(parser)


def _train(args: argparse.Namespace, seed: int, out: Path, device: torch.device) -> str:
    from gankit.training.loop import Trainer

    data = data_config(args.data, args.resolution)
    overrides = [
        f"data.name={data.name}",
        f"data.path={data.path}",
        f"data.split={data.split}",
        f"data.resolution={data.resolution}",
        f"train.seed={seed}",
        f"train.steps={args.steps}",
        f"train.device={device}",
        f"semisupervised.label_seed={seed}",
        f"semisupervised.labels_per_class={args.per_class}",
        "log.progress=false",
        "log.tensorboard=false",
        f"log.ckpt_every={args.steps}",
        f"log.sample_every={args.steps}",
        *args.overrides,
    ]
    config = apply_overrides(load_preset(PRESET), overrides)
    validate(config)
    run_dir = out / f"seed-{seed}"
    if (run_dir / "checkpoints").is_dir():
        raise GankitError(f"{run_dir} already holds a run; evaluate it with --run {run_dir} or pick another --out")
    Trainer(config, run_dir).fit()
    return str(run_dir)


def _gan_error(run: str, test_x: torch.Tensor, test_y: torch.Tensor, device) -> tuple[float, dict[str, Any]]:
    model = load_model(run, device)
    if model.record.get("loss") != SEMISUPERVISED_LOSS or model.discriminator is None:
        raise GankitError(
            f"{run} is not an ssgan run (objective.loss={model.record.get('loss')}); train one with {PRESET}"
        )
    return error_rate(model.discriminator, test_x.to(device), test_y.to(device)), model.record


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or load) the GAN runs, train the baseline, print both test errors per seed."""
    start = time.perf_counter()
    device = setup(args)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.run:
        model = load_model(args.run[0], device)
        args.data = args.data or spec_of(model.data)
    args.data = args.data or "mnist"
    train = load_data(args.data, args.resolution)
    if train.labels is None:
        raise GankitError(f"{train.spec} has no labels; semi-supervised learning needs a labelled training set")
    test = test_data(args, train)
    if test.labels is None:
        raise GankitError(f"the test images {test.spec} have no labels")
    out = output_folder(args)
    test_x = from_uint8(test.images)
    rows = []
    runs = args.run or []
    if args.run:
        seeds = [load_model(r, device).record.get("seed", i) for i, r in enumerate(args.run)]
    for i, seed in enumerate(seeds):
        started = time.perf_counter()
        run_dir = runs[i] if args.run else _train(args, seed, out, device)
        gan_error, record = _gan_error(run_dir, test_x, test.labels, device)
        row = {"seed": seed, "run": run_dir, "gan_test_error": gan_error, "gan_steps": record["step"]}
        grids = sorted((Path(run_dir) / "samples").glob("step-*.png"))
        row["samples"] = str(grids[-1]) if grids else None
        row["gan_seconds"] = time.perf_counter() - started
        if not args.no_baseline:
            baseline = supervised_baseline(
                train.images, train.labels, test.images, test.labels, (seed,), args.per_class, args.baseline_steps
            )
            row["supervised_test_error"] = baseline["rows"][0]["test_error"]
            row["supervised_seconds"] = baseline["rows"][0]["seconds"]
        rows.append(row)

    def summary(key: str) -> tuple[float, float]:
        values = torch.tensor([r[key] for r in rows], dtype=torch.float64)
        return float(values.mean()), float(values.std()) if len(values) > 1 else math.nan

    table = []
    for r in rows:
        supervised = f"{100 * r['supervised_test_error']:.2f}" if "supervised_test_error" in r else ""
        table.append([r["seed"], supervised, f"{100 * r['gan_test_error']:.2f}", r["gan_steps"]])
    result: dict[str, Any] = {"rows": rows, "train": train.spec, "test": test.spec, "labels": args.per_class}
    gan_mean, gan_std = summary("gan_test_error")
    result["gan_test_error_mean"], result["gan_test_error_std"] = gan_mean, gan_std
    line = ["mean +- sd", "", f"{100 * gan_mean:.2f} +- {100 * gan_std:.2f}", ""]
    if not args.no_baseline:
        sup_mean, sup_std = summary("supervised_test_error")
        result["supervised_test_error_mean"], result["supervised_test_error_std"] = sup_mean, sup_std
        line[1] = f"{100 * sup_mean:.2f} +- {100 * sup_std:.2f}"
    table.append(line)
    table.append(["paper (100 labels)", "", f"{100 * PAPER_ERROR:.2f}", "300 epochs"])
    n_classes = int(train.labels.max()) + 1
    print_table(
        ["seed", "supervised only: test error %", "K+1 GAN + feature matching: test error %", "GAN steps"],
        table,
        f"{args.per_class * n_classes} labels of {len(train.images)} training images ({train.spec}); "
        f"test: {len(test.images)} images of {test.spec}",
    )
    print(f"paper: {PAPER}")
    print(f"figures (GAN samples): {', '.join(str(r['samples']) for r in rows)}")
    result["seconds"] = time.perf_counter() - start
    result["paper"] = PAPER
    print(f"time: {result['seconds']:.1f} s")
    return result
