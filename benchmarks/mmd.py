"""Cost of MMD: the unbiased MMD^2 estimator at scale, and MMD-based training iterations.

1. Unbiased MMD^2 with a 5-bandwidth Gaussian mixture between two sets of n 2048-d float32 vectors
   (the size of Inception pool features), n = 1,000 ... 20,000: seconds and peak resident memory of
   the direct path (three n x n Gram matrices) and the blockwise path (4,096 x 4,096 blocks), each in
   its own process; the two estimates agree to the printed relative difference.
2. One training iteration of a GMMN, an MMD GAN (16 critic features, mixture-RQ kernel, witness
   gradient penalty) and a Scaled MMD GAN, next to a hinge-GAN iteration on the same DCGAN-32 networks
   (batch 64, n_critic 1), as time ratios to the hinge GAN.

    python benchmarks/mmd.py [--sizes 1000,2000,5000,10000,20000] [--iters 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel

KERNEL = GaussianKernel((5.0, 10.0, 20.0, 40.0, 80.0))
BLOCK = 4096
OBJECTIVES = {
    "hinge": ["objective.loss=hinge"],
    "gmmn": ["objective.loss=gmmn", "objective.kernel=gaussian", "objective.bandwidths=[2,5,10,20,40]"],
    "mmdgan": ["objective.loss=mmdgan", "objective.kernel=rq", "objective.gp=1", "model.d_out=16"],
    "smmd": ["objective.loss=smmd", "objective.kernel=rq", "model.d_out=16", "model.spectral_norm=true"],
}


def estimator_child(n: int, path: str) -> dict:
    generator = torch.Generator().manual_seed(n)
    X = torch.randn(n, 2048, generator=generator)
    Y = torch.randn(n, 2048, generator=generator) + 0.05
    start = time.perf_counter()
    with torch.no_grad():
        value = mmd2(X, Y, KERNEL, block_size=BLOCK if path == "blockwise" else None).item()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "value": value,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def iteration_child(objective: str, iters: int) -> dict:
    import tempfile
    from pathlib import Path

    import numpy as np
    from train_step import DCGAN, make_config

    from gankit.training.loop import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, x=np.random.default_rng(0).integers(0, 256, (512, 32, 32, 3), dtype=np.uint8))
        overrides = [*DCGAN, "model.d_norm=none", *OBJECTIVES[objective]]
        trainer = Trainer(make_config(overrides, data, 64), Path(tmp) / "run")
        trainer.train_step()
        start = time.perf_counter()
        for _ in range(iters):
            trainer.train_step()
        return {"seconds": (time.perf_counter() - start) / iters}


def child(args: list[str]) -> None:
    kind, name, value = args
    result = estimator_child(int(name), value) if kind == "estimator" else iteration_child(name, int(value))
    print(json.dumps(result))


def run_child(*args: str) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, float32")
    print("unbiased MMD^2, 5-bandwidth Gaussian mixture, 2048-d; blockwise blocks of 4096")
    columns = ("direct s", "direct MB", "block s", "block MB", "time ratio", "rel. diff")
    print(f"{'n':>6} " + " ".join(f"{c:>10}" for c in columns))
    for n in map(int, args.sizes.split(",")):
        direct, block = run_child("estimator", str(n), "direct"), run_child("estimator", str(n), "blockwise")
        diff = abs(direct["value"] - block["value"]) / max(abs(direct["value"]), 1e-30)
        print(
            f"{n:6d} {direct['seconds']:10.2f} {direct['peak_rss_mb']:10.0f} {block['seconds']:10.2f} "
            f"{block['peak_rss_mb']:10.0f} {block['seconds'] / direct['seconds']:10.2f} {diff:10.1e}"
        )
    print("\none iteration on the DCGAN-32 (batch 64, n_critic 1), relative to the hinge GAN")
    base = None
    for name in OBJECTIVES:
        r = run_child("iteration", name, str(args.iters))
        base = base or r["seconds"]
        print(f"{name:<7} {r['seconds']:8.3f} s/iter  x{r['seconds'] / base:.2f}")


if __name__ == "__main__":
    main()
