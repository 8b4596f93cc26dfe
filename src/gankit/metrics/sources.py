"""Where the images to evaluate come from: one string names a folder, an ``.npz``, a run or checkpoint,
or a data set split, and becomes uint8 (N, C, H, W) images plus a record of what was read.

- an image folder: every image below it, read at the size of the first (shorter side, centre crop);
- ``FILE.npz``: key ``x`` (or the only array), uint8 NHWC / NCHW / NHW;
- a run directory of ``gankit train`` or a checkpoint ``.pt``: ``n`` samples from the EMA generator
  with latents drawn from ``seed``, quantised to uint8 as the reference code does (x * 127.5 + 128,
  clamped, truncated: :func:`gankit.imaging.to_uint8`); likewise a classic baseline's run directory of
  ``gankit fit-baseline`` (or its ``generator.safetensors``), sampled through its linear-Gaussian generator;
- a data set split: ``digits`` (all 1,797), ``mnist-train``, ``mnist-test``, ``fashion-mnist-train``,
  ``fashion-mnist-test``, ``cifar10-train``, ``cifar10-test``, ``faces-train``, ``faces-test``, ``faces-all``,
  at native size or ``@R`` pixels (``digits@16``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.models.linear_gaussian import find_generator_file

NAMED = re.compile(r"^(digits|mnist|fashion-mnist|cifar10|faces)(?:-(train|test|all))?(?:@(\d+))?$")
SOURCE_HELP = (
    "an image folder, an .npz, a run directory or checkpoint (gankit train or fit-baseline), or a data set split "
    "(digits, mnist-train, mnist-test, fashion-mnist-train, fashion-mnist-test, cifar10-train, cifar10-test, "
    "faces-train, faces-test, faces-all; @R resizes, e.g. digits@16)"
)


@dataclass
class Source:
    """Images (uint8 NCHW, CPU), a JSON-able description of where they came from, and their class labels when
    known (a labelled data set, or the classes a conditional generator drew them for) with the class count."""

    images: torch.Tensor
    record: dict[str, Any] = field(default_factory=dict)
    generated: bool = False
    labels: torch.Tensor | None = None
    num_classes: int = 0


def _named(match: re.Match, spec: str) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    name, split, size = match.group(1), match.group(2), match.group(3)
    if name == "digits":
        from gankit.data.images import load_digits

        if split:
            raise GankitError(f"source '{spec}': digits has no splits; use digits or digits@R")
        images, labels = load_digits(int(size) if size else 8)
    else:
        if not split:
            raise GankitError(f"source '{spec}': name the split, {name}-train or {name}-test")
        from gankit.data.images import resize_square
        from gankit.data.named import load_named

        images, labels = load_named(name, split, True)
        if size:
            images = resize_square(images, int(size))
    return images, labels, {"kind": "dataset", "name": name, "split": split or "all"}


def _folder(path: Path) -> torch.Tensor:
    from gankit.data.images import list_images, read_image

    files = list_images(path)
    try:
        with Image.open(files[0]) as first:
            size, grayscale = min(first.size), first.mode in ("L", "1", "I;16")
    except OSError as exc:
        raise GankitError(f"cannot read image {files[0]} ({exc.__class__.__name__}); remove or replace it") from exc
    return torch.stack([read_image(f, size, grayscale) for f in files])


def load_source(
    spec: str, n: int | None = None, seed: int = 0, device: str | torch.device = "cpu", default_n: int = 10_000
) -> Source:
    """The images named by ``spec``. Data: all images, or a seeded random subset of ``n``. Generators:
    ``n`` samples (``default_n`` when ``n`` is None) from latent seed ``seed``."""
    path = Path(spec)
    fitted = find_generator_file(path)
    trained = (path.is_dir() and (path / "checkpoints").is_dir()) or (path.is_file() and path.suffix == ".pt")
    if trained or fitted is not None:
        from gankit.imaging import to_uint8
        from gankit.sampling import draw_labels, find_checkpoint, generate, load_generator

        count = n or default_n
        generator = load_generator(path, ema=True, device=device)
        if len(generator.out_shape) != 3:
            raise GankitError(f"{spec}: the generator makes {tuple(generator.out_shape)} vectors, not images")
        labels = draw_labels(generator, count, seed)
        images = to_uint8(generate(generator, count, seed, labels=labels))
        record = {"kind": "generator", "path": str(fitted or find_checkpoint(path)), "latent_seed": seed}
        record = {"source": spec, **record, "n": count}
        return Source(images, record, generated=True, labels=labels, num_classes=generator.num_classes)
    labels = None
    if path.is_dir():
        images, record = _folder(path), {"kind": "folder"}
    elif path.suffix == ".npz":
        from gankit.data.images import load_npz

        images, labels = load_npz(path)
        record = {"kind": "npz"}
    elif match := NAMED.match(spec):
        images, labels, record = _named(match, spec)
    else:
        raise GankitError(f"unknown source '{spec}': give {SOURCE_HELP}")
    if n is not None and n < len(images):
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
        images, labels = images[keep], (labels[keep] if labels is not None else None)
        record["subset_seed"] = seed
    num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else 0
    record = {"source": spec, **record, "n": len(images)}
    return Source(images.contiguous(), record, labels=labels, num_classes=num_classes)
