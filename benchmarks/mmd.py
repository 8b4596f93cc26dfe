"""Cost of MMD: the unbiased MMD^2 estimator at scale, and MMD-based training iterations.

1. Unbiased MMD^2 with a 5-bandwidth Gaussian mixture between two sets of n 2048-d float32 vectors
   (the size of Inception pool features), n = 1,000 ... 20,000: seconds and peak resident memory of
   the direct path (three n x n Gram matrices, up to ``--direct-max``) and the blockwise path (blocks of
   4,096 columns in strips of 512 rows), each in its own process; the two estimates agree to the
   printed relative difference. The fp32 matmul rate is measured in the same run (4096 x 2048 x 4096,
   the faster of PyTorch's and numpy's BLAS, same threads) and each time is set against the matmul
   limit: the time of the products the estimator needs at that rate, 4 n^2 d FLOPs (the cross Gram
   matrix, 2 n^2 d, and half of each symmetric within-sample one) -> ``% limit``; ``% dense`` uses the
   6 n^2 d FLOPs of three full products instead.
2. One training iteration of a GMMN, an MMD GAN (16 critic features, mixture-RQ kernel, witness
   gradient penalty) and a Scaled MMD GAN, next to a hinge-GAN iteration on the same DCGAN-32 networks
   (batch 64, n_critic 1), as time ratios to the hinge GAN.

    python benchmarks/mmd.py [--sizes 1000,2000,5000,10000,20000] [--direct-max 10000] [--repeats 1]
                             [--clock wall|cpu] [--iters 3] [--skip-iterations]
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


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def estimator_child(n: int, path: str, repeats: int = 1, clock: str = "wall") -> dict:
    generator = torch.Generator().manual_seed(n)
    X = torch.randn(n, 2048, generator=generator)
    Y = torch.randn(n, 2048, generator=generator) + 0.05
    times, now = [], CLOCKS[clock]
    for _ in range(repeats):
        start = now()
        with torch.no_grad():
            value = mmd2(X, Y, KERNEL, block_size=BLOCK if path == "blockwise" else None).item()
        times.append(now() - start)
    return {
        "seconds": min(times),
        "value": value,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def matmul_rate(clock: str = "wall", repeats: int = 3) -> float:
    """GFLOP/s of a 4096 x 2048 x 4096 fp32 product, the faster of PyTorch's and numpy's BLAS."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(4096, 2048, generator=generator), torch.randn(2048, 4096, generator=generator)
    best, now = float("inf"), CLOCKS[clock]
    for product in (lambda: a @ b, lambda: a.numpy() @ b.numpy()):
        product()
        for _ in range(repeats):
            start = now()
            product()
            best = min(best, now() - start)
    return 2 * 4096 * 2048 * 4096 / best / 1e9


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
    kind, name, value, repeats, clock = args
    if kind == "estimator":
        result = estimator_child(int(name), value, int(repeats), clock)
    else:
        result = iteration_child(name, int(value))
    print(json.dumps(result))


def run_child(*args: str) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--direct-max", type=int, default=10_000, help="largest n for the direct path")
    parser.add_argument("--repeats", type=int, default=1, help="estimator times are the best of this many")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--skip-iterations", action="store_true", help="only the estimator table")
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall clock or process CPU time (busy machines, 1 thread)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    rate = matmul_rate(args.clock)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, float32, {args.clock} clock")
    print(f"fp32 matmul rate measured now: {rate:.0f} GFLOP/s")
    print("unbiased MMD^2, 5-bandwidth Gaussian mixture, 2048-d; blockwise: 4096 columns x 512 rows")
    columns = ("direct s", "direct MB", "block s", "block MB", "limit s", "% limit", "% dense", "rel. diff")
    print(f"{'n':>6} " + " ".join(f"{c:>9}" for c in columns))
    for n in map(int, args.sizes.split(",")):
        options = (str(args.repeats), args.clock)
        block = run_child("estimator", str(n), "blockwise", *options)
        direct = run_child("estimator", str(n), "direct", *options) if n <= args.direct_max else None
        limit = 4 * n * n * 2048 / rate / 1e9
        fields = ["-", "-"] if direct is None else [f"{direct['seconds']:.2f}", f"{direct['peak_rss_mb']:.0f}"]
        fields += [f"{block['seconds']:.2f}", f"{block['peak_rss_mb']:.0f}", f"{limit:.2f}"]
        fields += [f"{limit / block['seconds']:.0%}", f"{1.5 * limit / block['seconds']:.0%}"]
        diff = "-" if direct is None else abs(direct["value"] - block["value"]) / max(abs(direct["value"]), 1e-30)
        fields.append(diff if diff == "-" else f"{diff:.1e}")
        print(f"{n:6d} " + " ".join(f"{f:>9}" for f in fields))
    if args.skip_iterations:
        return
    print("\none iteration on the DCGAN-32 (batch 64, n_critic 1), relative to the hinge GAN")
    base = None
    for name in OBJECTIVES:
        r = run_child("iteration", name, str(args.iters), "1", "wall")
        base = base or r["seconds"]
        print(f"{name:<7} {r['seconds']:8.3f} s/iter  x{r['seconds'] / base:.2f}")


if __name__ == "__main__":
    main()
