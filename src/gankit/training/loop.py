"""The training loop: alternating gradient descent on D and G (Goodfellow et al., NeurIPS 2014, Alg. 1).

Each iteration takes ``train.n_critic`` discriminator steps, each on a fresh real batch and a fresh
fake batch, then one generator step; then the learning-rate schedules step and the EMA generator is
updated. The loop knows nothing about the losses: it calls the objective (see
:mod:`gankit.objectives`), so new losses and penalties plug in without changes here.

A run directory receives ``config.yaml``, ``checkpoints/``, ``samples/`` (grids from one fixed
latent batch, so successive grids show training progress), ``metrics.jsonl`` and ``tb/``. Given the
same configuration and seed, two CPU runs are bit-identical, and so is a run that was interrupted
(Ctrl-C or SIGTERM: it checkpoints at the end of the current iteration) and resumed.
"""

from __future__ import annotations

import contextlib
import copy
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from tqdm.auto import tqdm

from gankit.config import Config, config_from_dict, validate
from gankit.data import TOY_DATASETS, build_stream, toy_sampler
from gankit.errors import GankitError, TrainingDiverged
from gankit.imaging import figure_to_array, grid_image, save_image, scatter_figure
from gankit.models import build_discriminator, build_generator
from gankit.objectives import build_objective
from gankit.runtime import checkpoint as checkpoint_io
from gankit.training.ema import update_ema
from gankit.training.logging import RunLogger
from gankit.training.monitor import DivergenceMonitor


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise GankitError(f"train.device='{name}' is not a device; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"train.device={name} but no CUDA device is available; use train.device=cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015) with the given betas, or RMSprop (as WGAN, Arjovsky et al. 2017, uses)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    return torch.optim.RMSprop(params, lr=lr)


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between iterations; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@dataclass
class FitResult:
    """Where a finished (or interrupted) run left its outputs."""

    step: int
    checkpoint: Path | None
    samples: Path | None
    interrupted: bool = False
    evaluation: dict[str, Any] | None = None


class Trainer:
    """Owns the networks, optimizers, schedules, random generators and data stream of one run."""

    def __init__(self, config: Config, run_dir: str | Path) -> None:
        validate(config)
        self.config = config
        self.run_dir = Path(run_dir)
        self.device = select_device(config.train.device)
        if config.train.precision == "bf16" and self.device.type != "cuda":
            raise GankitError("train.precision=bf16 needs a CUDA device; use train.precision=fp32 on the CPU")
        seed = config.train.seed
        seed_everything(seed)
        self.stream = build_stream(config.data, config.train.batch_size, seed, self.device)
        self.objective = build_objective(config.objective, self._fixed_features())
        self.G = build_generator(config.model, self.stream.shape).to(self.device)
        self.D = (
            build_discriminator(config.model, self.stream.shape).to(self.device)
            if self.objective.uses_discriminator
            else None
        )
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if config.ema.enabled else None
        betas = (config.optim.beta1, config.optim.beta2)
        self.opt_g = build_optimizer(config.optim.name, self.G.parameters(), config.optim.lr_g, betas)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, self._lr_factor)
        self.opt_d = self.sched_d = None
        if self.D is not None:
            self.opt_d = build_optimizer(config.optim.name, self.D.parameters(), config.optim.lr_d, betas)
            self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, self._lr_factor)
        self.latent = torch.Generator().manual_seed(seed + 1)
        self.fixed_z = self.G.sample_latent(config.log.n_samples, torch.Generator().manual_seed(seed + 2))
        self.step = 0
        self.resumed_from: int | None = None
        self.evaluation = None
        if config.eval.every:
            from gankit.training.evaluation import PeriodicEvaluation

            self.evaluation = PeriodicEvaluation(config, self.stream.dataset, self.device)

    def _fixed_features(self):
        """The frozen feature map of a feature-space GMMN: the data set's own classifier (cached)."""
        if self.config.objective.features != "classifier":
            return None
        from gankit.metrics.features.classifier import load_or_train

        classifier, _ = load_or_train(self.config.data.name, self.config.data.resolution)
        return classifier.to(self.device).features

    def _lr_factor(self, step: int) -> float:
        if self.config.optim.lr_decay == "linear":
            return max(0.0, 1.0 - step / self.config.train.steps)
        return 1.0

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.train.precision == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _latent(self, n: int) -> torch.Tensor:
        return self.G.sample_latent(n, self.latent, self.device)

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples: the EMA copy when enabled."""
        return self.G_ema if self.G_ema is not None else self.G

    def train_step(self, measure: bool = False) -> dict[str, torch.Tensor]:
        """One iteration: ``n_critic`` D steps, one G step, schedules, EMA. Returns detached scalars.

        Without a discriminator (GMMN), the iteration is the G step on one real batch."""
        stats: dict[str, torch.Tensor] = {}
        if self.D is None:
            real, _ = self.stream.next()
            return self._generator_step(real, None, measure, stats)
        return self._discriminator_steps(measure, stats)

    def _discriminator_steps(self, measure: bool, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        batch = self.config.train.batch_size
        self.D.requires_grad_(True)
        d_losses = []
        n_critic = self.config.train.n_critic
        for i in range(n_critic):
            real, y_real = self.stream.next()
            y_real = y_real if self.D.num_classes else None
            with torch.no_grad(), self._autocast():
                fake = self.G(self._latent(batch))
            with self._autocast():
                loss_d, d_stats = self.objective.discriminator_loss(
                    self.D, real, fake.detach(), y_real, None, self.step, self.step * n_critic + i
                )
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if measure:
                stats["grad_norm_d"] = nn.utils.clip_grad_norm_(self.D.parameters(), float("inf"))
            self.opt_d.step()
            self.objective.after_discriminator_step(self.D)
            d_losses.append(loss_d.detach())
        self.D.requires_grad_(False)
        stats.update(d_stats)
        stats["loss_d"] = torch.stack(d_losses).mean()
        self.sched_d.step()
        return self._generator_step(real, y_real, measure, stats)

    def _generator_step(
        self, real: torch.Tensor, y_real: torch.Tensor | None, measure: bool, stats: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        with self._autocast():
            fake = self.G(self._latent(self.config.train.batch_size))
            loss_g, g_stats = self.objective.generator_loss(self.D, fake, real, None, y_real, self.step)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if measure:
            stats["grad_norm_g"] = nn.utils.clip_grad_norm_(self.G.parameters(), float("inf"))
        self.opt_g.step()
        self.sched_g.step()
        self.step += 1
        if self.G_ema is not None:
            decay = self.config.ema.decay if self.step > self.config.ema.start else 0.0
            update_ema(self.G_ema, self.G, decay)
        stats.update(g_stats)
        stats["loss_g"] = loss_g.detach()
        return stats

    def _check_finite(self, stats: dict[str, torch.Tensor]) -> None:
        names = [name for name in ("loss_d", "loss_g") if name in stats]
        if bool(torch.isfinite(torch.stack([stats[name] for name in names])).all()):
            return
        bad = next(name for name in names if not torch.isfinite(stats[name]))
        last = checkpoint_io.list_checkpoints(self.run_dir / "checkpoints")
        kept = f"last good checkpoint: {last[-1]}" if last else "no checkpoint was written yet"
        raise TrainingDiverged(
            f"{bad} is {stats[bad].item()} at step {self.step}; training stopped ({kept}); "
            "lower optim.lr_d / optim.lr_g or change objective.loss"
        )

    @contextlib.contextmanager
    def _sampler_in_eval_mode(self) -> Iterator[nn.Module]:
        """The sampler in eval mode (batch norm uses its running statistics), restored afterwards."""
        G = self.sampler
        was_training = G.training
        G.eval()
        try:
            yield G
        finally:
            G.train(was_training)

    def evaluate(self) -> dict[str, Any]:
        """Measure the sampler against the training data (``eval`` section) and log the result."""
        from gankit.training.evaluation import summary

        with self._sampler_in_eval_mode() as G:
            result = self.evaluation(G)
        self.logger.evaluation(self.step, result)
        tqdm.write(f"step {self.step}: {summary(result)}")
        return result

    @torch.no_grad()
    def save_samples(self) -> Path:
        """Write the fixed-latent sample grid (images) or scatter plot (2-D data) for the current step."""
        with self._sampler_in_eval_mode() as G:
            fake = G(self.fixed_z.to(self.device)).float().cpu()
        if self.config.data.name in TOY_DATASETS:
            reference = toy_sampler(self.config.data)(len(fake), torch.Generator().manual_seed(0))
            array = figure_to_array(scatter_figure(fake, reference, f"{self.config.name}, step {self.step}"))
        else:
            array = grid_image(fake)
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(array, path)
        self.logger.image(self.step, "samples", array)
        return path

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: networks, optimizers, schedules, RNGs, data position."""
        return {
            "format": checkpoint_io.FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            "data_shape": list(self.stream.shape),
            "G": self.G.state_dict(),
            "D": self.D.state_dict() if self.D is not None else None,
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d is not None else None,
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict() if self.sched_d is not None else None,
            "latent": self.latent.get_state(),
            "stream": self.stream.state_dict(),
            "rng": checkpoint_io.rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.G.load_state_dict(state["G"])
        if self.D is not None:
            self.D.load_state_dict(state["D"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.sched_d.load_state_dict(state["sched_d"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"] if state["G_ema"] is not None else state["G"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.latent.set_state(state["latent"])
        self.stream.load_state_dict(state["stream"])
        checkpoint_io.set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.resumed_from = self.step

    def save_checkpoint(self) -> Path:
        """Atomically write a checkpoint for the current step and keep the newest ``log.keep``."""
        folder = self.run_dir / "checkpoints"
        path = checkpoint_io.checkpoint_path(folder, self.step)
        checkpoint_io.save_atomic(self.state_dict(), path)
        checkpoint_io.prune(folder, self.config.log.keep)
        return path

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] | None = None) -> Trainer:
        """Rebuild a run from its newest checkpoint; ``overrides`` may extend it (``train.steps=...``)."""
        from gankit.config import apply_overrides

        run_dir = Path(run_dir)
        found = checkpoint_io.list_checkpoints(run_dir / "checkpoints")
        if not found:
            raise GankitError(f"{run_dir} has no checkpoints/step-*.pt to resume from; start it with gankit train")
        state = checkpoint_io.load(found[-1])
        config = apply_overrides(config_from_dict(state["config"]), overrides or [])
        trainer = cls(config, run_dir)
        trainer.load_state_dict(state)
        return trainer

    def fit(self) -> FitResult:
        """Train until ``train.steps``, logging, sampling and checkpointing on the way."""
        config, log = self.config, self.config.log
        total = config.train.steps
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        self.logger = RunLogger(self.run_dir, log.tensorboard, self.resumed_from)
        monitor = DivergenceMonitor(log.divergence_window)
        checkpoint = samples = evaluation = None
        images_per_step = config.train.batch_size * (config.train.n_critic if self.D is not None else 1)
        bar = tqdm(total=total, initial=self.step, disable=not log.progress, unit="it", dynamic_ncols=True)
        window_start, window_steps = time.perf_counter(), 0
        interrupted = False
        try:
            with _StopRequest() as stop:
                while self.step < total:
                    measure = (self.step + 1) % log.every == 0 or self.step + 1 == total
                    stats = self.train_step(measure)
                    self._check_finite(stats)
                    window_steps += 1
                    bar.update(1)
                    if measure:
                        elapsed = time.perf_counter() - window_start
                        values = {k: float(v) for k, v in stats.items()}
                        values["lr_g"] = self.opt_g.param_groups[0]["lr"]
                        if self.opt_d is not None:
                            values["lr_d"] = self.opt_d.param_groups[0]["lr"]
                        values["images_per_s"] = window_steps * images_per_step / max(elapsed, 1e-9)
                        self.logger.scalars(self.step, values)
                        for warning in monitor.update(self.step, values):
                            tqdm.write(f"gankit: warning: {warning}", file=sys.stderr)
                            self.logger.warning(self.step, warning)
                        shown = {k: f"{values[k]:.3f}" for k in ("loss_d", "loss_g") if k in values}
                        bar.set_postfix(**shown, img_s=f"{values['images_per_s']:.0f}")
                        window_start, window_steps = time.perf_counter(), 0
                    if self.step % log.sample_every == 0 or self.step == total:
                        samples = self.save_samples()
                    if self.evaluation is not None and (self.step % config.eval.every == 0 or self.step == total):
                        evaluation = self.evaluate()
                    if self.step % log.ckpt_every == 0 or self.step == total:
                        checkpoint = self.save_checkpoint()
                    if stop.requested:
                        interrupted = True
                        checkpoint = self.save_checkpoint()
                        break
        finally:
            bar.close()
            self.logger.close()
        return FitResult(self.step, checkpoint, samples, interrupted, evaluation)
