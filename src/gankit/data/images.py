"""Image data sets held as uint8 NCHW tensors: scikit-learn's digits, ``.npz`` files and image folders.

Every loader returns uint8 images; the training stream maps them to [-1, 1] with x / 127.5 - 1, the
convention of DCGAN and of the metrics' reference code (samples are quantised back the same way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, UnidentifiedImageError

from gankit.errors import GankitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def resize_square(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize uint8 NCHW images to ``resolution`` x ``resolution`` (shorter side, then centre crop)."""
    if images.shape[-2:] == (resolution, resolution):
        return images
    images = TF.resize(images, resolution, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(images, [resolution, resolution])


def load_digits(resolution: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten 8x8 digits (UCI, Alpaydin & Kaynak 1998) as uint8 (N,1,R,R) + labels.

    The originals have 17 grey levels (0..16); they are mapped to uint8 by round(v * 255 / 16).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    pixels = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    images = torch.from_numpy(pixels).unsqueeze(1)
    return resize_square(images, resolution), torch.from_numpy(bunch.target).long()


def _as_nchw(array: np.ndarray, source: str) -> torch.Tensor:
    if array.dtype != np.uint8:
        raise GankitError(
            f"{source}: expected uint8 images in [0, 255], got {array.dtype}; "
            "convert with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8) for images in [0, 1]"
        )
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4:
        if array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
            array = array.transpose(0, 3, 1, 2)
    else:
        raise GankitError(f"{source}: expected images of shape (N,H,W), (N,H,W,C) or (N,C,H,W), got {array.shape}")
    if array.shape[1] not in (1, 3):
        raise GankitError(f"{source}: expected 1 or 3 channels, got shape {array.shape}")
    if len(array) == 0:
        raise GankitError(f"{source}: holds no images")
    return torch.from_numpy(np.ascontiguousarray(array))


def load_npz(path: str | Path, resolution: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images from an ``.npz``: key ``x`` (or the only array), uint8 NHWC/NCHW/NHW; labels under ``y``."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"no such .npz file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "x" in keys:
                key = "x"
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise GankitError(f"{path}: no array named 'x' among {keys}; save the images under key 'x'")
            images = _as_nchw(archive[key], str(path))
            labels = torch.from_numpy(archive["y"].astype(np.int64)) if "y" in keys else None
    except (OSError, ValueError) as exc:
        raise GankitError(f"{path}: not a readable .npz file ({exc}); re-create it with numpy.savez") from exc
    if labels is not None and len(labels) != len(images):
        raise GankitError(f"{path}: {len(images)} images but {len(labels)} labels under 'y'")
    if resolution is not None:
        images = resize_square(images, resolution)
    return images, labels


def list_images(root: str | Path) -> list[Path]:
    """All image files below ``root`` (recursive), sorted so that runs are reproducible."""
    root = Path(root)
    if not root.is_dir():
        raise GankitError(f"no such image folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GankitError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found in the folder or below it")
    return files


def read_image(path: Path, resolution: int, grayscale: bool) -> torch.Tensor:
    """One image file as a uint8 (C, R, R) tensor; a corrupt or unreadable file is a one-line error."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if grayscale else "RGB")
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise GankitError(f"cannot read image {path} ({exc.__class__.__name__}); remove or replace the file") from exc
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return resize_square(tensor[None], resolution)[0]


class ImageFolder(torch.utils.data.Dataset):
    """Every image below a folder, resized (shorter side) and centre-cropped to ``resolution``; no labels.

    Files are decoded lazily (so folders larger than memory work with ``data.num_workers``), but each
    file's header is checked when the data set is built so that a corrupt file fails before training.
    """

    def __init__(self, root: str | Path, resolution: int, grayscale: bool = False) -> None:
        self.files = list_images(root)
        self.resolution = resolution
        self.grayscale = grayscale
        for path in self.files:
            try:
                with Image.open(path) as image:
                    image.verify()
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise GankitError(
                    f"cannot read image {path} ({exc.__class__.__name__}); remove or replace the file"
                ) from exc

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return read_image(self.files[index], self.resolution, self.grayscale)
