"""Speed of the metrics, side by side with torch-fidelity in the same run, printed as ratios with the values
compared and the fraction of the machine's limit.

0. Limits measured in the run: the fp32 matrix-product rate (4096 x 2048 x 4096, best of PyTorch's BLAS,
   numpy's, and numpy's with one product per BLAS thread side by side) and the convolution rate of a large
   representative layer of the network (3x3, 192 -> 192 channels on 35 x 35, batch 32, channels-last), in GFLOP/s
   (2 FLOPs per multiply-add).
1. FID Inception feature extraction at batch 64 on 32x32 uint8 images: images/s of gankit
   (:class:`gankit.metrics.features.inception.InceptionFeatures`) and of torch-fidelity's
   ``FeatureExtractorInceptionV3`` on the same weights file and images; the features' relative
   difference (target 1e-5); the network's FLOPs per image counted from its layers, the images/s the
   convolution rate allows and the fraction of it reached; with ``--profile`` the share of gankit's time
   per kind of operation. Weights: ``--weights`` (a standard-format file), else the real weights from
   ``../shared/assets`` (the TorchScript export, re-saved in the standard format with a random fc layer,
   since torch-fidelity reads only that format), else a random standard-format state dict.
2. FID from two n x 2048 float32 feature sets and KID with 100 subsets of 1,000: seconds of gankit
   (:func:`gankit.metrics.fid.fid`, :func:`gankit.metrics.kid.kid`) and torch-fidelity
   (``fid_features_to_statistics`` + ``fid_statistics_to_metric``, ``kid_features_to_metric``) on the same
   arrays, and the values against a float64 reference: for FID torch-fidelity's float64 covariances with
   the float64 mean (torch-fidelity keeps the mean in float32), for KID torch-fidelity on the features
   converted to float64 (same subsets; it evaluates the kernel in the features' dtype).

Timings are the best of ``--repeats`` runs, by the wall clock or, with ``--clock cpu``, by the process's CPU
time (robust on a busy machine when run with ``--threads 1``).

    python benchmarks/metrics.py [--batches 3] [--n 50000] [--subsets 100] [--repeats 1] [--threads N]
                                 [--clock wall|cpu] [--profile] [--skip-inception] [--skip-fid-kid]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from gankit.metrics.features.inception import InceptionFeatures
from gankit.metrics.features.inception_net import INPUT_SIZE, FIDInceptionV3
from gankit.metrics.features.inception_weights import load_state_dict
from gankit.metrics.fid import frechet_distance, statistics
from gankit.metrics.kid import blas_threads, kid

ASSET = (
    Path(__file__).resolve().parents[2] / "shared" / "assets" / "inception" / "fid-inception-2015-12-05-torchscript.pt"
)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_of(fn, repeats: int, clock) -> tuple[object, float]:
    """The value of ``fn`` and its shortest time over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = clock()
        value = fn()
        times.append(clock() - start)
    return value, min(times)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def matmul_rate(clock, repeats: int = 3) -> tuple[float, float, float]:
    """GFLOP/s of a 4096 x 2048 x 4096 fp32 product through PyTorch and through numpy, and of numpy's
    products computed side by side, one per BLAS thread, each with a single-threaded BLAS (how KID runs)."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(4096, 2048, generator=generator), torch.randn(2048, 4096, generator=generator)
    flops = 2 * 4096 * 2048 * 4096
    a @ b
    _, torch_s = best_of(lambda: a @ b, repeats, clock)
    an, bn = a.numpy(), b.numpy()
    an @ bn
    _, numpy_s = best_of(lambda: an @ bn, repeats, clock)
    workers = blas_threads()

    def side_by_side():
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: an @ bn, range(workers)))

    side_by_side()
    _, side_by_side_s = best_of(side_by_side, repeats, clock)
    return flops / torch_s / 1e9, flops / numpy_s / 1e9, workers * flops / side_by_side_s / 1e9


def conv_rate(clock, repeats: int = 3) -> float:
    """GFLOP/s of a 3x3, 192 -> 192 convolution on 32 channels-last 35 x 35 maps (bias and ReLU included)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 192, 35, 35, generator=generator).contiguous(memory_format=torch.channels_last)
    w = torch.randn(192, 192, 3, 3, generator=generator).contiguous(memory_format=torch.channels_last)
    b = torch.randn(192, generator=generator)
    flops = 2 * 32 * 35 * 35 * 192 * 192 * 9
    with torch.no_grad():
        torch.relu_(F.conv2d(x, w, b, padding=1))
        _, seconds = best_of(lambda: torch.relu_(F.conv2d(x, w, b, padding=1)), repeats, clock)
    return flops / seconds / 1e9


def inception_flops() -> int:
    """FLOPs (2 per multiply-add) of the convolutions and the fc-free network for one 299 x 299 image."""
    network, total = FIDInceptionV3().eval(), [0]

    def count(module, inputs, output):
        kh, kw = module.kernel_size
        total[0] += 2 * output.numel() * module.in_channels // module.groups * kh * kw

    hooks = [m.register_forward_hook(count) for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        network(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    for hook in hooks:
        hook.remove()
    return total[0]


def standard_weights(folder: Path, given: str | None) -> tuple[Path, str]:
    """A standard-format weights file both libraries can read, and where its weights came from."""
    if given:
        return Path(given), given
    torch.manual_seed(0)
    if ASSET.is_file():
        state, _ = load_state_dict(ASSET)
        origin = f"real FID weights ({ASSET.name}) + random fc"
    else:
        state, origin = FIDInceptionV3().state_dict(), "random weights (assets not found)"
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048) * 0.01, torch.zeros(1008)
    path = folder / "standard.pth"
    torch.save(state, path)
    return path, origin


def throughput(run, images: torch.Tensor, batches: int, repeats: int, clock) -> tuple[float, torch.Tensor]:
    """Images per second over ``batches`` batches (best of ``repeats``) after one warm-up batch, and the
    first batch's features."""
    first = run(images[0])

    def timed_batches():
        for i in range(batches):
            run(images[1 + i])

    _, seconds = best_of(timed_batches, repeats, clock)
    return batches * len(images[0]) / seconds, first


OP_KINDS = (
    ("convolution", ("conv",)),
    ("max pooling (with indices)", ("max_pool",)),
    ("average pooling", ("avg_pool",)),
    ("concatenation", ("aten::cat",)),
    ("ReLU", ("relu", "clamp_min")),
    ("copies / layout", ("copy_", "contiguous", "clone", "to_dense", "reorder")),
    ("resize + scaling (matmul, sub, div)", ("aten::matmul", "aten::mm", "aten::bmm", "aten::sub", "aten::div")),
)


def profile_lines(run, batch: torch.Tensor) -> list[str]:
    """Share of gankit's self CPU time per kind of operation for one batch."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(batch)
    shares: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        kind = next((k for k, keys in OP_KINDS if any(key in event.key for key in keys)), "other")
        shares[kind] += event.self_cpu_time_total
    total = sum(shares.values())
    return [f"    {kind:36s} {100 * t / total:5.1f}%" for kind, t in sorted(shares.items(), key=lambda kv: -kv[1])]


def inception_benchmark(args: argparse.Namespace, clock, conv_gflops: float) -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with tempfile.TemporaryDirectory() as folder:
        path, origin = standard_weights(Path(folder), args.weights)
        device = torch.device(args.device)
        generator = torch.Generator().manual_seed(1)
        images = torch.randint(0, 256, (args.batches + 1, 64, 3, 32, 32), dtype=torch.uint8, generator=generator)
        images = images.to(device)
        reference = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
        reference.to(device)
        ours = InceptionFeatures(path, device=device)
        with torch.no_grad():
            theirs_rate, theirs = throughput(lambda x: reference(x)[0], images, args.batches, args.repeats, clock)
            ours_rate, mine = throughput(lambda x: ours(x)[0], images, args.batches, args.repeats, clock)
            profile = profile_lines(lambda x: ours(x)[0], images[1]) if args.profile else []
    relative = float((mine.cpu() - theirs.cpu()).norm() / theirs.cpu().norm())
    worst = float((mine.cpu() - theirs.cpu()).abs().max() / theirs.cpu().abs().max())
    flops = inception_flops()
    limit = conv_gflops * 1e9 / flops
    print(f"Inception features, batch 64, 32x32 uint8 -> 299, {device}, weights: {origin}")
    print(f"  torch-fidelity {theirs_rate:8.2f} images/s")
    print(f"  gankit         {ours_rate:8.2f} images/s   ratio {ours_rate / theirs_rate:.2f}x (target 3x)")
    print(f"  features: relative difference {relative:.1e} (max entry {worst:.1e}; target 1e-5)")
    print(
        f"  {flops / 1e9:.2f} GFLOP per image (2 per multiply-add); at the measured convolution rate "
        f"{conv_gflops:.0f} GFLOP/s the limit is {limit:.1f} images/s: gankit reaches {ours_rate / limit:.0%}"
    )
    if profile:
        print("  gankit's self CPU time by operation (one batch of 64):")
        print("\n".join(profile))


def features(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    # Inception pool features are non-negative (ReLU then average): |N(0, 1)| with a shared component.
    shared = torch.randn(n, 2048, generator=generator)
    x = (shared + torch.randn(n, 2048, generator=generator)).abs() / 2
    y = (shared + 1.1 * torch.randn(n, 2048, generator=generator)).abs() / 2
    return x, y


def quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()


def fid_kid_benchmark(args: argparse.Namespace, clock, matmul_gflops: float) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    x, y = features(args.n)
    kid_options = {"kid_subsets": args.subsets, "kid_subset_size": args.subset_size, "verbose": False}

    def theirs_fid():
        stats = fid_features_to_statistics(x), fid_features_to_statistics(y)
        return stats, fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]

    def ours_statistics():
        return statistics(x), statistics(y)

    (their_stats, theirs_fid_value), theirs_fid_s = best_of(lambda: quiet(theirs_fid), args.repeats, clock)
    our_stats, ours_stats_s = best_of(ours_statistics, args.repeats, clock)
    ours_fid, ours_distance_s = best_of(lambda: frechet_distance(*our_stats[0], *our_stats[1]), args.repeats, clock)
    ours_fid_s = ours_stats_s + ours_distance_s
    float64_stats = [
        {"mu": f.double().mean(0).numpy(), "sigma": s["sigma"]} for f, s in zip((x, y), their_stats, strict=True)
    ]
    reference_fid = quiet(lambda: fid_statistics_to_metric(*float64_stats, verbose=False))["frechet_inception_distance"]

    theirs_kid, theirs_kid_s = best_of(
        lambda: quiet(lambda: kid_features_to_metric(x, y, **kid_options))["kernel_inception_distance_mean"],
        args.repeats,
        clock,
    )
    ours_kid, ours_kid_s = best_of(lambda: kid(x, y, args.subsets, args.subset_size)["kid_mean"], args.repeats, clock)
    reference_kid = quiet(lambda: kid_features_to_metric(x.double(), y.double(), **kid_options))
    reference_kid = reference_kid["kernel_inception_distance_mean"]

    print(f"FID and KID ({args.subsets} subsets of {args.subset_size}) from two {args.n} x 2048 float32 feature sets")
    print(
        f"  FID  torch-fidelity {theirs_fid_s:7.2f} s   gankit {ours_fid_s:7.2f} s "
        f"(moments {ours_stats_s:.2f} + distance {ours_distance_s:.2f})   ratio {theirs_fid_s / ours_fid_s:.2f}x"
        " (target 1.5x)"
    )
    print(
        f"       values: float64 reference {reference_fid:.10g}; gankit {ours_fid:.10g} "
        f"(relative difference {abs(ours_fid / reference_fid - 1):.1e}, target 1e-5); torch-fidelity "
        f"{theirs_fid_value:.10g} ({abs(theirs_fid_value / reference_fid - 1):.1e}, its float32 mean)"
    )
    print(
        f"  KID  torch-fidelity {theirs_kid_s:7.2f} s   gankit {ours_kid_s:7.2f} s   "
        f"ratio {theirs_kid_s / ours_kid_s:.2f}x (target 1.2x)"
    )
    # each subset needs X X^T, Y Y^T (half each, symmetric) and X Y^T: 2 m^2 d multiply-adds, 4 m^2 d FLOPs
    kid_limit_s = args.subsets * 4 * args.subset_size**2 * x.shape[1] / (matmul_gflops * 1e9)
    print(
        f"       matmul limit {kid_limit_s:.2f} s (4 m^2 d FLOPs per subset at {matmul_gflops:.0f} GFLOP/s): gankit "
        f"{kid_limit_s / ours_kid_s:.0%} of it, torch-fidelity {kid_limit_s / theirs_kid_s:.0%}; no implementation "
        f"of these FLOPs can be more than {theirs_kid_s / kid_limit_s:.2f}x faster than torch-fidelity here"
    )
    print(
        f"       values: float64 reference {reference_kid:.10g}; gankit {ours_kid:.10g} "
        f"(relative difference {abs(ours_kid / reference_kid - 1):.1e}, target 1e-6); torch-fidelity "
        f"{theirs_kid:.10g} ({abs(theirs_kid / reference_kid - 1):.1e}, float32 kernel and sums)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="timed batches of 64 images (default 3)")
    parser.add_argument("--n", type=int, default=50_000, help="feature vectors per set for FID/KID (default 50000)")
    parser.add_argument("--subsets", type=int, default=100, help="KID subsets (default 100)")
    parser.add_argument("--subset-size", type=int, default=1000, help="KID subset size (default 1000)")
    parser.add_argument("--repeats", type=int, default=1, help="timings are the best of this many runs (default 1)")
    parser.add_argument("--threads", type=int, help="PyTorch and BLAS threads (default: PyTorch's default)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="wall clock or process CPU time")
    parser.add_argument("--profile", action="store_true", help="gankit's Inception time per kind of operation")
    parser.add_argument("--weights", help="a standard-format Inception weights file")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-inception", action="store_true")
    parser.add_argument("--skip-fid-kid", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    clock = CLOCKS[args.clock]
    torch_rate, numpy_rate, side_by_side_rate = matmul_rate(clock)
    matmul_gflops = max(torch_rate, numpy_rate, side_by_side_rate)
    conv_gflops = conv_rate(clock)
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} threads, {cpu_name()}, "
        f"{args.clock} clock, best of {args.repeats}"
    )
    print(
        f"limits measured now: fp32 matmul {matmul_gflops:.0f} GFLOP/s (PyTorch {torch_rate:.0f}, numpy "
        f"{numpy_rate:.0f}, numpy one product per thread {side_by_side_rate:.0f}); 3x3 convolution {conv_gflops:.0f} "
        "GFLOP/s"
    )
    if not args.skip_inception:
        inception_benchmark(args, clock, conv_gflops)
    if not args.skip_fid_kid:
        fid_kid_benchmark(args, clock, matmul_gflops)


if __name__ == "__main__":
    main()
