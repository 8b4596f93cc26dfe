"""The optimal-discriminator argument of Arjovsky & Bottou (ICLR 2017, "Towards principled methods for
training GANs", Sec. 2.2, Fig. 2 and 3), on two distributions with disjoint, low-dimensional supports.

Data lie on the unit circle (a 1-D manifold in the plane); a fixed generator maps a 1-D latent to a
curve in the plane (another 1-D manifold, which meets the circle in at most finitely many points).
A fresh discriminator is trained towards optimality, and after each of its steps the norm of the
generator's gradient is measured for three objectives:

- ``minimax``: grad of E log(1 - D(G(z))) vanishes as D approaches a perfect discriminator (Thm. 2.4);
- ``ns``: grad of -E log D(G(z)) does not vanish but grows and fluctuates (Thm. 2.6, Fig. 3);
- ``wgan-gp``: the critic's gradient stays bounded and informative (Gulrajani et al. 2017).

The losses are those training uses (:class:`gankit.objectives.AdversarialObjective`).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import torch

from gankit.config import ObjectiveConfig
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.objectives import AdversarialObjective, StepContext
from gankit.runtime import seeds

OBJECTIVES = {
    "minimax": ObjectiveConfig(loss="minimax"),
    "ns": ObjectiveConfig(loss="ns"),
    "wgan-gp": ObjectiveConfig(loss="wasserstein", gp=1.0),
}


def circle(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` points uniformly on the unit circle: a 1-D manifold in the plane."""
    angle = torch.rand(n, generator=generator) * (2 * math.pi)
    return torch.stack([angle.cos(), angle.sin()], dim=1)


def generator_gradient_norms(name: str, d_steps: int, batch: int, seed: int, lr: float = 1e-3) -> list[float]:
    """||grad_theta L_G|| after each of ``d_steps`` discriminator updates, the generator held fixed."""
    torch.manual_seed(seed)
    G = MLPGenerator(1, 2, 64, 2)
    D = MLPDiscriminator(2, 128, 3)
    objective = AdversarialObjective(OBJECTIVES[name])
    optimizer = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    data = torch.Generator().manual_seed(seed)
    z_eval = torch.randn(1024, 1, generator=seeds.generator(seed, "disjoint/z-eval"))
    norms = []
    for step in range(d_steps):
        real = circle(batch, data)
        with torch.no_grad():
            fake = G(torch.randn(batch, 1, generator=data))
        loss, _ = objective.discriminator_loss(D, real, fake, ctx=StepContext.standalone(batch, seed=step))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        G.zero_grad(set_to_none=True)
        loss_g, _ = objective.generator_loss(D, G(z_eval))
        grads = torch.autograd.grad(loss_g, list(G.parameters()))
        norms.append(float(torch.cat([g.flatten() for g in grads]).norm()))
    return norms


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=1000, help="discriminator steps (default 1000)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (default 3)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default 256)")


def run(args: argparse.Namespace) -> dict:
    """Measure every objective over seeds; print a table at log-spaced steps and plot the curves."""
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {
        name: [generator_gradient_norms(name, args.steps, args.batch, seed) for seed in range(args.seeds)]
        for name in OBJECTIVES
    }
    marks = sorted({m for m in (1, 10, 100, 1000, 10000) if m <= args.steps} | {args.steps})
    print(f"generator gradient norm (mean over {args.seeds} seeds) after k discriminator steps")
    print(f"{'objective':<10} " + " ".join(f"{'k=' + str(m):>11}" for m in marks))
    table = {}
    for name, runs in curves.items():
        means = [statistics.fmean(r[m - 1] for r in runs) for m in marks]
        table[name] = dict(zip(map(str, marks), means, strict=True))
        print(f"{name:<10} " + " ".join(f"{v:11.3e}" for v in means))
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = torch.arange(1, args.steps + 1).numpy()
    for name, runs in curves.items():
        values = torch.tensor(runs)
        mean, low, high = values.mean(0), values.min(0).values, values.max(0).values
        ax.plot(steps, mean.numpy(), label=name)
        ax.fill_between(steps, low.numpy(), high.numpy(), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("discriminator steps (generator fixed)")
    ax.set_ylabel("||grad_theta L_G||")
    ax.set_title("disjoint supports: generator gradient as D trains", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "disjoint.png", dpi=100)
    plt.close(fig)
    print(f"plot: {out / 'disjoint.png'}")
    return {"experiment": "disjoint", "steps": args.steps, "seeds": args.seeds, "table": table, "curves": curves}
