"""Named data sets (MNIST, Fashion-MNIST, CIFAR-10, Olivetti faces) downloaded with checksums into ``$GANKIT_HOME``.

Downloading, MD5 verification and archive extraction are torchvision's own code
(``torchvision.datasets.utils``), with torchvision's published mirrors and checksums, so a file that
gankit accepts is byte-for-byte the file torchvision accepts. Offline, or with ``data.download=false``,
a missing file is a one-line error that says which files to put where.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import CIFAR10, MNIST, FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import check_integrity, download_url, extract_archive

from gankit.errors import GankitError
from gankit.runtime.home import gankit_home

IDX_DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}

# SHA-256 of the *decompressed* idx files. Some mirrors re-compress the original archives, so the .gz
# bytes (and their MD5) differ while the data are identical; a file whose .gz MD5 does not match
# torchvision's is still accepted when its content matches here. Computed from copies of the original
# release (class counts as published: MNIST test 980..1009 per class, Fashion-MNIST 1000/6000 per class).
IDX_CONTENT_SHA256 = {
    "t10k-images-idx3-ubyte": {
        "mnist": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "fashion-mnist": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    "t10k-labels-idx1-ubyte": {
        "mnist": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "fashion-mnist": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "train-images-idx3-ubyte": {
        "fashion-mnist": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    "train-labels-idx1-ubyte": {
        "fashion-mnist": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
}
NAMED_DATASETS = (*IDX_DATASETS, "cifar10", "faces")
SPLITS = ("train", "test")


def dataset_folder(name: str) -> Path:
    """Where the files of a named data set live: ``$GANKIT_HOME/datasets/<name>``."""
    return gankit_home() / "datasets" / name


def _content_matches(name: str, path: Path) -> bool:
    expected = IDX_CONTENT_SHA256.get(path.name.removesuffix(".gz"), {}).get(name)
    if expected is None or path.suffix != ".gz":
        return False
    try:
        with gzip.open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest() == expected
    except (OSError, EOFError):
        return False


def _fetch(name: str, filename: str, md5: str, urls: list[str], folder: Path, download: bool) -> Path:
    """Return a verified local copy of ``filename``, downloading it from the first mirror that answers."""
    path = folder / filename
    if path.exists():
        if check_integrity(str(path), md5) or _content_matches(name, path):
            return path
        raise GankitError(f"{path} is corrupt (MD5 is not {md5}); delete it and run again to re-download")
    if download:
        errors = []
        for url in urls:
            try:
                download_url(url, str(folder), filename=filename, md5=md5)
                return path
            except Exception as exc:
                errors.append(f"{url}: {exc.__class__.__name__}")
        reason = "; ".join(errors)
    else:
        reason = "data.download=false"
    raise GankitError(
        f"{name}: cannot get {filename} ({reason}); download it by hand from {urls[0]} into {folder}/ and run again"
    )


def load_idx_dataset(name: str, split: str, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST or Fashion-MNIST as uint8 (N,1,28,28) images and int64 labels, from the original idx files."""
    if split not in SPLITS:
        raise GankitError(f"{name}: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
    cls = IDX_DATASETS[name]
    folder = dataset_folder(name) / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "train" if split == "train" else "t10k"
    arrays = []
    for filename, md5 in cls.resources:
        if not filename.startswith(prefix):
            continue
        archive = _fetch(name, filename, md5, [m + filename for m in cls.mirrors], folder, download)
        raw = archive.with_suffix("")
        if not raw.exists():
            extract_archive(str(archive), str(folder))
        reader = read_image_file if "images" in filename else read_label_file
        arrays.append(reader(str(raw)))
    images, labels = arrays
    return images.unsqueeze(1).contiguous(), labels.long()


def load_cifar10(split: str, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 (Krizhevsky 2009) as uint8 (N,3,32,32) images and int64 labels."""
    if split not in SPLITS:
        raise GankitError(f"cifar10: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
    folder = dataset_folder("cifar10")
    folder.mkdir(parents=True, exist_ok=True)
    batches = CIFAR10.train_list if split == "train" else CIFAR10.test_list
    base = folder / CIFAR10.base_folder
    if not all(check_integrity(str(base / f), md5) for f, md5 in batches):
        _fetch("cifar10", CIFAR10.filename, CIFAR10.tgz_md5, [CIFAR10.url], folder, download)
        extract_archive(str(folder / CIFAR10.filename), str(folder))
        if not all(check_integrity(str(base / f), md5) for f, md5 in batches):
            raise GankitError(f"cifar10: files in {base} fail their MD5 check; delete the folder and run again")
    images, labels = [], []
    for filename, _ in batches:
        with open(base / filename, "rb") as handle:
            # the CIFAR-10 batches are pickles; their MD5 was verified against torchvision's checksums above
            entry = pickle.load(handle, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)


def load_named(name: str, split: str, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A named data set's split as uint8 NCHW images and labels. ``faces`` (Olivetti, 64 x 64, labels = the 40
    people) has the splits ``train`` (9 pictures per person), ``test`` (the 10th) and ``all``."""
    if name in IDX_DATASETS:
        return load_idx_dataset(name, split, download)
    if name == "cifar10":
        return load_cifar10(split, download)
    if name == "faces":
        from gankit.data.faces import load_faces, split_faces  # faces.py imports this module

        return split_faces(*load_faces(None, download), split)
    raise GankitError(f"unknown data set '{name}'; named data sets: {', '.join(NAMED_DATASETS)}")
