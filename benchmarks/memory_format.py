"""Forward + backward of a preset's G and D in the default (NCHW) and the channels-last (NHWC) memory order.

``train.channels_last=true`` stores the networks' weights and the real batches channels-last; oneDNN's CPU
convolutions and cuDNN's tensor-core kernels then run without reordering their operands. This script times what
that buys for each preset's networks, alternating the two orders (NCHW, NHWC, NCHW, NHWC) and keeping the faster
of the two timings of each, and checks that both orders compute the same logits.

    python benchmarks/memory_format.py [--repeats 3] [--device cpu] [--presets cifar10-sngan,mnist-dcgan,...]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from gankit.config import resolve
from gankit.models import build_discriminator, build_generator

# case name (the preset, then its overrides) -> (overrides, image shape, batch, classes): the preset's own data shape
# and batch size
CASES = {
    "cifar10-sngan": ([], (3, 32, 32), 64, 0),
    "cifar10-wgan-gp": ([], (3, 32, 32), 64, 0),
    "mnist-biggan": ([], (1, 32, 32), 32, 10),
    "mnist-dcgan": ([], (1, 32, 32), 64, 0),
    "mnist-stylegan": ([], (1, 32, 32), 32, 0),
    "mnist-stylegan model.d_arch=stylegan2": (["model.d_arch=stylegan2"], (1, 32, 32), 32, 0),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, repeats: int, device: torch.device) -> dict[str, float]:
    """Seconds per forward + backward of G and D in each memory order, and the largest difference of D's logits."""
    overrides, shape, batch, classes = CASES[name]
    config = resolve(name.split()[0], overrides)
    torch.manual_seed(0)
    G = build_generator(config, shape, classes).to(device)
    D = build_discriminator(config, shape, classes).to(device)
    z = torch.randn(batch, config.model.z_dim, device=device)
    y = torch.randint(0, classes, (batch,), device=device) if classes else None

    def step() -> None:
        D(G(z, y), y).float().mean().backward()

    def to(order: str) -> None:
        memory_format = torch.channels_last if order == "nhwc" else torch.contiguous_format
        G.to(memory_format=memory_format), D.to(memory_format=memory_format)

    # the same function in both orders: from the same weights and buffers (a forward in training mode moves batch
    # norm's statistics and spectral norm's vectors), the logits of one forward each
    state = copy.deepcopy((G.state_dict(), D.state_dict()))
    logits: dict[str, torch.Tensor] = {}
    for order in ("nchw", "nhwc"):
        to(order)
        G.load_state_dict(state[0]), D.load_state_dict(state[1])
        with torch.no_grad():
            logits[order] = D(G(z, y), y).float()
    times: dict[str, float] = {}
    for order in ("nchw", "nhwc", "nchw", "nhwc"):
        to(order)
        step()  # warm-up
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        synchronize(device)
        times[order] = min(times.get(order, float("inf")), (time.perf_counter() - start) / repeats)
    difference = float((logits["nhwc"] - logits["nchw"]).abs().max() / logits["nchw"].abs().max())
    return {"nchw": times["nchw"], "nhwc": times["nhwc"], "difference": difference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per measurement (default 3)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", default=",".join(CASES), help="comma-separated subset of the cases")
    args = parser.parse_args()
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {where}: G + D forward and backward")
    print(f"{'preset':<40} {'NCHW s':>9} {'NHWC s':>9} {'speed-up':>9} {'logits rel. diff.':>18}")
    for name in args.presets.split(","):
        r = measure(name, args.repeats, device)
        print(f"{name:<40} {r['nchw']:9.3f} {r['nhwc']:9.3f} {r['nchw'] / r['nhwc']:8.2f}x {r['difference']:18.1e}")


if __name__ == "__main__":
    main()
