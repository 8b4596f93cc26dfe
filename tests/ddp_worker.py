"""One process of a multi-process test, started by the tests with torchrun's environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and the gloo backend, exactly as ``torchrun`` starts gankit.

    python tests/ddp_worker.py SCENARIO OUT_DIR

Each scenario writes what the test compares under OUT_DIR; run directories live under OUT_DIR/runs.
Not a test module: the tests in tests/training, tests/metrics and tests/runtime launch it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch

# Process-local variants of a scenario's training runs: (name, preset, overrides). Every run trains on the ring
# with a small MLP (no batch norm), global batch 32, 20 steps; the test repeats each in one process.
COMMON = [
    "model.width=32",
    "model.depth=2",
    "train.batch_size=32",
    "train.steps=20",
    "log.every=5",
    "log.sample_every=1000",
    "log.ckpt_every=10",
    "log.progress=false",
    "log.tensorboard=false",
    "dist.timeout_s=60",
]
EQUIVALENCE = {
    "ns": ("ring-ns", ["ema.enabled=true", "ema.half_life_images=200"]),
    "hinge-noise-accumulate": (
        "ring-ns",
        ["objective.loss=hinge", "objective.noise_std=0.1", "train.accumulate=2"],
    ),
    "wgan-gp": ("ring-wgan-gp", ["objective.gp=10", "train.n_critic=2"]),
    "r1": ("ring-r1", ["objective.r1=1"]),
    "r1-lazy": ("ring-r1", ["objective.r1=1", "objective.reg_every=4"]),
}
# MMD objectives, compared by the gradients of the first iteration's optimizer steps (2 critic steps, 1 G step).
# Their weights after 20 steps are no test: the MMD of a radial kernel does not change when every critic feature
# moves by the same amount, so the gradient of the critic's last bias is zero up to rounding, and Adam (which
# divides by the gradient's running scale) turns that rounding into steps of size lr that differ between any two
# summation orders; a few steps later a sample crosses a LeakyReLU kink in one run and not in the other.
GRADIENTS = {
    "mmdgan": ("ring-mmdgan", ["train.n_critic=2", "model.d_out=4"]),
    "smmd": ("ring-mmdgan", ["objective.loss=smmd", "objective.gp=0", "train.n_critic=2", "model.d_out=4"]),
    "gmmn": ("ring-gmmn", ["mmd.bandwidths=[0.1,0.5]"]),
}
# A model with buffers: batch norm in G (DCGAN), spectral norm in D, on 8x8 digits; its weights channels-last, so
# that DDP's gradient buckets meet NHWC parameters too.
BUFFERS = [
    "train.channels_last=true",
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "model.spectral_norm=true",
    "model.d_norm=none",
    "train.batch_size=16",
    "train.steps=4",
    "log.progress=false",
    "log.tensorboard=false",
    "log.sample_every=1000",
    "log.ckpt_every=1000",
    "ema.half_life_images=100",
    "eval.every=0",
]


# Evaluation during training: FID of 300 samples of the BUFFERS model against the digits, in pixel space (KID is
# compared through gankit.metrics.evaluate.evaluate, with fewer subsets than the 100 of evaluation in training).
EVALUATION = [*BUFFERS[:-1], "eval.every=2", "eval.n=300", "eval.metrics=[fid]", "eval.features=pixels"]


def config(preset: str, overrides: list[str]):
    from gankit.config import resolve

    return resolve(preset, overrides)


def record_gradients(trainer, iterations: int = 1) -> list[dict]:
    """The gradients every optimizer step of ``iterations`` iterations applies: (phase player, name -> tensor)."""
    steps: list[dict] = []
    for phase in trainer.phases:

        def record(optimizer, args, kwargs, phase=phase):
            grads = {n: p.grad.clone() for n, p in phase.module.named_parameters() if p.grad is not None}
            steps.append({"player": phase.spec.player, "grads": grads})

        phase.optimizer.register_step_pre_hook(record)
    for _ in range(iterations):
        trainer.train_step()
    return steps


def audit_writes(root: Path) -> list[str]:
    """Record every file opened for writing and every folder made below ``root`` by this process."""
    seen: list[str] = []
    root_text = str(root)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = any(c in str(mode or "") for c in "wax+") or (isinstance(flags, int) and flags & write_flags)
            if writing and str(path).startswith(root_text):
                seen.append(f"open {path}")
        elif event in ("os.mkdir", "os.rename", "os.remove", "shutil.rmtree") and str(args[0]).startswith(root_text):
            seen.append(f"{event} {args[0]}")

    sys.addaudithook(hook)
    return seen


def train(out: Path) -> None:
    """Every equivalence run, a 2 -> 2 resume, the all-reduce count per step, and buffers with BN and SN."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    from gankit.runtime.distributed import from_environment, shutdown
    from gankit.training.loop import Trainer

    context = from_environment("cpu", "gloo", 60)
    runs = out / "runs"
    writes = audit_writes(runs) if not context.is_main else []
    for name, (preset, extra) in EQUIVALENCE.items():
        Trainer(config(preset, [*COMMON, *extra]), runs / name, context).fit()
    for name, (preset, extra) in GRADIENTS.items():
        steps = record_gradients(Trainer(config(preset, [*COMMON, *extra]), runs / name, context))
        if context.is_main:
            torch.save(steps, out / f"gradients-{name}.pt")

    # 2 -> 2 resume: 10 steps, then resumed to 20, equals the straight "ns" run; rank 0 keeps a copy at step 10
    # for the test's 2 -> 1 resume.
    preset, extra = EQUIVALENCE["ns"]
    Trainer(config(preset, [*COMMON, *extra, "train.steps=10"]), runs / "resumed", context).fit()
    if context.is_main:
        shutil.copytree(runs / "resumed", out / "at-step-10")
    context.barrier()
    Trainer.resume(runs / "resumed", ["train.steps=20"], context).fit()

    # How often each wrapper all-reduces: 3 iterations of 2 critic steps (2 accumulation rounds each) + 1 G step.
    counts = {"G": 0, "D": 0}
    trainer = Trainer(
        config("ring-ns", [*COMMON, "train.n_critic=2", "train.accumulate=2"]), out / "count-run", context
    )
    for player, wrapper in trainer.players.wrapped.items():

        def counting(state, bucket, player=player):
            counts[player] += 1
            return allreduce_hook(state, bucket)

        wrapper.register_comm_hook(None, counting)
    for _ in range(3):
        trainer.train_step()
    (out / f"allreduce-counts-{context.rank}.json").write_text(json.dumps(counts))

    # Buffers: BN statistics in G and SN vectors in D, identical on every process after each iteration.
    trainer = Trainer(config("digits", BUFFERS), out / "buffers-run", context)
    trainer.fit()
    torch.save(trainer.state_dict(), out / f"buffers-{context.rank}.pt")

    if not context.is_main:
        (out / "rank1-writes.json").write_text(json.dumps(writes))
    shutdown(context)


def errors(out: Path) -> None:
    """Failures that must stop every process at once with the same one-line error, after which the processes
    still talk to each other (no collective was left half-joined)."""
    from gankit.errors import GankitError
    from gankit.runtime.distributed import from_environment, shutdown
    from gankit.training.loop import Trainer

    context = from_environment("cpu", "gloo", 30)
    seen: dict[str, object] = {}
    try:  # a global batch the processes cannot share
        Trainer(config("ring-ns", [*COMMON, "train.batch_size=33"]), out / "runs" / "odd", context)
    except GankitError as exc:
        seen["batch"] = str(exc)
    cfg = config("ring-ns", COMMON)
    if context.rank == 1:  # only rank 1 fails to build its data stream
        cfg.data.name = "no-such-data"
    try:
        Trainer(cfg, out / "runs" / "one-rank", context)
    except GankitError as exc:
        seen["one_rank"] = str(exc)
    (out / "a-file").write_text("")
    try:  # rank 0 cannot make the run directory: every process gets its error
        context.run_on_main(lambda: (out / "a-file" / "run").mkdir(parents=True))
    except (GankitError, OSError) as exc:
        seen["main_write"] = f"{exc.__class__.__name__}: {exc}"
    seen["still_talking"] = float(context.all_reduce_mean(torch.tensor([float(context.rank)])))

    # collectives with gradients: every process's loss is sum_i w_i * gathered_i (the same on every process)
    x = torch.arange(3.0).add(10 * context.rank).requires_grad_(True)
    weights = torch.arange(1.0, 7.0)
    (weights * context.gather_rows(x)).sum().backward()
    seen["gathered_grad"] = x.grad.tolist()
    y = torch.tensor(float(context.rank + 1), requires_grad=True)
    mean = context.mean_over_processes(y * y)  # (1 + 4) / 2 on both; d/dy_r = 2 * 2 * y_r / 2 summed over 2 losses
    mean.backward()
    seen["mean"], seen["mean_grad"] = float(mean), float(y.grad)
    seen["uneven"] = context.all_gather_cat(torch.arange(context.rank + 1.0)).tolist()
    seen["broadcast"] = context.broadcast_object({"from": context.rank})
    from gankit.runtime.environment import check_collectives

    seen["env"] = check_collectives(context, megabytes=1, repeats=1)
    (out / f"errors-{context.rank}.json").write_text(json.dumps(seen))
    shutdown(context)


def metrics(out: Path) -> None:
    """Distributed feature extraction and evaluation, saved for comparison with one process."""
    from gankit.config import resolve
    from gankit.metrics.evaluate import EvalOptions, cached_features, evaluate
    from gankit.metrics.features.extractors import build_extractor
    from gankit.runtime.distributed import from_environment, shutdown
    from gankit.training.loop import Trainer

    context = from_environment("cpu", "gloo", 60)
    images = torch.load(out / "images.pt", weights_only=True)
    extractor = build_extractor("pixels", tuple(images["real"].shape[1:]))
    options = EvalOptions(metrics=("fid", "kid"), kid_subsets=10, kid_subset_size=50, fid_bootstrap=0)
    result = evaluate(extractor, images["real"], images["fake"], options, 64, False, False, context)
    features = cached_features(extractor, images["real"], 64, False, True, context)  # cache written by rank 0
    again = cached_features(extractor, images["real"], 64, False, True, context)  # read by rank 0, broadcast
    # evaluation during training: the trainer's EMA generator against its training data
    trainer = Trainer(resolve("digits", EVALUATION), out / "runs" / "eval", context)
    trainer.fit()
    training = trainer.evaluate()
    saved = {"result": json.dumps(result), "features": features.features, "again": again.features}
    saved["training"] = json.dumps({k: v for k, v in training.items() if k != "settings"})
    torch.save(saved, out / f"metrics-{context.rank}.pt")
    if context.is_main:
        torch.save(trainer.state_dict(), out / "eval-trainer.pt")
    shutdown(context)


if __name__ == "__main__":
    scenario, folder = sys.argv[1], Path(sys.argv[2])
    {"train": train, "errors": errors, "metrics": metrics}[scenario](folder)
    # leave as the gankit command does (os._exit under torchrun): the metrics scenario's rank 0 once aborted in
    # Python's teardown with -6 after writing every file
    from gankit.runtime.distributed import exit_process

    exit_process(0)
