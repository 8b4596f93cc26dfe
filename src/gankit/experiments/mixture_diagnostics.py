"""Why a toy run covers the modes it does: D's accuracy, the gradient norms of both players and the samples over
time, for one preset of the mixtures experiment (the evidence asked for when a result contradicts the lecture:
a run that never collapses, one that collapses to a fraction of a mode, one that covers no mode).

Every ``every`` steps the loop's own statistics are kept (``train_step(measure=True)``: D's accuracy on the step's
real and fake batch, the Euclidean norms of D's and G's parameter gradients, Goodfellow et al. 2014's two
losses), together with the mode coverage (:func:`gankit.metrics.modes.mode_coverage`) of 2,500 samples and a
copy of the samples for the scatter plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from gankit.config import resolve
from gankit.data.toy import grid_centers, ring_centers
from gankit.imaging import figure_to_array, save_image
from gankit.metrics.modes import mode_coverage
from gankit.training.loop import Trainer


@dataclass
class Trace:
    """The statistics of one run at its measured steps, and the samples at a few of them."""

    preset: str
    overrides: list[str]
    steps: list[int] = field(default_factory=list)
    stats: dict[str, list[float]] = field(default_factory=dict)
    coverage: list[tuple[int, float, float]] = field(default_factory=list)
    samples: list[tuple[int, torch.Tensor]] = field(default_factory=list)


def trace_run(preset: str, overrides: list[str], every: int = 50, snapshots: int = 4) -> Trace:
    """Train ``preset`` with ``overrides`` in memory, measuring every ``every`` steps (see the module docstring)."""
    config = resolve(preset, [*overrides, "log.n_samples=2500", "log.progress=false"])
    trainer = Trainer(config, Path("unused"))
    total = config.train.steps
    keep = {round(total * (k + 1) / snapshots) for k in range(snapshots)}
    centers = ring_centers(8, config.data.radius) if config.data.name == "ring" else grid_centers()
    trace = Trace(preset, overrides)
    while trainer.step < total:
        measure = (trainer.step + 1) % every == 0 or trainer.step + 1 in keep
        stats = trainer.train_step(measure=measure)
        if not measure:
            continue
        trace.steps.append(trainer.step)
        for key, value in stats.items():
            trace.stats.setdefault(key, []).append(float(value))
        with torch.no_grad():
            x = trainer.G(trainer.fixed_z).cpu()
        result = mode_coverage(x, centers, config.data.std)
        trace.coverage.append((trainer.step, result.modes_covered, result.high_quality))
        if trainer.step in keep:
            trace.samples.append((trainer.step, x))
    return trace


def figure(traces: list[tuple[str, Trace]], path: Path) -> None:
    """One row per run: D's accuracy (or the Wasserstein estimate), the gradient norms, the modes covered, then
    the samples at the kept steps."""
    import matplotlib.pyplot as plt

    columns = 3 + max(len(t.samples) for _, t in traces)
    fig, axes = plt.subplots(len(traces), columns, figsize=(2.6 * columns, 2.5 * len(traces)), squeeze=False)
    for row, (title, trace) in zip(axes, traces, strict=True):
        key = "d_accuracy" if "d_accuracy" in trace.stats else "wasserstein_estimate"
        row[0].plot(trace.steps, trace.stats[key])
        row[0].set_title(f"{title}\n{key}", fontsize=8)
        for name in ("grad_norm_d", "grad_norm_g"):
            if name in trace.stats:
                row[1].semilogy(trace.steps, trace.stats[name], label=name)
        row[1].legend(fontsize=6)
        row[1].set_title("gradient norms", fontsize=8)
        steps, modes, quality = zip(*trace.coverage, strict=True)
        row[2].plot(steps, modes, label="modes (>= 20 of 2,500)")
        twin = row[2].twinx()
        twin.plot(steps, [100 * q for q in quality], color="tab:orange", label="high quality %")
        row[2].set_title("modes / high-quality %", fontsize=8)
        for ax, (step, x) in zip(row[3:], trace.samples, strict=False):
            ax.scatter(*x[:1000].T.numpy(), s=1)
            ax.set_aspect("equal")
            ax.set_title(f"step {step}", fontsize=8)
        for ax in row:
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    save_image(figure_to_array(fig), path)


__all__ = ["Trace", "figure", "trace_run"]
