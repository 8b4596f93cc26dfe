"""The README's conditional-MNIST table from the JSON files of ``benchmarks/conditional_mnist.sh``.

Usage: python benchmarks/conditional_mnist_table.py [OUT]   (OUT defaults to runs/conditional-mnist)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = [
    ("dcgan", "DCGAN, unconditional"),
    ("cdcgan-concat", "conditional DCGAN: concat G, concat D (Mirza & Osindero)"),
    ("cbn-projection", "cBN G (per-class tables) + projection D, BigGAN blocks, `mnist-biggan`'s optimiser"),
    ("biggan", "`mnist-biggan` (shared embedding, skip-z, SN in G and D, ortho 1e-4, n_dis 2, EMA)"),
    ("acgan", "AC-GAN: concat G, auxiliary-classifier D (Odena et al.)"),
    ("cdcgan-projection", "conditional DCGAN: concat G, projection D (Miyato & Koyama)"),
]


def main(root: Path) -> None:
    """Print one markdown row per run whose evaluation exists, with its training time from ``times.txt``."""
    times = {}
    for line in (root / "times.txt").read_text().splitlines():
        name, kind, seconds, _ = line.split()
        times[(name, kind)] = int(seconds)
    columns = ["model", "sample accuracy", "FID", "intra-FID", "KID", "per-class KID"]
    columns += ["class-wise recall (lowest class)", "train time"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label in ROWS:
        path = root / f"{name}.eval.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        accuracy = f"{r['sample_accuracy']:.3f}" if "sample_accuracy" in r else "—"
        kid = f"{r['kid_mean']:.1f} [{r['kid_ci_low']:.1f}, {r['kid_ci_high']:.1f}]"
        if "per_class_skipped" in r:  # an unconditional model that misses classes: no per-class numbers
            intra, per_class_kid, recall = "—", "—", f"— ({r['per_class_skipped'].split(' got ')[0]} missing)"
        else:
            intra, per_class_kid = f"{r['intra_fid']:.1f}", f"{r['per_class_kid_mean']:.0f}"
            recall = f"{r['classwise_recall']:.3f} ({min(r['per_class_recall']):.3f})"
        print(
            f"| {label} | {accuracy} | {r['fid']:.1f} | {intra} | {kid} | {per_class_kid} "
            f"| {recall} | {times.get((name, 'train'), 0)} s |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/conditional-mnist"))
