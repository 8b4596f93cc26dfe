"""Choosing the device a command runs on."""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def select_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks CUDA when available (``cuda:<local_rank>`` under torchrun), else the CPU; otherwise the
    named device, checked."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", local_rank if local_rank is not None else torch.cuda.current_device())
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise GankitError(f"device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"device {name} was asked for but no CUDA device is available; use cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank if local_rank is not None else torch.cuda.current_device())
    return device
