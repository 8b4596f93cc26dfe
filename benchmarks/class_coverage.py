"""Class coverage of an unconditional generator's checkpoints: how many classes its samples fall in.

For every checkpoint of each run, 1,000 samples of the raw and of the EMA generator are classified by the data
set's classifier (:class:`gankit.metrics.features.extractors.ClassifierFeatures`, fitted on the labelled ``.npz``
given); printed per generator are the classes that get at least 2% of the samples (a collapsed model scores 1,
samples spread like the data 10), the KL divergence of the predicted-class histogram from uniform (0 for a
uniform spread; log 10 = 2.30 for one class) and the classifier's mean confidence. This is the class-coverage
count of the README's StyleGAN2 probes and equal-wall-clock table (a measure of mode dropping in the spirit of the
"modes covered" of Metz et al. 2017 / Srivastava et al. 2017 on stacked MNIST).

    python benchmarks/class_coverage.py RUN [RUN ...] --classifier train-first10k.npz [--n 1000] [--resolution 32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gankit.imaging import to_uint8
from gankit.metrics.features.extractors import ClassifierFeatures
from gankit.runtime.checkpoint import list_checkpoints
from gankit.sampling import generate, load_generator

SHARE = 0.02  # a class counts as covered from this share of the samples on


def coverage(probabilities: torch.Tensor) -> tuple[int, float, float]:
    """(classes with at least ``SHARE`` of the predicted labels, KL(histogram || uniform), mean confidence)."""
    classes = probabilities.shape[1]
    histogram = torch.bincount(probabilities.argmax(1), minlength=classes).double() / len(probabilities)
    kl = float((histogram * (histogram.clamp_min(1e-12) * classes).log()).sum())
    return int((histogram >= SHARE).sum()), kl, float(probabilities.max(1).values.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--classifier", required=True, help="labelled .npz the classifier is fitted on (cached)")
    parser.add_argument("--n", type=int, default=1000, help="samples per generator (default 1000)")
    parser.add_argument("--resolution", type=int, default=32, help="the generators' resolution (default 32)")
    args = parser.parse_args()
    classifier = ClassifierFeatures(args.classifier, args.resolution)
    for run in args.runs:
        for checkpoint in list_checkpoints(run / "checkpoints"):
            line = []
            for ema in (False, True):
                torch.manual_seed(0)  # StyleGAN2's noise inputs draw from the global generator
                images = generate(load_generator(checkpoint, ema=ema), args.n, seed=1)
                with torch.no_grad():
                    probabilities = classifier(to_uint8(images))[1].softmax(1)
                covered, kl, confidence = coverage(probabilities)
                name = "EMA" if ema else "raw"
                line.append(f"{name} classes >= 2%: {covered}  KL(uniform) {kl:.2f}  conf {confidence:.2f}")
            print(f"{run} {checkpoint.name}: " + " | ".join(line), flush=True)


if __name__ == "__main__":
    main()
