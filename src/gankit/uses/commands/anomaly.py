"""``gankit use anomaly``: the one-class protocol of Ruff et al. (ICML 2018, Sec. 4.1) with density, nearest-
neighbour and GAN scores (:mod:`gankit.uses.anomaly`).

For every normal class c: fit each score on the training images of class c, score the whole test set, and take the
AUROC with class c normal and the other classes anomalous; then the mean over classes. Scores: Gaussian and PPCA
negative log-likelihood, the distance to the k nearest training images (pixels, or ``--knn-features``), and for
``--run`` (a GAN trained on the images of ``--normal-class`` only) D's score and AnoGAN (Schlegl et al. 2017) on a
seeded subset of ``--gan-n`` test images; a fit-baseline ``--run`` is scored by its own negative log-likelihood.
On the MNIST test set the table ends with Ruff et al.'s published columns (their training sets are the full
60k-image MNIST training split, about 6,000 per digit, with global contrast normalisation; here whatever --data
holds, e.g. the first 10,000 training images, about 1,000 per digit, raw pixels).
The figure shows, for one class, the most normal and the most anomalous test images under each score.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import grid_image, save_image
from gankit.uses.anomaly import (
    RUFF2018_CITATION,
    RUFF2018_MNIST,
    RUFF2018_TRAINING,
    anogan_scores,
    auroc,
    discriminator_scores,
    gaussian_nll,
    knn_distance,
    normal_subset,
    one_class_auroc,
    ppca_nll,
    published_means,
)
from gankit.uses.commands.common import (
    Data,
    add_common_arguments,
    add_data_arguments,
    build_features,
    check_shape,
    load_model,
    output_folder,
    print_table,
    setup,
    test_data,
    training_data,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (``--out`` and ``--json`` come from the CLI)."""
    parser.add_argument("--run", help="a GAN trained on --normal-class only (D score, AnoGAN), or a fit-baseline run")
    parser.add_argument("--normal-class", type=int, help="the class --run was trained on (required with --run)")
    add_data_arguments(parser)
    parser.add_argument("--classes", help="comma-separated normal classes for the baseline scores (default: all)")
    parser.add_argument("--components", default="16,64", help="PPCA components, comma-separated (default 16,64)")
    parser.add_argument("--knn", default="1,5", help="k of the kNN scores, comma-separated (default 1,5)")
    parser.add_argument("--knn-features", default="pixels", help="pixels (default), inception, classifier:DATASET")
    parser.add_argument("--no-baselines", action="store_true", help="only the --run's scores")
    parser.add_argument("--gan-n", type=int, default=1000, help="test images scored by D and AnoGAN (default 1000)")
    parser.add_argument("--steps", type=int, default=100, help="AnoGAN's Adam steps on z (default 100; paper 500)")
    parser.add_argument("--lr", type=float, default=0.05, help="AnoGAN's learning rate (default 0.05)")
    parser.add_argument("--inception-weights", help="FID Inception weights, for --knn-features inception")
    add_common_arguments(parser)


def _ints(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise GankitError(f"expected comma-separated integers, got '{text}'") from exc


def _baseline_scorers(args: argparse.Namespace, train: Data, device) -> dict[str, Any]:
    scorers: dict[str, Any] = {"Gaussian NLL": gaussian_nll()}
    for k in _ints(args.components) or []:
        scorers[f"PPCA k={k} NLL"] = ppca_nll(k)
    features = None
    if args.knn_features != "pixels":
        features = build_features(
            args.knn_features, train, tuple(train.images.shape[1:]), device, args.inception_weights
        )
    for k in _ints(args.knn) or []:
        scorers[f"kNN k={k} ({args.knn_features})"] = knn_distance(k, features)
    return scorers


def _extremes(test: torch.Tensor, scores: torch.Tensor, count: int = 8) -> torch.Tensor:
    order = torch.argsort(scores.double().cpu())
    return torch.cat([test[order[:count]], test[order[-count:]]]).float() / 127.5 - 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The one-class AUROC table (and the GAN's row for its normal class); figure of extreme test images."""
    start = time.perf_counter()
    device = setup(args)
    model = load_model(args.run, device) if args.run else None
    if model is not None and args.normal_class is None:
        raise GankitError("--run needs --normal-class, the class its model was trained on")
    train = training_data(args, model)
    test = test_data(args, train)
    if test.labels is None:
        raise GankitError(f"the test images {test.spec} have no labels; the one-class protocol needs them")
    train_labels = train.labels
    if train_labels is None:
        if args.normal_class is None:
            raise GankitError(f"{train.spec} has no labels; name the class of its images with --normal-class")
        train_labels = torch.full((len(train.images),), args.normal_class, dtype=torch.long)
    present = sorted(torch.unique(test.labels).tolist())
    if args.normal_class is not None and args.normal_class not in present:
        raise GankitError(
            f"class {args.normal_class} is absent from the test labels; classes present: {', '.join(map(str, present))}"
        )
    classes = _ints(args.classes) or ([args.normal_class] if model is not None and args.classes is None else None)
    classes = classes or sorted(torch.unique(train_labels).tolist())
    for c in classes:
        normal_subset(train.images, train_labels, c)  # one-line error for a class absent from the training data
    figure_class = args.normal_class if args.normal_class is not None else classes[0]
    rows: dict[str, dict[str, Any]] = {}
    figure_rows = []
    if not args.no_baselines:
        for name, scorer in _baseline_scorers(args, train, device).items():
            rows[name] = one_class_auroc(train.images, train_labels, test.images, test.labels, scorer, classes)
            if figure_class in classes:
                fitted = scorer(normal_subset(train.images, train_labels, figure_class))
                figure_rows.append((name, _extremes(test.images, fitted(test.images))))
    if model is not None:
        c = args.normal_class
        is_anomaly = (test.labels != c).long()
        if model.baseline is not None:
            scores = -model.baseline.log_likelihood(test.images)
            rows[f"{model.baseline.kind} run NLL"] = {
                "per_class": {c: auroc(scores, is_anomaly)},
                "test_count": len(scores),
            }
            figure_rows.append((f"{model.baseline.kind} run NLL", _extremes(test.images, scores)))
        else:
            check_shape(test.images, model, "test images")
            pick = torch.randperm(len(test.images), generator=torch.Generator().manual_seed(args.seed))[: args.gan_n]
            images, truth = test.images[pick], is_anomaly[pick]
            d_scores = discriminator_scores(model.discriminator, images)
            rows["D score (GAN run)"] = {"per_class": {c: auroc(d_scores, truth)}, "test_count": len(pick)}
            figure_rows.append(("D score", _extremes(images, d_scores)))
            rng = torch.Generator().manual_seed(args.seed)
            anogan = anogan_scores(model.generator, model.discriminator, images, steps=args.steps, lr=args.lr, rng=rng)
            rows[f"AnoGAN (GAN run, {args.steps} steps)"] = {
                "per_class": {c: auroc(anogan, truth)},
                "test_count": len(pick),
            }
            figure_rows.append(("AnoGAN", _extremes(images, anogan)))
    headers = ["score", *map(str, classes), "mean"]
    table = []
    for name, row in rows.items():
        per = row["per_class"]
        values = [100 * per[c] if c in per else "" for c in classes]
        mean = 100 * sum(per.values()) / len(per) if len(per) == len(classes) else ""
        table.append([name, *values, mean])
    mnist_test = test.config.name == "mnist" and test.config.split == "test"
    if mnist_test:
        means = published_means()
        for name, column in RUFF2018_MNIST.items():
            table.append([f"{name} (Ruff et al. 2018)", *[column[c] for c in classes], means[name]])
    counts = {c: int((train_labels == c).sum()) for c in classes}
    print_table(
        headers, table, f"one-class AUROC (%) on {test.spec} ({len(test.images)} images), trained on {train.spec}"
    )
    print(f"training images per normal class: {', '.join(f'{c}: {n}' for c, n in counts.items())}")
    if mnist_test:
        print(f"published rows: {RUFF2018_CITATION}; trained on {RUFF2018_TRAINING}")
    out = output_folder(args)
    figure = None
    if figure_rows:
        figure = out / f"anomaly-class{figure_class}.png"
        save_image(grid_image(torch.cat([r for _, r in figure_rows]), nrow=16), figure)
        names = ", ".join(name for name, _ in figure_rows)
        print(
            f"figure: {figure}  (class {figure_class}; one row per score ({names}): 8 most normal | 8 most anomalous)"
        )
    seconds = time.perf_counter() - start
    print(f"time: {seconds:.1f} s")
    return {
        "rows": {k: {**v, "per_class": {str(c): a for c, a in v["per_class"].items()}} for k, v in rows.items()},
        "classes": classes,
        "train": train.spec,
        "test": test.spec,
        "train_counts": {str(c): n for c, n in counts.items()},
        "published": {k: list(v) for k, v in RUFF2018_MNIST.items()} if mnist_test else None,
        "figure": str(figure) if figure else None,
        "run": args.run,
        "normal_class": args.normal_class,
        "seconds": seconds,
    }
