"""Throughput and peak memory of one full training iteration (n_critic D steps + one G step).

Three tables, every number measured in this run, each measurement in its own process so that its
peak resident memory is its own:

1. gankit's loop against a minimal hand-written PyTorch loop driving the same networks and
   optimizers, for the DCGAN-32, the SNGAN-32 (ResNet, spectral norm, hinge, n_dis 5) and the
   WGAN-GP-32 (ResNet, gradient penalty 10, n_critic 5); where torch-mimicry is installed, its SNGAN-32
   and WGAN-GP-32 ``train_step``s on the same batch size. Ratios are times relative to gankit.
2. Achieved GFLOP/s (FLOPs of one iteration counted by ``torch.utils.flop_counter``) as a fraction
   of a large fp32 matmul measured in the same run.
3. The cost of each regulariser as a ratio to the plain iteration, on the DCGAN-32 without batch norm.

The StyleGAN2-32 row (``stylegan32``: the ``mnist-stylegan`` preset's generator, optimizers and regularisers at
its batch 32, whatever ``--batch`` says, with StyleGAN2's own discriminator instead of the preset's DCGAN one)
compares gankit with a minimal loop doing the same work: D (non-saturating loss, style mixing), lazy R1 every 16
iterations, G (style mixing), lazy path length (StyleGAN2 eq. 4) every 4.
A setup whose phases run every k iterations is warmed up with one iteration, then measured over whole periods
(the least common multiple of its phase intervals: 16 for StyleGAN2), FLOPs and time alike, so that each
measurement holds every lazy phase equally often; the numbers are per-iteration means over those periods.

    python benchmarks/train_step.py [--iters 3] [--batch 64] [--only dcgan32,sngan32,stylegan32,...] [--device cpu]
                                    [--rounds R]

The ResNet setups train channels-last (``train.channels_last=true``, as ``cifar10-sngan`` and ``cifar10-wgan-gp``
do); their row
``gankit-nchw`` is the same setup in the default memory order, and torch-mimicry runs as it ships (NCHW).

``--rounds R`` measures the loops R times in alternation, each round starting with the next loop, and reports the
overhead of every round and the rows of the round of median overhead: on a shared machine the slow spells then fall
on all the loops.

``--device cuda`` runs every measurement on the GPU (peak memory is then torch's CUDA peak); the StyleGAN2 row
then trains in gankit's mixed precision (``train.precision=bf16``, autocast over the whole forward, as the minimal
loop does) and channels-last (``train.channels_last=true``; the minimal loop gets the batch in the same order).

torch-mimicry's package ``__init__`` imports TensorFlow; install it with ``pip install --no-deps
torch-mimicry`` and this script loads only its network modules, without running that ``__init__``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

DCGAN = ["model.arch=dcgan", "model.width=64", "model.z_dim=100", "objective.loss=ns", "train.n_critic=1"]
CHANNELS_LAST = "train.channels_last=true"
# channels-last weights and batches, as the CIFAR-10 presets (cifar10-sngan, cifar10-wgan-gp) train
RESNET = ["model.arch=resnet", "model.d_width=128", "model.z_dim=128", "train.n_critic=5", CHANNELS_LAST]
SETUPS = {
    "dcgan32": DCGAN,
    "sngan32": [*RESNET, "model.width=256", "model.spectral_norm=true", "objective.loss=hinge"],
    "wgan-gp32": [*RESNET, "model.width=128", "objective.loss=wasserstein", "objective.gp=10"],
    "stylegan32": ["model.d_arch=stylegan2", "optim.lr_d=0.0025"],  # StyleGAN2's own D, not the preset's DCGAN D
}
# setups that resolve a preset other than "digits": (preset, fixed batch, images' channels in the synthetic data)
PRESETS = {"stylegan32": ("mnist-stylegan", 32, 1)}
# BigGAN-32 (CIFAR size): a plain conditional iteration (per-class conditional BN, projection D, no other trick),
# then each trick switched on alone, and all of them together.
BIGGAN = [
    "model.arch=biggan",
    "data.conditional=true",
    "model.z_dim=128",
    "model.width=64",
    "model.d_width=64",
    "objective.loss=hinge",
    "train.n_critic=1",
]
BIGGAN_PLAIN = ["biggan.shared_dim=0", "biggan.hierarchical=false"]
BIGGAN_TRICKS = {
    "plain": BIGGAN_PLAIN,
    "shared+skip-z": [],
    "attention16": [*BIGGAN_PLAIN, "biggan.g_attention=16", "biggan.d_attention=16"],
    "spectral-norm": [*BIGGAN_PLAIN, "model.spectral_norm=true", "model.g_spectral_norm=true"],
    "ortho1e-4": [*BIGGAN_PLAIN, "objective.ortho=0.0001"],
    "all": [
        "biggan.g_attention=16",
        "biggan.d_attention=16",
        "model.spectral_norm=true",
        "model.g_spectral_norm=true",
        "objective.ortho=0.0001",
    ],
}
MIMICRY = {"sngan32": ("sngan.sngan_32", "SNGAN"), "wgan-gp32": ("wgan_gp.wgan_gp_32", "WGANGP")}
REGULARIZERS = {
    "plain": [],
    "gp": ["objective.gp=10"],
    "r1": ["objective.r1=10"],
    "r1-lazy16": ["objective.r1=10", "objective.reg_every=16"],
    "r2": ["objective.r2=10"],
    "noise": ["objective.noise_std=0.1"],
    "clip": ["objective.clip=0.01"],
    "spectral-norm": ["model.spectral_norm=true"],
}


def make_config(overrides: list[str], data: Path, batch: int, device: str = "cpu", preset: str = "digits"):
    """``preset`` with ``overrides``, on the synthetic ``data`` at 32x32 and ``batch``; the digits setups take
    Adam(beta1 0, beta2 0.9), any other preset keeps its own optimizer."""
    from gankit.config import resolve

    fixed = [f"data.path={data}", "data.name=npz", "data.resolution=32", f"train.batch_size={batch}"]
    fixed.append(f"train.device={device}")
    # evaluation off: a trainer used for timing loads no feature network
    quiet = ["train.steps=1000000", "ema.enabled=false", "log.progress=false", "log.tensorboard=false", "eval.every=0"]
    optim = ["optim.beta1=0.0", "optim.beta2=0.9"] if preset == "digits" else []
    return resolve(preset, [*overrides, *fixed, *quiet, *optim])


def minimal_step(trainer, real: torch.Tensor):
    """The same networks and optimizers as ``trainer``, driven by the shortest correct loop."""
    G, D, opt_g, opt_d = trainer.G, trainer.D, trainer.opt_g, trainer.opt_d
    cfg = trainer.config
    n_critic, batch, loss_name, gp = cfg.train.n_critic, len(real), cfg.objective.loss, cfg.objective.gp
    device = real.device

    def d_loss(lr, lf):
        if loss_name == "hinge":
            return F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
        if loss_name == "wasserstein":
            return lf.mean() - lr.mean()
        return F.softplus(-lr).mean() + F.softplus(lf).mean()

    def step():
        for _ in range(n_critic):
            with torch.no_grad():
                fake = G(torch.randn(batch, G.z_dim, device=device))
            loss = d_loss(D(real), D(fake))
            if gp:
                eps = torch.rand(batch, 1, 1, 1, device=device)
                x = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                loss = loss + gp * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        D.requires_grad_(False)
        lf = D(G(torch.randn(batch, G.z_dim, device=device)))
        loss = F.softplus(-lf).mean() if loss_name == "ns" else -lf.mean()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        D.requires_grad_(True)

    return step


def minimal_stylegan_step(trainer, real: torch.Tensor):
    """StyleGAN2 (Karras et al. 2020) with ``trainer``'s networks and optimizers, driven by the shortest correct
    loop: D with the non-saturating loss on style-mixed fakes (StyleGAN Sec. 3.1), lazy R1 every ``reg_every``
    iterations scaled by the interval (StyleGAN2 Sec. 3.1), G on style-mixed fakes, lazy path length every
    ``pl_every`` iterations (StyleGAN2 Sec. 3.2, eq. 4, running mean ``a``) on style-mixed fakes (as in
    StyleGAN2-ADA) of the batch shrunk by ``pl_batch_shrink``. The optimizers are the trainer's, already
    lazily scaled (StyleGAN2 Appendix B)."""
    G, D, opt_g, opt_d = trainer.G, trainer.D, trainer.opt_g, trainer.opt_d
    cfg, sg = trainer.config, trainer.config.stylegan
    batch, device, gamma, r1_every = len(real), real.device, cfg.objective.r1, cfg.objective.reg_every
    bf16 = cfg.train.precision == "bf16"
    state = {"iteration": 0, "pl_mean": torch.zeros((), device=device)}

    def autocast():
        return torch.autocast("cuda", torch.bfloat16) if bf16 else contextlib.nullcontext()

    def generate(n: int, mix: bool):
        z = torch.randn(n, G.z_dim, device=device)
        ws = G.mapping(z, update_w_avg=True)
        if mix and float(torch.rand(())) < sg.mixing_prob:
            cut = int(torch.randint(1, G.num_ws, ()))
            ws = torch.cat([ws[:, :cut], G.mapping(torch.randn_like(z))[:, cut:]], dim=1)
        return G.synthesis(ws).float(), ws

    def update(optimizer, loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def step():
        i = state["iteration"]
        with torch.no_grad(), autocast():
            fake = generate(batch, sg.mixing_prob > 0)[0]
        with autocast():
            loss = F.softplus(-D(real).float()).mean() + F.softplus(D(fake).float()).mean()
        update(opt_d, loss)
        if gamma > 0 and i % r1_every == 0:
            x = real.detach().requires_grad_(True)
            with autocast():
                (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
            update(opt_d, grad.square().sum(dim=(1, 2, 3)).mean() * (gamma / 2 * r1_every))
        D.requires_grad_(False)
        with autocast():
            loss = F.softplus(-D(generate(batch, sg.mixing_prob > 0)[0]).float()).mean()
        update(opt_g, loss)
        if sg.pl_weight > 0 and i % sg.pl_every == 0:
            with autocast():
                images, ws = generate(max(1, batch // sg.pl_batch_shrink), sg.mixing_prob > 0)
            y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
            (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
            lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
            state["pl_mean"] = state["pl_mean"].lerp(lengths.detach().mean(), sg.pl_decay)
            update(opt_g, (lengths - state["pl_mean"]).square().mean() * (sg.pl_weight * sg.pl_every))
        D.requires_grad_(True)
        state["iteration"] += 1

    return step


def load_mimicry(module: str):
    """torch-mimicry's network module, imported without running its package ``__init__`` (TensorFlow)."""
    spec = importlib.util.find_spec("torch_mimicry")
    if spec is None:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (
        ("torch_mimicry", root),
        ("torch_mimicry.nets", root / "nets"),
        ("torch_mimicry.training", root / "training"),
    ):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules.setdefault(name, package)
    return importlib.import_module(f"torch_mimicry.nets.{module}"), importlib.import_module(
        "torch_mimicry.training.metric_log"
    )


def mimicry_step(setup: str, real: torch.Tensor):
    """torch-mimicry's own D and G ``train_step``s, n_dis D steps per G step as its Trainer does."""
    nets, metric_log = load_mimicry(MIMICRY[setup][0])
    prefix = MIMICRY[setup][1]
    G = getattr(nets, f"{prefix}Generator32")()
    D = getattr(nets, f"{prefix}Discriminator32")()
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.9))
    device = real.device
    G, D = G.to(device), D.to(device)
    batch = (real, torch.zeros(len(real), dtype=torch.long, device=device))

    def step():
        log = metric_log.MetricLog()
        for _ in range(5):
            D.train_step(batch, G, opt_d, log, device=device, global_step=0)
        G.train_step(batch, D, opt_g, log, device=device, global_step=0)

    return step, 5


class FlopCount(TorchDispatchMode):
    """Sums torch's own FLOP formulas (``torch.utils.flop_counter``) over every op that runs.

    ``FlopCounterMode`` also tracks modules with backward hooks, which double backward (the gradient
    penalty's ``create_graph=True``) does not support; this counts the same FLOPs without the tracking.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so that wall-clock times are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def child(setup: str, mode: str, iters: int, batch: int, device: str = "cpu") -> dict:
    """One measurement in this process: warm-up, FLOPs over one period, then at least ``iters`` timed iterations,
    rounded up to whole periods (the least common multiple of the phase intervals, 1 without lazy phases)."""
    from gankit.training.loop import Trainer

    preset, channels = "digits", 3
    if setup.startswith("biggan32:"):
        overrides = [*BIGGAN, *BIGGAN_TRICKS[setup.split(":")[1]]]
    elif setup in PRESETS:
        preset, batch, channels = PRESETS[setup]
        # on a GPU, gankit's mixed precision (its only one: bf16 autocast) and channels-last, as StyleGAN2-ADA's
        # GPU configurations train; fp32 and the default memory order on the CPU
        gpu = ["train.precision=bf16", CHANNELS_LAST] if device.startswith("cuda") else []
        overrides = [*SETUPS[setup], *gpu]
    else:
        overrides = SETUPS.get(setup) or [*DCGAN, "model.d_norm=none", *REGULARIZERS[setup.split(":")[1]]]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        rng = np.random.default_rng(0)
        shape = (batch * 8, 32, 32, 3) if channels == 3 else (batch * 8, 32, 32)
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        np.savez(data, x=images, y=rng.integers(0, 10, len(images)))
        if mode == "gankit-nchw":  # the same setup in the default memory order
            overrides = [o for o in overrides if o != CHANNELS_LAST]
        trainer = Trainer(make_config(overrides, data, batch, device, preset), Path(tmp) / "run")
        real = trainer.stream.next()[0]  # NCHW, as torch-mimicry gets it
        n_critic = trainer.config.train.n_critic
        period = math.lcm(*(phase.spec.interval for phase in trainer.phases))
        if mode in ("gankit", "gankit-nchw"):
            step = trainer.train_step
        elif mode == "minimal":
            if trainer.config.train.channels_last:  # the minimal loop gets the batch in the trainer's memory order
                real = real.contiguous(memory_format=torch.channels_last)
            step = (minimal_stylegan_step if setup in PRESETS else minimal_step)(trainer, real)
        else:
            del trainer
            step, n_critic = mimicry_step(setup, real)
        step()  # warm-up: iteration 0 runs every phase, lazy ones included
        with FlopCount() as counter:
            for _ in range(period):
                step()
        flops = counter.total / period
        timed = -(-iters // period) * period
        periods = []  # the time of each period, to see the fastest one as well as the mean
        for _ in range(timed // period):
            synchronize(real.device)
            start = time.perf_counter()
            for _ in range(period):
                step()
            synchronize(real.device)
            periods.append(time.perf_counter() - start)
        seconds = sum(periods) / timed
    if real.device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(real.device) / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "best_seconds": min(periods) / period,
        "images_per_s": batch * n_critic / seconds,
        "gflops": flops / 1e9,
        "peak_rss_mb": peak_mb,
        "period": period,
        "timed_iterations": timed,
        "batch": batch,
    }


def matmul_gflops(n: int = 2048, repeats: int = 10, rounds: int = 5, device: str = "cpu") -> float:
    """The best of ``rounds`` timings of ``repeats`` fp32 n x n matmuls, in GFLOP/s."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(rounds):
        synchronize(a.device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        synchronize(a.device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


def overhead(measured: dict[str, dict]) -> float:
    """gankit's time per iteration over the minimal loop's, minus 1."""
    return measured["gankit"]["seconds"] / measured["minimal"]["seconds"] - 1


def median_round(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """The round whose :func:`overhead` is the median of the rounds (the lower middle one for an even count), every
    loop's row from that one round; the fastest period is each loop's over all rounds."""
    chosen = sorted(rounds, key=overhead)[(len(rounds) - 1) // 2]
    return {
        mode: r | {"best_seconds": min(each[mode]["best_seconds"] for each in rounds)} for mode, r in chosen.items()
    }


def run_child(setup: str, mode: str, iters: int, batch: int, device: str = "cpu") -> dict:
    command = [sys.executable, __file__, "--child", setup, mode, "--iters", str(iters), "--batch", str(batch)]
    command += ["--device", device]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iters",
        type=int,
        default=3,
        help="timed iterations per measurement, rounded up to whole periods of lazy phases (default 3)",
    )
    parser.add_argument("--reg-iters", type=int, default=10, help="timed iterations per regulariser (default 10)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure the loops this many times, alternating (default 1)"
    )
    parser.add_argument("--only", default=",".join([*SETUPS, "regularizers", "biggan"]), help="subset of setups")
    parser.add_argument("--device", default="cpu", help="torch device of every measurement: cpu (default) or cuda")
    parser.add_argument("--child", nargs=2, metavar=("SETUP", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.iters, args.batch, args.device)))
        return
    chosen = args.only.split(",")
    has_mimicry = importlib.util.find_spec("torch_mimicry") is not None
    peak = matmul_gflops(device=args.device)
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {where}")
    print(f"fp32 matmul 2048^3: {peak:.1f} GFLOP/s; torch-mimicry {'found' if has_mimicry else 'not installed'}")
    memory = "GPU MB" if args.device.startswith("cuda") else "RSS MB"
    columns = ("s/iter", "img/s", "GFLOP/it", "GFLOP/s", "of peak", memory, "vs gankit")
    print(f"{'setup':<10} {'loop':<11} " + " ".join(f"{c:>9}" for c in columns))
    for setup in [s for s in SETUPS if s in chosen]:
        modes = ["gankit", "minimal"] + (["gankit-nchw"] if CHANNELS_LAST in SETUPS[setup] else [])
        modes += ["mimicry"] if has_mimicry and setup in MIMICRY else []
        # rounds alternate the loops, each round starting one loop later (gankit, minimal, ...; minimal, ...,
        # gankit; ...), so that a shared machine's slow spells fall on all of them; the rows are the median round's
        rounds = []
        for index in range(args.rounds):
            order = modes[index % len(modes) :] + modes[: index % len(modes)]
            measured = {mode: run_child(setup, mode, args.iters, args.batch, args.device) for mode in order}
            rounds.append({mode: measured[mode] for mode in modes})
        results = median_round(rounds)
        first = results["gankit"]
        if setup in PRESETS or first["period"] > 1:
            precision = "bf16 autocast" if args.device.startswith("cuda") and setup in PRESETS else "fp32"
            print(
                f"{setup:<10} preset {PRESETS.get(setup, ('digits',))[0]}, batch {first['batch']}, {precision}; "
                f"lazy phases: timed over {first['timed_iterations'] // first['period']} whole period(s) of "
                f"{first['period']} iterations, per-iteration means"
            )
        for mode, r in results.items():
            rate = r["gflops"] / r["seconds"]
            ratio = r["seconds"] / results["gankit"]["seconds"]
            print(
                f"{setup:<10} {mode:<11} {r['seconds']:9.3f} {r['images_per_s']:9.1f} {r['gflops']:9.2f} "
                f"{rate:9.1f} {rate / peak:9.1%} {r['peak_rss_mb']:9.0f} {ratio:9.3f}"
            )
        # other jobs on a shared machine only add time: the fastest period is the less disturbed estimate
        best = results["gankit"]["best_seconds"] / results["minimal"]["best_seconds"] - 1
        print(
            f"{setup:<10} loop overhead of gankit over the minimal loop: {overhead(results):+.1%} mean, {best:+.1%} "
            f"fastest {'period' if first['period'] > 1 else 'iteration'} (target < 5%)"
        )
        if len(rounds) > 1:
            each = ", ".join(f"{overhead(r):+.1%}" for r in rounds)
            print(
                f"{setup:<10} overhead in each of {len(rounds)} alternating rounds: {each}; the rows above: the median"
            )
    if "regularizers" in chosen:
        print("\nregularizer cost on the DCGAN-32 (no batch norm in D), time per iteration relative to plain")
        plain = None
        for name in REGULARIZERS:
            r = run_child(f"dcgan32:{name}", "gankit", args.reg_iters, args.batch, args.device)
            plain = plain or r["seconds"]
            periods = f"  ({r['timed_iterations']} iterations timed: whole periods of {r['period']})"
            print(f"{name:<14} {r['seconds']:8.3f} s/iter  x{r['seconds'] / plain:.2f}" + periods * (r["period"] > 1))
    if "biggan" in chosen:
        print("\nBigGAN-32 tricks, time per iteration relative to the plain conditional iteration (cBN + projection D)")
        plain = None
        for name in BIGGAN_TRICKS:
            r = run_child(f"biggan32:{name}", "gankit", args.reg_iters, args.batch, args.device)
            plain = plain or r["seconds"]
            print(f"{name:<14} {r['seconds']:8.3f} s/iter {r['images_per_s']:8.1f} img/s  x{r['seconds'] / plain:.2f}")


if __name__ == "__main__":
    main()
