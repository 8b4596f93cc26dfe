"""The training loop: alternating gradient descent on D and G (Goodfellow et al., NeurIPS 2014, Alg. 1),
scheduled as phases.

The loop knows no loss. The objective (see :mod:`gankit.objectives.base`) lists its phases (D with
``n_critic`` repeats, lazy regularisers every k iterations, G) and owns their forward passes; the loop
draws each phase's batch, runs ``train.accumulate`` rounds of forward and backward through the
objective, steps the phase's optimizer, then steps the schedules and the EMA generator.

Random streams: every random draw of iteration ``t`` (the real batch, latents, fake labels, draws inside
the objective, and torch's global generator that modules such as dropout or noise inputs use) comes from a
generator the trainer seeds from (``train.seed``, the stream's name, ``t``) at the start of the iteration
(:mod:`gankit.runtime.seeds`). Nothing random carries over from one iteration to the next, so a resumed run
is bit-identical to a straight one, whatever the objective, and evaluation or sample grids (which use
their own seeds) cannot change the training trajectory.

A run directory receives ``config.yaml``, ``checkpoints/``, ``samples/`` (grids from one fixed latent
batch, so successive grids show training progress; one row per class for conditional models),
``metrics.jsonl`` and ``tb/``; only the main process writes.

Several processes (``torchrun``): G and D run under DistributedDataParallel with the rules of
:mod:`gankit.training.ddp`; ``train.batch_size`` is the global batch, each process takes its rows of every
global batch, latents and objective draws (:mod:`gankit.runtime.seeds`), so N processes compute what one
process with the same global batch computes, up to the order of floating-point sums. The statistics of each
iteration are averaged over processes, so every process takes the same decisions (divergence, stop request);
rank 0 alone chooses the checkpoint to resume and writes files. A checkpoint records the global batches
consumed, which resumes on any number of processes.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from tqdm.auto import tqdm

from gankit.config import Config, config_from_checkpoint, validate
from gankit.data import TOY_DATASETS, build_stream, toy_sampler
from gankit.errors import GankitError, TrainingDiverged
from gankit.imaging import figure_to_array, grid_image, save_image, scatter_figure
from gankit.models import build_discriminator, build_generator
from gankit.objectives import Batch, StepContext, StepRandom, build_objective
from gankit.runtime import checkpoint as checkpoint_io
from gankit.runtime import seeds
from gankit.runtime.distributed import DistributedContext, PeerLost, is_lost_peer, short_reason, single_process
from gankit.sampling import class_sorted_labels, sample_labels
from gankit.training.ddp import Players, convert_sync_batchnorm
from gankit.training.ema import update_ema
from gankit.training.logging import RunLogger
from gankit.training.monitor import DivergenceMonitor
from gankit.training.phases import Phase, RunningStats, player_optimizer, real_images_per_iteration


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
    notes: list[str] = field(default_factory=list)


class IterationStreams:
    """The random generators of one iteration, seeded from (seed, stream, iteration): see the module docstring."""

    def __init__(self, seed: int, device: torch.device, rank: int) -> None:
        self.seed, self.rank = seed, rank
        self.latent = torch.Generator()
        self.labels = torch.Generator()
        self.objective = torch.Generator(device=device)

    def start(self, iteration: int) -> None:
        """Seed every stream for ``iteration``; torch's global generator gets a per-process seed."""
        for generator, name in ((self.latent, seeds.LATENT), (self.labels, seeds.LABELS)):
            generator.manual_seed(seeds.derive_seed(self.seed, f"{name}/{iteration}"))
        self.objective.manual_seed(seeds.derive_seed(self.seed, f"{seeds.OBJECTIVE}/{iteration}"))
        # what torch.manual_seed does for the CPU and CUDA generators, without its queue of lazy seeding calls for
        # uninitialised backends (each records a stack trace: about 80 us per call here, against 1 us)
        module_seed = seeds.derive_seed(self.seed, f"{seeds.MODULES}/{iteration}", self.rank)
        torch.default_generator.manual_seed(module_seed)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(module_seed)


class Trainer:
    """Owns the networks, optimizers, schedules, random streams and data stream of one run."""

    def __init__(self, config: Config, run_dir: str | Path, context: DistributedContext | None = None) -> None:
        self.context = context or single_process(config.train.device)
        with self.context.agreement():  # every process built its part, or all stop here
            self._build(config, run_dir)
        self.players = Players(self.G, self.D, self.context)
        if self._evaluation is not None:
            self._evaluation.prepare()

    def _build(self, config: Config, run_dir: str | Path) -> None:
        """Everything of :meth:`__init__` that each process does on its own (no collectives)."""
        validate(config)
        self.config = config
        self.run_dir = Path(run_dir)
        self.device = self.context.device
        if config.train.precision == "bf16" and self.device.type != "cuda":
            raise GankitError("train.precision=bf16 needs a CUDA device; use train.precision=fp32 on the CPU")
        seed, rank, world = config.train.seed, self.context.rank, self.context.world_size
        self.stream = build_stream(config.data, config.train.batch_size, seed, self.device, rank, world)
        self.local_batch = config.train.batch_size // world
        if self.local_batch % config.train.accumulate:
            raise GankitError(
                f"the per-process batch {self.local_batch} is not divisible by train.accumulate="
                f"{config.train.accumulate}; change train.batch_size or train.accumulate"
            )
        self.num_classes = self.stream.num_classes if config.data.conditional else 0
        self.objective = build_objective(config, self._fixed_features())
        torch.manual_seed(seeds.derive_seed(seed, seeds.INIT))  # the same initial networks on every process
        self.G = build_generator(config, self.stream.shape, self.num_classes).to(self.device)
        self.D = (
            build_discriminator(config, self.stream.shape, self.num_classes).to(self.device)
            if self.objective.uses_discriminator
            else None
        )
        if config.train.channels_last:
            if len(self.stream.shape) != 3:
                raise GankitError(
                    f"train.channels_last is a memory order for images; this data set has shape {self.stream.shape}"
                    ": set train.channels_last=false"
                )
            for network in (self.G, self.D):
                if network is not None:
                    network.to(memory_format=torch.channels_last)
        if config.train.sync_bn:
            self.G = convert_sync_batchnorm(self.G, self.context)
            self.D = None if self.D is None else convert_sync_batchnorm(self.D, self.context)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if config.ema.enabled else None
        specs = self.objective.phases(config.train.n_critic)
        modules = {"G": self.G, "D": self.D}
        self.optimizers = {p: player_optimizer(config.optim, p, modules[p], specs) for p in {s.player for s in specs}}
        self.schedulers = {
            p: torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor) for p, opt in self.optimizers.items()
        }
        self.phases = [Phase(spec, modules[spec.player], self.optimizers[spec.player]) for spec in specs]
        self.streams = IterationStreams(seed, self.device, rank)
        self.fixed_z, self.fixed_y = self._fixed_latents()
        self.step = 0
        self.resumed_from: int | None = None
        self.resume_notes: list[str] = []
        self._evaluation = None
        self.logger: RunLogger | None = None
        if config.eval.every:
            self.evaluation  # noqa: B018 -- build now, so that a bad eval section fails before training

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        """G's optimizer."""
        return self.optimizers["G"]

    @property
    def opt_d(self) -> torch.optim.Optimizer | None:
        """D's optimizer (None without a discriminator)."""
        return self.optimizers.get("D")

    def _fixed_features(self):
        """The frozen feature map of a feature-space GMMN: the data set's own classifier (cached)."""
        if self.config.mmd.features != "classifier":
            return None
        from gankit.metrics.features.classifier import load_or_train

        classifier, _ = load_or_train(self.config.data.name, self.config.data.resolution)
        return classifier.to(self.device).features

    def _fixed_latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The latents (and class-sorted labels) of the sample grids, from their own seed."""
        n = self.config.log.n_samples
        labels = class_sorted_labels(self.num_classes, n) if self.num_classes else None
        if labels is not None:
            n = len(labels)
        z = self.G.sample_latent(n, seeds.generator(self.config.train.seed, seeds.FIXED_LATENT))
        return z, labels

    def _lr_factor(self, step: int) -> float:
        if self.config.optim.lr_decay == "linear":
            return max(0.0, 1.0 - step / self.config.train.steps)
        return 1.0

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.train.precision == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples: the EMA copy when enabled."""
        return self.G_ema if self.G_ema is not None else self.G

    def _latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's rows of a fresh global batch of latents and fake labels."""
        rows = self.stream.rows
        size = self.config.train.batch_size
        z = self.G.sample_latent(size, self.streams.latent)[rows].to(self.device)
        y = None
        if self.num_classes:
            y = sample_labels(self.stream.class_frequencies, size, self.streams.labels)[rows].to(self.device)
        return z, y

    def _batch(self, draws: str, previous: Batch | None) -> Batch:
        """The batch of a phase: fresh data and latents (``all``), fresh latents only, or the previous batch."""
        if previous is not None and draws == "none":
            return previous
        z, y_fake = self._latents()
        if previous is not None and draws == "latents":
            return previous.with_latents(z, y_fake)
        real, y_real = self.stream.next()
        if self.config.train.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        y_real = y_real if self.num_classes else None
        return Batch(real, y_real, z, y_fake, offset=self.context.rank * self.local_batch)

    def train_step(self, measure: bool = False) -> dict[str, torch.Tensor]:
        """One iteration: every phase due now, then the schedules and the EMA. Returns detached means of the
        statistics over all rounds and repeats (``grad_norm_*`` of the last step of a phase when ``measure``)."""
        self.streams.start(self.step)
        stats = RunningStats()
        batch: Batch | None = None
        for phase in self.phases:
            if not phase.due(self.step):
                continue
            for _ in range(phase.spec.repeats):
                batch = self._batch(phase.spec.draws, batch)
                self._optimizer_step(phase, batch, stats, measure)
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.step += 1
        self.players.sync_buffers()
        if self.G_ema is not None:
            ema = self.config.ema
            decay = ema.decay(self.config.train.batch_size) if self.step > ema.start else 0.0
            update_ema(self.G_ema, self.G, decay)
        return stats.means()

    def _optimizer_step(self, phase: Phase, batch: Batch, stats: RunningStats, measure: bool) -> None:
        """Accumulate ``phase``'s gradients over ``train.accumulate`` rounds of ``batch``, then step."""
        for module in (self.G, self.D):
            if module is not None:
                module.requires_grad_(module is phase.module)
        phase.optimizer.zero_grad(set_to_none=True)
        rounds = self.config.train.accumulate
        random = StepRandom(self.streams.objective, self.config.train.batch_size)
        player = phase.spec.player
        G, D = self.players.for_phase(player)
        reach = self.players.reach(player)
        for i, part in enumerate(batch.split(rounds)):
            random.start_round(part.offset, len(part))
            ctx = StepContext(self.step, phase.spec.interval / rounds, random, self._autocast, self.context, reach)
            with self.players.round(player, last=i == rounds - 1):
                stats.add(self.objective.accumulate(phase.spec.name, G, D, part, ctx))
        if reach is not None:
            reach.release()
        if measure and phase.spec.interval == 1:
            norm = nn.utils.clip_grad_norm_(phase.module.parameters(), float("inf"))
            stats.set(f"grad_norm_{phase.spec.player.lower()}", norm)
        phase.optimizer.step()
        self.objective.after_step(phase.spec.name, self.G, self.D)

    def _agree(self, stats: dict[str, torch.Tensor], stop: bool) -> tuple[dict[str, torch.Tensor], bool]:
        """The iteration's statistics averaged over processes, and whether any process was asked to stop: one
        all-reduce, so every process takes the same divergence and stop decisions."""
        if not self.context.distributed:
            return stats, stop
        keys = sorted(stats)
        device = stats[keys[0]].device if keys else self.device
        flat = torch.stack([*(stats[k].float() for k in keys), torch.tensor(float(stop), device=device)])
        flat = self.context.all_reduce_mean(flat)
        return {k: flat[i] for i, k in enumerate(keys)}, bool(flat[-1] > 0)

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

    def _logger(self) -> RunLogger | None:
        """The run's logger (main process only), opened on first use."""
        if self.logger is None and self.context.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.logger = RunLogger(self.run_dir, self.config.log.tensorboard, self.resumed_from)
        return self.logger

    @property
    def evaluation(self):
        """The periodic evaluation of the ``eval`` section, built (feature network loaded) on first use: at
        construction when ``eval.every`` > 0, never for a run (or a benchmark) with evaluation off."""
        if self._evaluation is None:
            from gankit.training.evaluation import PeriodicEvaluation

            frequencies = self.stream.class_frequencies if self.num_classes else None
            self._evaluation = PeriodicEvaluation(
                self.config, self.stream.dataset, self.device, frequencies, self.context
            )
        return self._evaluation

    def evaluate(self) -> dict[str, Any]:
        """Measure the sampler against the training data (``eval`` section) and log the result."""
        from gankit.training.evaluation import summary

        with self._sampler_in_eval_mode() as G:
            result = self.evaluation(G)
        logger = self._logger()
        if logger is not None:
            logger.evaluation(self.step, result)
            tqdm.write(f"step {self.step}: {summary(result)}")
        return result

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        """Write the fixed-latent sample grid (images; one row per class when conditional) or scatter plot (2-D
        data) for the current step; the main process writes, the others return None."""
        if not self.context.is_main:
            return None
        labels = None if self.fixed_y is None else self.fixed_y.to(self.device)
        with self._sampler_in_eval_mode() as G:
            fake = G(self.fixed_z.to(self.device), labels).float().cpu()
        if self.config.data.name in TOY_DATASETS:
            reference = toy_sampler(self.config.data)(len(fake), torch.Generator().manual_seed(0))
            array = figure_to_array(scatter_figure(fake, reference, f"{self.config.name}, step {self.step}"))
        else:
            array = grid_image(fake, len(fake) // self.num_classes if self.num_classes else None)
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(array, path)
        self._logger().image(self.step, "samples", array)
        return path

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: networks, optimizers, schedules, objective state, data
        position. The random streams need no state: each iteration seeds them from its own number."""
        return {
            "format": checkpoint_io.FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            "data_shape": list(self.stream.shape),
            "num_classes": self.num_classes,
            "class_frequencies": self.stream.class_frequencies if self.num_classes else None,
            "G": self.G.state_dict(),
            "D": self.D.state_dict() if self.D is not None else None,
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "optimizers": {p: opt.state_dict() for p, opt in self.optimizers.items()},
            "schedulers": {p: s.state_dict() for p, s in self.schedulers.items()},
            "objective": self.objective.state_dict(),
            "stream": self.stream.state_dict(),
            "world_size": self.context.world_size,
            "seed_scheme": "gankit-seeds-v1: sha256(seed/stream/iteration)",
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        if "optimizers" not in state:
            raise GankitError(
                "this checkpoint was written by an earlier gankit (format v1): sampling and evaluating it work, "
                "but resuming needs a checkpoint of this version; start a new run"
            )
        if int(state.get("num_classes", 0)) != self.num_classes:
            raise GankitError(
                f"the checkpoint was trained with {state.get('num_classes', 0)} classes, this run has "
                f"{self.num_classes}; resume with the data set and data.conditional of the checkpoint"
            )
        self.G.load_state_dict(state["G"])
        if self.D is not None:
            self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"] if state["G_ema"] is not None else state["G"])
        for player, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][player])
            self.schedulers[player].load_state_dict(state["schedulers"][player])
        self.objective.load_state_dict(state["objective"])
        self.stream.load_state_dict(state["stream"])
        self.step = int(state["step"])
        self.resumed_from = self.step
        written_by, world = int(state.get("world_size", 1)), self.context.world_size
        if written_by != world:
            local = self.config.train.batch_size // world
            self.resume_notes.append(
                f"the checkpoint was written by {written_by} process(es), this run has {world}: data position "
                f"{self.stream.consumed} global batches of {self.config.train.batch_size} consumed, each process "
                f"now takes {local} rows of every global batch"
            )

    def save_checkpoint(self) -> Path:
        """Atomically write a checkpoint for the current step and keep the newest ``log.keep``: rank 0 writes,
        the other processes wait for it and receive its path (or its error)."""

        def write() -> Path:
            folder = self.run_dir / "checkpoints"
            path = checkpoint_io.checkpoint_path(folder, self.step)
            checkpoint_io.save_atomic(self.state_dict(), path)
            checkpoint_io.prune(folder, self.config.log.keep)
            return path

        return self.context.run_on_main(write)

    @classmethod
    def resume(
        cls, source: str | Path, overrides: list[str] | None = None, context: DistributedContext | None = None
    ) -> Trainer:
        """Rebuild a run from its newest readable checkpoint (or the checkpoint file ``source``); ``overrides``
        may extend it (``train.steps=...``). Damaged newer checkpoints are moved aside and named in
        :attr:`resume_notes`."""
        from gankit.config import apply_overrides

        world = context or DistributedContext()  # one process: run_on_main and agreement just run the code
        kept: dict[str, checkpoint_io.Found] = {}

        def choose() -> tuple[Path, list[str]]:  # rank 0 alone moves damaged checkpoints aside
            kept["found"] = checkpoint_io.newest_readable(source)
            return kept["found"].path, kept["found"].skipped

        path, skipped = world.run_on_main(choose)
        with world.agreement():
            state = kept["found"].state if "found" in kept else checkpoint_io.load(path)
            config = apply_overrides(config_from_checkpoint(state), overrides or [])
        trainer = cls(config, checkpoint_io.run_directory(path), context)
        with world.agreement():
            trainer.load_state_dict(state)
        trainer.resume_notes = [*skipped, f"resuming from {path} (step {trainer.step})", *trainer.resume_notes]
        return trainer

    def fit(self) -> FitResult:
        """Train until ``train.steps``, logging, sampling, evaluating and checkpointing on the way."""
        config, log = self.config, self.config.log
        total = config.train.steps
        main = self.context.is_main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        logger = self._logger()
        monitor = DivergenceMonitor(log.divergence_window)
        checkpoint = samples = evaluation = None
        images_per_step = real_images_per_iteration([p.spec for p in self.phases], config.train.batch_size)
        bar = tqdm(total=total, initial=self.step, disable=not (log.progress and main), unit="it", dynamic_ncols=True)
        window_start, window_steps = time.perf_counter(), 0
        interrupted = False
        try:
            with _StopRequest() as stop:
                while self.step < total:
                    measure = (self.step + 1) % log.every == 0 or self.step + 1 == total
                    stats, stop_requested = self._agree(self.train_step(measure), stop.requested)
                    self._check_finite(stats)
                    window_steps += 1
                    bar.update(1)
                    if measure and logger is not None:
                        elapsed = time.perf_counter() - window_start
                        values = {k: float(v) for k, v in stats.items()}
                        values["lr_g"] = self.opt_g.param_groups[0]["lr"]
                        if self.opt_d is not None:
                            values["lr_d"] = self.opt_d.param_groups[0]["lr"]
                        values["images_per_s"] = window_steps * images_per_step / max(elapsed, 1e-9)
                        logger.scalars(self.step, values)
                        for warning in monitor.update(self.step, values):
                            tqdm.write(f"gankit: warning: {warning}", file=sys.stderr)
                            logger.warning(self.step, warning)
                        shown = {k: f"{values[k]:.3f}" for k in ("loss_d", "loss_g") if k in values}
                        bar.set_postfix(**shown, img_s=f"{values['images_per_s']:.0f}")
                        window_start, window_steps = time.perf_counter(), 0
                    if self.step % log.sample_every == 0 or self.step == total:
                        samples = self.save_samples()
                    if config.eval.every and (self.step % config.eval.every == 0 or self.step == total):
                        evaluation = self.evaluate()
                    if self.step % log.ckpt_every == 0 or self.step == total:
                        checkpoint = self.save_checkpoint()
                    if stop_requested:
                        interrupted = True
                        checkpoint = self.save_checkpoint()
                        break
        except Exception as exc:
            if not (self.context.distributed and is_lost_peer(exc)):
                raise
            last = checkpoint_io.list_checkpoints(self.run_dir / "checkpoints")
            kept = f"the last checkpoint is {last[-1]}; " if last else ""
            raise PeerLost(
                f"rank {self.context.rank}: lost contact with another process at step {self.step} "
                f"({short_reason(exc)}); {kept}continue with: gankit train --resume {self.run_dir}"
            ) from exc
        finally:
            bar.close()
            if self.logger is not None:
                self.logger.close()
                self.logger = None
        return FitResult(self.step, checkpoint, samples, interrupted, evaluation, self.resume_notes)
