"""Checkpoints that are written atomically, resume exactly, and never execute code when loaded.

A checkpoint is one ``torch.save`` file of tensors, numbers and strings only, read back with
``torch.load(weights_only=True)`` (PyTorch's restricted unpickler: no code runs). It is first written
to a temporary file in the same folder, flushed to disk, then renamed over the final name, so a crash
while saving leaves the previous checkpoint intact. A checkpoint damaged some other way (a full disk,
a dying node) is skipped on resume: the newest readable one is used, and the damaged file is moved
aside to ``<name>.damaged`` (never deleted).
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import GankitError

FORMAT = "gankit-checkpoint-v2"
READABLE_FORMATS = ("gankit-checkpoint-v1", FORMAT)
NAME = re.compile(r"^step-(\d+)\.pt$")
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def checkpoint_path(folder: Path, step: int) -> Path:
    """``folder/step-000123.pt``."""
    return folder / f"step-{step:06d}.pt"


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in ``folder`` from oldest to newest step."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` to ``path`` through a temporary file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints in ``folder``."""
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    """Why torch could not read a file, in one clause (its own message runs over many lines)."""
    text = str(exc)
    refused = _REFUSED_GLOBAL.search(text)
    if "Weights only load failed" in text or refused:
        name = refused.group(1) if refused else "a Python object"
        return f"it refers to {name}, which is not read (a checkpoint holds tensors and numbers only)"
    if "central directory" in text or "zip archive" in text:
        return "it is truncated or not a torch file (no zip directory)"
    first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
    return first if len(first) <= 200 else first[:197] + "..."


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a gankit checkpoint safely (``weights_only=True``); a damaged or foreign file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"no such checkpoint: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise GankitError(f"checkpoint {path} is unreadable: {_reason(exc)}") from exc
    if not isinstance(payload, dict) or payload.get("format") not in READABLE_FORMATS:
        raise GankitError(f"{path} is not a gankit checkpoint (no '{FORMAT}' marker)")
    return payload


@dataclass
class Found:
    """The checkpoint a resume starts from, its contents, and the newer files that were skipped."""

    path: Path
    state: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def newest_readable(source: str | Path, map_location: str | torch.device = "cpu") -> Found:
    """The newest readable checkpoint of a run directory, or the checkpoint file ``source`` itself.

    Unreadable newer checkpoints of a run directory are moved aside to ``<name>.damaged`` and named
    in :attr:`Found.skipped`, so the next resume does not trip over them again.
    """
    source = Path(source)
    if source.is_file():
        return Found(source, load(source, map_location))
    if not source.exists():
        raise GankitError(f"no such run directory or checkpoint: {source}")
    candidates = list_checkpoints(source / "checkpoints")
    if not candidates:
        raise GankitError(f"{source} has no checkpoints/step-*.pt; pass a run directory of gankit train")
    skipped = []
    for path in reversed(candidates):
        try:
            return Found(path, load(path, map_location), skipped)
        except GankitError as exc:
            aside = path.with_name(path.name + ".damaged")
            os.replace(path, aside)
            skipped.append(f"skipped {path.name} ({exc}); moved it to {aside.name}")
    raise GankitError(f"no checkpoint of {source} is readable: {'; '.join(skipped)}")


def run_directory(checkpoint: Path) -> Path:
    """The run directory that holds ``checkpoint`` (``RUN/checkpoints/step-N.pt`` -> ``RUN``)."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def rng_state() -> dict[str, Any]:
    """Every global random state that training can touch: torch (CPU and CUDA), NumPy, Python."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
