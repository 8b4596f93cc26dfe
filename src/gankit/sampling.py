"""Loading a trained generator from a run directory or checkpoint, and drawing samples from it."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.config import config_from_dict
from gankit.errors import GankitError
from gankit.models import Generator, build_generator
from gankit.runtime import checkpoint as checkpoint_io


def find_checkpoint(source: str | Path) -> Path:
    """A checkpoint file as given, or the newest ``checkpoints/step-*.pt`` of a run directory."""
    source = Path(source)
    if source.is_dir():
        found = checkpoint_io.list_checkpoints(source / "checkpoints")
        if not found:
            raise GankitError(f"{source} has no checkpoints/step-*.pt; pass a run directory of gankit train")
        return found[-1]
    if not source.exists():
        raise GankitError(f"no such run directory or checkpoint: {source}")
    return source


def load_generator(source: str | Path, ema: bool = True, device: str | torch.device = "cpu") -> Generator:
    """The generator of a run or checkpoint, in eval mode; the EMA weights unless ``ema=False``.

    The checkpoint is read with ``torch.load(weights_only=True)``: no code from the file runs.
    """
    state = checkpoint_io.load(find_checkpoint(source))
    config = config_from_dict(state["config"])
    generator = build_generator(config.model, tuple(state["data_shape"]))
    weights = state["G_ema"] if ema and state["G_ema"] is not None else state["G"]
    generator.load_state_dict(weights)
    return generator.to(device).eval().requires_grad_(False)


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
    """``n`` samples (float, on the CPU) from latents drawn with ``seed``; independent of ``batch_size``."""
    if n < 1:
        raise GankitError(f"-n must be >= 1, got {n}")
    device = next(generator.parameters()).device
    z = generator.sample_latent(n, torch.Generator().manual_seed(seed))
    return torch.cat([generator(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)])
