"""Weights of the FID Inception-v3: the standard file, NVIDIA's TorchScript export, cache and download.

Two files hold the same TensorFlow 2015-12-05 weights:

- ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's release, also torch-fidelity's): a plain
  state dict with torchvision-style names and the 1008-way fc layer. Loaded with
  ``torch.load(weights_only=True)``.
- NVIDIA's TorchScript export (``inception-2015-12-05.pt`` of StyleGAN2-ADA / StyleGAN3 / clean-fid):
  parameters under ``net.layers.{conv, conv_1..conv_4, mixed, mixed_1..mixed_10}``, batch norm as
  ``weight, beta, mean, var`` (no gamma: it is 1), no fc layer. Read by
  :func:`~gankit.metrics.features.torchscript_reader.read_torchscript_tensors`, which runs no code from
  the file, and renamed onto the standard names by :func:`torchscript_to_standard`.

Without ``--inception-weights``, the standard file is taken from ``$GANKIT_HOME/weights/`` or
downloaded there from pytorch-fid's release and checked against its SHA-256.
"""

from __future__ import annotations

import os
import urllib.request
import zipfile
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.metrics.features.inception_net import BLOCK_NAMES, STEM_NAMES
from gankit.runtime.files import sha256_of
from gankit.runtime.home import gankit_home

STANDARD_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
STANDARD_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{STANDARD_FILENAME}"
STANDARD_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    "tower_1.conv_1": "branch7x7dbl_2",
    "tower_1.conv_2": "branch7x7dbl_3",
    "tower_1.conv_3": "branch7x7dbl_4",
    "tower_1.conv_4": "branch7x7dbl_5",
    "tower_2.conv": "branch_pool",
}
_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    "tower_1.conv_1": "branch7x7x3_2",
    "tower_1.conv_2": "branch7x7x3_3",
    "tower_1.conv_3": "branch7x7x3_4",
}
_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
_BLOCK_LAYERS = [_A, _A, _A, _B, _C, _C, _C, _C, _D, _E, _E]


def _torchscript_layer_names() -> dict[str, str]:
    """TorchScript layer prefix -> standard BasicConv2d prefix, for all 94 convolutions."""
    names = {f"net.layers.conv{'' if i == 0 else f'_{i}'}": stem for i, stem in enumerate(STEM_NAMES)}
    for i, (block, layers) in enumerate(zip(BLOCK_NAMES, _BLOCK_LAYERS, strict=True)):
        mixed = f"net.layers.mixed{'' if i == 0 else f'_{i}'}"
        names.update({f"{mixed}.{ts}": f"{block}.{std}" for ts, std in layers.items()})
    return names


def torchscript_to_standard(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename NVIDIA's TorchScript Inception parameters to the standard state dict (without fc)."""
    state = {}
    for ts, std in _torchscript_layer_names().items():
        try:
            weight, beta, mean, var = (tensors[f"{ts}.{p}"] for p in ("weight", "beta", "mean", "var"))
        except KeyError as exc:
            raise GankitError(f"not the FID Inception TorchScript export: parameter {exc} is missing") from exc
        state[f"{std}.conv.weight"] = weight.float()
        state[f"{std}.bn.weight"] = torch.ones_like(beta, dtype=torch.float32)
        state[f"{std}.bn.bias"] = beta.float()
        state[f"{std}.bn.running_mean"] = mean.float()
        state[f"{std}.bn.running_var"] = var.float()
    return state


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())


def load_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """The standard-named state dict in ``path`` (standard file or TorchScript export) and its format,
    ``"standard"`` or ``"torchscript"``. Neither path runs code from the file."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"Inception weights {path} do not exist; pass the path of {STANDARD_FILENAME}")
    if _is_torchscript(path):
        from gankit.metrics.features.torchscript_reader import read_torchscript_tensors

        return torchscript_to_standard(read_torchscript_tensors(path)), "torchscript"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GankitError(
            f"{path} is not a readable weights file ({exc.__class__.__name__}); re-download {STANDARD_URL}"
        ) from exc
    if not isinstance(state, dict) or "Conv2d_1a_3x3.conv.weight" not in state:
        raise GankitError(f"{path} is not the FID Inception state dict (no Conv2d_1a_3x3.conv.weight)")
    return state, "standard"


def default_weights_path(download: bool = True, url: str = STANDARD_URL, sha256: str = STANDARD_SHA256) -> Path:
    """``$GANKIT_HOME/weights/pt_inception-2015-12-05-6726825d.pth``, downloaded from ``url`` and checked
    against ``sha256`` if absent (a partial or mismatching download never takes the final name)."""
    path = gankit_home() / "weights" / STANDARD_FILENAME
    if path.is_file():
        return path
    hint = f"download {url} into {path.parent}/ or pass --inception-weights PATH"
    if not download:
        raise GankitError(f"no Inception weights at {path}; {hint}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        urllib.request.urlretrieve(url, partial)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise GankitError(f"cannot download the Inception weights ({exc.__class__.__name__}); {hint}") from exc
    digest = sha256_of(partial)
    if digest != sha256:
        partial.unlink(missing_ok=True)
        raise GankitError(f"downloaded Inception weights have SHA-256 {digest}, expected {sha256}; {hint}")
    os.replace(partial, path)
    return path
