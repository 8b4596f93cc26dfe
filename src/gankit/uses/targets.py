"""The images a user asks a generator to reproduce (projection, "more like x"), read at the generator's shape.

An IMAGE argument is an image file (PNG, JPEG, ...) or an image source of ``gankit eval``
(:func:`gankit.metrics.sources.load_source`: a data set split such as ``mnist-test``, an ``.npz``, a folder)
with an optional slice ``:START:STOP`` (``mnist-test:0:100``: the first hundred test images, in the data set's
order). Square images of another size are resized (bilinear, antialiased, as the data sets are); images that are
not square, or whose colours the generator cannot make (a colour image for a one-channel generator), are refused
with a one-line error naming the expected shape. A colour file whose three channels are equal is grey and is
accepted by a one-channel generator; a grey image is repeated to RGB for a three-channel one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.images import resize_square
from gankit.errors import GankitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SLICE = re.compile(r"^(?P<spec>.+?)(?::(?P<start>\d*):(?P<stop>\d*))?$")


@dataclass
class Targets:
    """uint8 images (N, C, R, R) at the generator's shape, a name per image, and notes on what was changed."""

    images: torch.Tensor
    names: list[str]
    notes: list[str] = field(default_factory=list)


def fit_shape(images: torch.Tensor, shape: tuple[int, int, int], what: str) -> tuple[torch.Tensor, str | None]:
    """uint8 (N, C, H, W) ``images`` brought to ``shape`` (C, R, R) as the module text says, with a note when
    resized; a one-line error naming the expected shape otherwise."""
    channels, height, width = shape
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise GankitError(f"{what}: expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    expected = f"expected images of shape ({channels}, {height}, {width})"
    if images.shape[1] != channels:
        if channels == 1 and images.shape[1] == 3 and bool((images == images[:, :1]).all()):
            images = images[:, :1]
        elif channels == 3 and images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        else:
            raise GankitError(
                f"{what}: {images.shape[1]}-channel images, {expected} (this generator makes {channels}-channel images)"
            )
    if images.shape[-2] != images.shape[-1]:
        raise GankitError(
            f"{what}: {images.shape[-2]}x{images.shape[-1]} images are not square; {expected}: crop them to a square"
        )
    note = None
    if images.shape[-1] != width:
        note = f"{what}: resized {images.shape[-1]}x{images.shape[-1]} -> {width}x{width}"
        images = resize_square(images.contiguous(), width)
    return images.contiguous(), note


def read_image_file(path: Path) -> torch.Tensor:
    """One image file as uint8 (1, C, H, W): C = 1 for grey files, 3 for colour (alpha dropped)."""
    try:
        with Image.open(path) as image:
            grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            array = np.asarray(image.convert("L" if grey else "RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise GankitError(f"cannot read image {path} ({exc.__class__.__name__}); pass a PNG or JPEG file") from exc
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return tensor[None]


def read_targets(specs: list[str], shape: tuple[int, ...]) -> Targets:
    """The images of every IMAGE argument in ``specs`` (module text), at ``shape`` (C, R, R)."""
    if len(shape) != 3:
        raise GankitError(f"this generator makes {tuple(shape)} vectors, not images; projection needs an image model")
    if not specs:
        raise GankitError("give at least one image: a PNG file or a split such as mnist-test:0:10")
    images, names, notes = [], [], []
    for spec in specs:
        path = Path(spec)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if not path.is_file():
                raise GankitError(f"no such image file: {spec}")
            batch, labels = read_image_file(path), [path.name]
        else:
            batch, labels = _source_slice(spec)
        batch, note = fit_shape(batch, tuple(shape), spec)
        images.append(batch)
        names.extend(labels)
        notes.extend([note] if note else [])
    return Targets(torch.cat(images), names, notes)


def _source_slice(spec: str) -> tuple[torch.Tensor, list[str]]:
    from gankit.metrics.sources import load_source

    match = SLICE.match(spec)
    name, start, stop = match.group("spec"), match.group("start"), match.group("stop")
    where = Path(name)
    if (where.is_dir() and (where / "checkpoints").is_dir()) or where.suffix == ".pt":
        raise GankitError(f"{name} is a trained run, not images; give image files or a data set split")
    source = load_source(name)
    first = int(start) if start else 0
    last = min(int(stop), len(source.images)) if stop else len(source.images)
    if first >= last:
        raise GankitError(f"'{spec}' selects no images ({name} has {len(source.images)}); e.g. {name}:0:10")
    return source.images[first:last], [f"{name}[{i}]" for i in range(first, last)]
