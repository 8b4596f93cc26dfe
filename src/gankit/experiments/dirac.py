"""The Dirac-GAN of Mescheder, Geiger & Nowozin (ICML 2018), "Which training methods for GANs do actually
converge?", Sec. 2.2: data is a point mass at 0, the generator is a point mass at theta, and the
discriminator is linear, D(x) = psi * x. The unique equilibrium is (theta, psi) = (0, 0).

The losses and penalties are the ones training uses (:class:`gankit.objectives.AdversarialObjective`
on a one-parameter D and G), so this experiment also checks them. For each method it runs
simultaneous and alternating gradient descent from (1, 1), reports the distance to the equilibrium,
and compares the eigenvalues of the Jacobian of the gradient vector field
v(theta, psi) = (-dL_G/dtheta, -dL_D/dpsi) at (0, 0), computed with autograd, to the closed forms
derived below with sigma(0) = 1/2 and sigma'(0) = 1/4:

- GAN (minimax) and non-saturating GAN: J = [[0, 1/2], [-1/2, 0]], eigenvalues +-i/2.
- WGAN (weight clipping only acts at |psi| = c): J = [[0, 1], [-1, 0]], eigenvalues +-i.
- R1 with gamma: L_D gains (gamma/2) psi^2, J = [[0, 1/2], [-1/2, -gamma]],
  eigenvalues (-gamma +- sqrt(gamma^2 - 1)) / 2.
- Instance noise with std s: E over the noise of the GAN losses gives J = [[0, 1/2], [-1/2, -s^2/2]],
  eigenvalues (-s^2/2 +- sqrt(s^4/4 - 1)) / 2 (the batch mean of the noise estimates it).
- WGAN-GP: the penalty (|psi| - 1)^2 is not differentiable at psi = 0, so there is no Jacobian; for
  psi -> 0+ the field vanishes at theta = 2 * lambda, where GD gets stuck away from the equilibrium.

Purely imaginary eigenvalues mean simultaneous GD spirals outwards (|1 + h lambda| > 1) and
alternating GD circles; negative real parts mean both converge for small enough steps.
"""

from __future__ import annotations

import argparse
import cmath
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.objectives import AdversarialObjective, StepContext

NOISE_BATCH = 4096


class LinearDiscriminator(nn.Module):
    """D(x) = psi * x on scalar inputs of shape (N, 1)."""

    num_classes = 0

    def __init__(self, psi: torch.Tensor) -> None:
        super().__init__()
        self.psi = psi

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.psi * x[:, 0]


@dataclass(frozen=True)
class Method:
    """A Dirac-GAN variant: its objective and the closed-form eigenvalues at the equilibrium."""

    objective: ObjectiveConfig
    batch: int
    eigenvalues: Callable[[], tuple[complex, complex]] | None


def _pair(trace: float, det: float) -> tuple[complex, complex]:
    root = cmath.sqrt(trace * trace / 4 - det)
    return trace / 2 + root, trace / 2 - root


def methods(clip: float = 0.5, gp: float = 1.0, gamma: float = 0.3, noise: float = 1.0) -> dict[str, Method]:
    """The methods of Mescheder et al. (2018), Fig. 1 and Sec. 3, with their hyper-parameters."""
    return {
        "gan": Method(ObjectiveConfig(loss="minimax"), 1, lambda: _pair(0.0, 0.25)),
        "ns-gan": Method(ObjectiveConfig(loss="ns"), 1, lambda: _pair(0.0, 0.25)),
        "wgan": Method(ObjectiveConfig(loss="wasserstein", clip=clip), 1, lambda: _pair(0.0, 1.0)),
        "wgan-gp": Method(ObjectiveConfig(loss="wasserstein", gp=gp), 1, None),
        "instance-noise": Method(
            ObjectiveConfig(loss="minimax", noise_std=noise), NOISE_BATCH, lambda: _pair(-(noise**2) / 2, 0.25)
        ),
        "r1": Method(ObjectiveConfig(loss="minimax", r1=gamma), 1, lambda: _pair(-gamma, 0.25)),
    }


def vector_field(
    objective: AdversarialObjective, theta: torch.Tensor, psi: torch.Tensor, batch: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """v = (-dL_G/dtheta, -dL_D/dpsi) from the training objective, kept differentiable for the Jacobian.

    The noise of instance noise (and the interpolates of WGAN-GP) come from a context seeded with ``seed``, so
    that the same point always sees the same draws.
    """
    D = LinearDiscriminator(psi)
    real = torch.zeros(batch, 1, dtype=theta.dtype)
    fake = theta * torch.ones(batch, 1, dtype=theta.dtype)
    loss_d, _ = objective.discriminator_loss(D, real, fake, ctx=StepContext.standalone(batch, seed))
    loss_g, _ = objective.generator_loss(D, fake, ctx=StepContext.standalone(batch, seed))
    (grad_psi,) = torch.autograd.grad(loss_d, psi, create_graph=True)
    (grad_theta,) = torch.autograd.grad(loss_g, theta, create_graph=True)
    return -grad_theta, -grad_psi


def jacobian_eigenvalues(method: Method, seed: int = 0) -> tuple[complex, complex]:
    """Eigenvalues of the Jacobian of :func:`vector_field` at the equilibrium (0, 0), by autograd."""
    objective = AdversarialObjective(method.objective)

    def field(theta: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return torch.stack(vector_field(objective, theta, psi, method.batch, seed))

    zero = torch.zeros((), dtype=torch.float64)
    rows = torch.autograd.functional.jacobian(field, (zero.clone().requires_grad_(), zero.clone().requires_grad_()))
    matrix = torch.stack([r for r in rows], dim=1).detach()
    values = torch.linalg.eigvals(matrix).tolist()
    return tuple(sorted(values, key=lambda v: -v.imag))  # type: ignore[return-value]


def simulate(
    method: Method, alternating: bool, steps: int = 500, lr: float = 0.1, start: tuple[float, float] = (1.0, 1.0)
) -> list[tuple[float, float]]:
    """(theta, psi) after each of ``steps`` gradient steps; D moves first when ``alternating``."""
    objective = AdversarialObjective(method.objective)
    theta = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    psi = nn.Parameter(torch.tensor(start[1], dtype=torch.float64))  # a registered parameter, so clipping sees it
    path = [start]
    for step in range(steps):
        v_theta, v_psi = vector_field(objective, theta, psi, method.batch, seed=step)
        with torch.no_grad():
            psi += lr * v_psi
            objective.after_step("D", None, LinearDiscriminator(psi))
        if alternating:
            v_theta, _ = vector_field(objective, theta, psi, method.batch, seed=step)
        with torch.no_grad():
            theta += lr * v_theta
        path.append((theta.item(), psi.item()))
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=500, help="gradient steps (default 500)")
    parser.add_argument("--lr", type=float, default=0.1, help="step size h (default 0.1)")


def run(args: argparse.Namespace) -> dict:
    """Run every method with simultaneous and alternating GD; print the table, write dirac.png."""
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    fig, axes = plt.subplots(2, len(methods()), figsize=(3 * len(methods()), 6), squeeze=False)
    for col, (name, method) in enumerate(methods().items()):
        numeric = jacobian_eigenvalues(method) if method.eigenvalues is not None else None
        closed = method.eigenvalues() if method.eigenvalues is not None else None
        for row, alternating in enumerate((False, True)):
            path = simulate(method, alternating, args.steps, args.lr)
            distance = math.hypot(*path[-1])
            rows.append(
                {
                    "method": name,
                    "update": "alternating" if alternating else "simultaneous",
                    "final_distance": distance,
                    "converged": bool(distance < 1e-2),
                    "eigenvalues_autograd": [str(complex(round(v.real, 4), round(v.imag, 4))) for v in numeric]
                    if numeric
                    else None,
                    "eigenvalues_closed_form": [str(complex(round(v.real, 4), round(v.imag, 4))) for v in closed]
                    if closed
                    else None,
                }
            )
            ax = axes[row][col]
            xs, ys = zip(*path, strict=True)
            ax.plot(xs, ys, lw=0.8)
            ax.plot([0], [0], "k*", ms=8)
            ax.set_title(f"{name}, {'alt.' if alternating else 'sim.'} GD", fontsize=9)
            ax.set_xlabel("theta")
            ax.set_ylabel("psi")
    fig.tight_layout()
    fig.savefig(out / "dirac.png", dpi=100)
    plt.close(fig)
    print(f"{'method':<15} {'update':<13} {'distance':>10} {'converged':>9}  eigenvalues: autograd | closed form")
    for r in rows:
        eig = (
            f"{', '.join(r['eigenvalues_autograd'])} | {', '.join(r['eigenvalues_closed_form'])}"
            if r["eigenvalues_autograd"]
            else "not differentiable at psi = 0"
        )
        print(f"{r['method']:<15} {r['update']:<13} {r['final_distance']:10.3g} {r['converged']!s:>9}  {eig}")
    print(f"trajectories: {out / 'dirac.png'}")
    return {"experiment": "dirac", "steps": args.steps, "lr": args.lr, "rows": rows, "plot": str(out / "dirac.png")}
