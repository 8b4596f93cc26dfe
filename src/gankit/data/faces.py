"""The Olivetti faces (AT&T Laboratories Cambridge / Olivetti Research Laboratory, 1992-1994).

400 grey-level images of 64 x 64 pixels, 10 of each of 40 people; the label is the person (0..39).
The file is Sam Roweis' MATLAB copy ``olivettifaces.mat``, the original that scikit-learn's
``fetch_olivetti_faces`` names as its source: one uint8 array ``faces`` of shape (4096, 400), an image
per column stored column-major. (scikit-learn itself downloads a float re-save from figshare, a
different file; gankit reads the uint8 original.)

The file is checked with SHA-256 every time it is read. A download goes to a temporary file in the
cache folder and is renamed into place only after its checksum matches, so a broken download never
leaves a partial file behind.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.runtime.files import sha256_of
from gankit.runtime.home import gankit_home

FACES_URL = "https://cs.nyu.edu/~roweis/data/olivettifaces.mat"
FACES_FILE = "olivettifaces.mat"
FACES_SHA256 = "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d"
FACES_SHAPE = (400, 1, 64, 64)
PEOPLE = 40
PICTURES = 10
FACES_SPLITS = ("train", "test", "all")
TIMEOUT_S = 60


def _how_to_place(folder: Path) -> str:
    return (
        f"download {FACES_URL} by hand and put it at {folder / FACES_FILE} "
        f"(folder $GANKIT_HOME/datasets/faces; SHA-256 {FACES_SHA256[:12]}...)"
    )


def download_faces(folder: Path) -> Path:
    """Fetch ``olivettifaces.mat`` into ``folder`` through a temporary file, verified by SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{FACES_FILE}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(FACES_URL, timeout=TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        if sha256_of(Path(tmp)) != FACES_SHA256:
            raise GankitError(f"faces: the file from {FACES_URL} fails its SHA-256 check; {_how_to_place(folder)}")
        os.replace(tmp, folder / FACES_FILE)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise GankitError(f"faces: cannot download ({reason}); {_how_to_place(folder)}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return folder / FACES_FILE


def faces_file(root: str | Path | None = None, download: bool = True) -> Path:
    """The verified ``olivettifaces.mat`` in ``root`` (default ``$GANKIT_HOME/datasets/faces``), downloaded
    when missing and ``download`` is true."""
    folder = Path(root) if root is not None else gankit_home() / "datasets" / "faces"
    path = folder / FACES_FILE
    if not path.is_file():
        if not download:
            raise GankitError(f"faces: {path} is missing and downloading is off; {_how_to_place(folder)}")
        download_faces(folder)
    if sha256_of(path) != FACES_SHA256:
        raise GankitError(f"faces: {path} fails its SHA-256 check (not the original file); delete it and run again")
    return path


def load_faces(root: str | Path | None = None, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Olivetti faces as uint8 images (400, 1, 64, 64), upright, and int64 person labels (400,) in 0..39."""
    from scipy.io import loadmat

    path = faces_file(root, download)
    faces = loadmat(str(path))["faces"]
    images = np.ascontiguousarray(faces.T.reshape(400, 64, 64).transpose(0, 2, 1))
    labels = torch.arange(400) // (400 // PEOPLE)
    return torch.from_numpy(images).unsqueeze(1), labels.long()


def split_faces(images: torch.Tensor, labels: torch.Tensor, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split of the faces by picture: ``train`` = the first 9 pictures of each person (360), ``test`` = the
    10th of each (40, the held-out protocol of the eigenfaces experiment), ``all`` = the 400."""
    if split not in FACES_SPLITS:
        raise GankitError(f"faces: unknown split '{split}'; valid splits: {', '.join(FACES_SPLITS)}")
    if split == "all":
        return images, labels
    position = torch.arange(len(labels)) % PICTURES
    keep = position < PICTURES - 1 if split == "train" else position == PICTURES - 1
    return images[keep], labels[keep]
