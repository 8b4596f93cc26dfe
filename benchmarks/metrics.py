"""Speed of the metrics, side by side with torch-fidelity in the same run, printed as ratios.

1. FID Inception feature extraction at batch 64 on 32x32 uint8 images: images/s of gankit
   (:class:`gankit.metrics.features.inception.InceptionFeatures`) and of torch-fidelity's
   ``FeatureExtractorInceptionV3`` on the same weights file and the same images; the features must agree
   to 1e-4 relative. Weights: ``--weights`` (a standard-format file), else the real weights from
   ``../shared/assets`` (the TorchScript export, re-saved in the standard format with a random fc layer,
   since torch-fidelity reads only that format), else a random standard-format state dict.
2. FID from two 50,000 x 2048 feature sets and KID with 100 subsets of 1,000: seconds for gankit
   (:func:`gankit.metrics.fid.fid`, :func:`gankit.metrics.kid.kid`) and torch-fidelity
   (``fid_features_to_statistics`` + ``fid_statistics_to_metric``, ``kid_features_to_metric``) on the same
   arrays, and the relative difference of the numbers.

    python benchmarks/metrics.py [--batches 3] [--n 50000] [--device cpu]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import torch

from gankit.metrics.features.inception import InceptionFeatures
from gankit.metrics.features.inception_net import FIDInceptionV3
from gankit.metrics.features.inception_weights import load_state_dict
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid

ASSET = (
    Path(__file__).resolve().parents[2] / "shared" / "assets" / "inception" / "fid-inception-2015-12-05-torchscript.pt"
)


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


def throughput(run, images: torch.Tensor, batches: int) -> tuple[float, torch.Tensor]:
    """Images per second over ``batches`` batches after one warm-up batch, and the first batch's features."""
    first = run(images[0])
    start = time.perf_counter()
    for i in range(batches):
        run(images[1 + i])
    return batches * len(images[0]) / (time.perf_counter() - start), first


def inception_benchmark(args: argparse.Namespace) -> None:
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
            theirs_rate, theirs = throughput(lambda x: reference(x)[0], images, args.batches)
            ours_rate, mine = throughput(lambda x: ours(x)[0], images, args.batches)
    relative = float((mine.cpu() - theirs.cpu()).norm() / theirs.cpu().norm())
    print(f"Inception features, batch 64, 32x32 uint8 -> 299, {device}, weights: {origin}")
    print(f"  torch-fidelity {theirs_rate:8.2f} images/s")
    print(f"  gankit         {ours_rate:8.2f} images/s   ratio {ours_rate / theirs_rate:.2f}x")
    print(f"  features: relative difference {relative:.2e} (tolerance 1e-4)")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def fid_kid_benchmark(args: argparse.Namespace) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    generator = torch.Generator().manual_seed(2)
    # Inception pool features are non-negative (ReLU then average): |N(0, 1)| with a shared component.
    shared = torch.randn(args.n, 2048, generator=generator)
    x = (shared + torch.randn(args.n, 2048, generator=generator)).abs() / 2
    y = (shared + 1.1 * torch.randn(args.n, 2048, generator=generator)).abs() / 2

    def reference_fid():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            stats = fid_features_to_statistics(x), fid_features_to_statistics(y)
            return fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]

    def reference_kid():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = kid_features_to_metric(x, y, kid_subsets=100, kid_subset_size=1000, verbose=False)
            return result["kernel_inception_distance_mean"]

    ours_fid, ours_fid_s = timed(lambda: fid(x, y))
    theirs_fid, theirs_fid_s = timed(reference_fid)
    ours_kid, ours_kid_s = timed(lambda: kid(x, y, 100, 1000)["kid_mean"])
    theirs_kid, theirs_kid_s = timed(reference_kid)
    print(f"FID and KID from two {args.n} x 2048 float32 feature sets (CPU)")
    for name, theirs_s, ours_s, theirs, ours in (
        ("FID", theirs_fid_s, ours_fid_s, theirs_fid, ours_fid),
        ("KID", theirs_kid_s, ours_kid_s, theirs_kid, ours_kid),
    ):
        print(
            f"  {name}  torch-fidelity {theirs_s:7.2f} s   gankit {ours_s:7.2f} s   ratio {theirs_s / ours_s:.2f}x"
            f"   values {theirs:.8g} / {ours:.8g} (relative difference {abs(ours / theirs - 1):.1e})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="timed batches of 64 images (default 3)")
    parser.add_argument("--n", type=int, default=50_000, help="feature vectors per set for FID/KID (default 50000)")
    parser.add_argument("--weights", help="a standard-format Inception weights file")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-inception", action="store_true")
    parser.add_argument("--skip-fid-kid", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_inception:
        inception_benchmark(args)
    if not args.skip_fid_kid:
        fid_kid_benchmark(args)


if __name__ == "__main__":
    main()
