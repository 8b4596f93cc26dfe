"""Throughput and peak memory of one full training iteration (n_critic D steps + one G step).

For each network pair, in the same run and on the same inputs:

- ``gankit``: :class:`gankit.training.loop.Trainer.train_step` (data stream, objective, schedules,
  NaN-ready statistics; EMA off so that both sides do the same work);
- ``minimal``: the same networks driven by a hand-written PyTorch loop over a pre-made batch.

Each measurement runs in its own process so that its peak resident memory is its own. Printed:
images/s (real images through D per second), the gankit/minimal time ratio (the loop's overhead),
peak RSS, and achieved GFLOP/s (FLOPs of one iteration counted by ``torch.utils.flop_counter``) as a
fraction of a large fp32 matmul measured in the same run.

    python benchmarks/train_step.py [--iters 5] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SETUPS = {
    "dcgan32": ["model.arch=dcgan", "model.width=64", "model.z_dim=100", "objective.loss=ns", "train.n_critic=1"],
    "resnet32": [
        "model.arch=resnet",
        "model.width=256",
        "model.d_width=128",
        "model.z_dim=128",
        "objective.loss=hinge",
        "train.n_critic=5",
    ],
}


def make_config(setup: str, data: Path, batch: int):
    from gankit.config import resolve

    return resolve(
        "digits",
        [
            *SETUPS[setup],
            "data.name=npz",
            f"data.path={data}",
            "data.resolution=32",
            f"train.batch_size={batch}",
            "train.steps=1000000",
            "ema.enabled=false",
            "log.progress=false",
            "log.tensorboard=false",
            "optim.beta1=0.0",
            "optim.beta2=0.9",
        ],
    )


def gankit_step(trainer):
    return lambda: trainer.train_step()


def minimal_step(trainer, real: torch.Tensor):
    """The same networks and optimizers as ``trainer``, driven by the shortest correct loop."""
    G, D, opt_g, opt_d = trainer.G, trainer.D, trainer.opt_g, trainer.opt_d
    n_critic, batch, hinge = trainer.config.train.n_critic, len(real), trainer.config.objective.loss == "hinge"

    def step():
        for _ in range(n_critic):
            with torch.no_grad():
                fake = G(torch.randn(batch, G.z_dim))
            lr, lf = D(real), D(fake)
            loss = (
                F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
                if hinge
                else F.softplus(-lr).mean() + F.softplus(lf).mean()
            )
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        D.requires_grad_(False)
        lf = D(G(torch.randn(batch, G.z_dim)))
        loss = -lf.mean() if hinge else F.softplus(-lf).mean()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        D.requires_grad_(True)

    return step


def child(setup: str, mode: str, iters: int, batch: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.training.loop import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, x=np.random.default_rng(0).integers(0, 256, (batch * 8, 32, 32, 3), dtype=np.uint8))
        trainer = Trainer(make_config(setup, data, batch), Path(tmp) / "run")
        real = trainer.stream.next()[0]
        step = gankit_step(trainer) if mode == "gankit" else minimal_step(trainer, real)
        step()  # warm-up
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        start = time.perf_counter()
        for _ in range(iters):
            step()
        seconds = (time.perf_counter() - start) / iters
    return {
        "seconds": seconds,
        "images_per_s": batch * trainer.config.train.n_critic / seconds,
        "gflops": flops / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def run_child(setup: str, mode: str, iters: int, batch: int) -> dict:
    command = [sys.executable, __file__, "--child", setup, mode, "--iters", str(iters), "--batch", str(batch)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("SETUP", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.iters, args.batch)))
        return
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32 matmul 2048^3: {peak:.1f} GFLOP/s")
    columns = ("s/iter", "img/s", "GFLOP/it", "GFLOP/s", "of peak", "RSS MB")
    print(f"{'setup':<9} {'loop':<8} " + " ".join(f"{c:>8}" for c in columns))
    for setup in SETUPS:
        results = {mode: run_child(setup, mode, args.iters, args.batch) for mode in ("minimal", "gankit")}
        for mode, r in results.items():
            rate = r["gflops"] / r["seconds"]
            print(
                f"{setup:<9} {mode:<8} {r['seconds']:8.3f} {r['images_per_s']:8.1f} {r['gflops']:9.2f} "
                f"{rate:8.1f} {rate / peak:8.1%} {r['peak_rss_mb']:7.0f}"
            )
        overhead = results["gankit"]["seconds"] / results["minimal"]["seconds"] - 1
        print(f"{setup:<9} gankit/minimal time ratio {1 + overhead:.3f} (loop overhead {overhead:+.1%}; target < 5%)")


if __name__ == "__main__":
    main()
