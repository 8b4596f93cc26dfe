"""Loading a trained generator from a run directory or checkpoint, and drawing samples from it."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.config import config_from_checkpoint
from gankit.errors import GankitError
from gankit.models import Generator, build_generator
from gankit.models.linear_gaussian import find_generator_file, load_linear_gaussian
from gankit.runtime import checkpoint as checkpoint_io
from gankit.runtime import seeds


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

    The checkpoint is read with ``torch.load(weights_only=True)``: no code from the file runs. A conditional
    generator carries ``num_classes`` and ``class_frequencies`` (the training data's label distribution).
    A classic baseline's run directory (``gankit fit-baseline``) gives its linear-Gaussian generator.
    """
    fitted = find_generator_file(source)
    if fitted is not None:
        return load_linear_gaussian(fitted).to(device).eval().requires_grad_(False)
    state = checkpoint_io.load(find_checkpoint(source))
    config = config_from_checkpoint(state)
    num_classes = int(state.get("num_classes", 0))
    generator = build_generator(config, tuple(state["data_shape"]), num_classes)
    weights = state["G_ema"] if ema and state["G_ema"] is not None else state["G"]
    generator.load_state_dict(weights)
    generator.class_frequencies = state.get("class_frequencies")
    return generator.to(device).eval().requires_grad_(False)


def sample_labels(frequencies: torch.Tensor | None, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` class labels drawn from the categorical distribution ``frequencies`` (the data's label
    distribution; uniform when None is given for a conditional model is the caller's choice)."""
    return torch.multinomial(frequencies.double(), n, replacement=True, generator=generator)


def class_sorted_labels(num_classes: int, n: int) -> torch.Tensor:
    """Labels for a grid with one row per class: ``max(1, n // num_classes)`` of each class, in order."""
    per_class = max(1, n // num_classes)
    return torch.arange(num_classes).repeat_interleave(per_class)


def check_class(generator: Generator, label: int | None) -> None:
    """A one-line error if ``label`` does not fit ``generator`` (unconditional, or out of range)."""
    if label is None:
        return
    if generator.num_classes == 0:
        raise GankitError("--class needs a conditional run (trained with data.conditional=true); this one is not")
    if not 0 <= label < generator.num_classes:
        raise GankitError(f"--class {label} is out of range; this generator has classes 0..{generator.num_classes - 1}")


def draw_labels(generator: Generator, n: int, seed: int = 0, label: int | None = None) -> torch.Tensor | None:
    """The labels ``generate`` uses: None for an unconditional generator, ``label`` repeated when given, else
    ``n`` draws (seeded by ``seed``) from the training data's label distribution (uniform if unknown)."""
    check_class(generator, label)
    if not generator.num_classes:
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.long)
    frequencies = getattr(generator, "class_frequencies", None)
    if frequencies is None:
        frequencies = torch.ones(generator.num_classes)
    return sample_labels(frequencies, n, seeds.generator(seed, seeds.LABELS))


@torch.no_grad()
def generate(
    generator: Generator,
    n: int,
    seed: int = 0,
    batch_size: int = 256,
    labels: torch.Tensor | int | None = None,
    truncation: float | None = None,
) -> torch.Tensor:
    """``n`` samples (float, on the CPU) from latents drawn with ``seed``; independent of ``batch_size``.

    A conditional generator takes ``labels``: a tensor of ``n`` labels, one class for all, or None for
    :func:`draw_labels`' draw from the training data's label distribution. ``truncation`` draws the latents
    from the truncated normal (BigGAN's truncation trick; None: the full prior).
    """
    if n < 1:
        raise GankitError(f"-n must be >= 1, got {n}")
    if labels is None or isinstance(labels, int):
        labels = draw_labels(generator, n, seed, labels)
    elif generator.num_classes == 0:
        raise GankitError("labels were given for an unconditional generator; sample it without labels")
    device = next(generator.parameters()).device
    z = generator.sample_latent(n, torch.Generator().manual_seed(seed), truncation=truncation)
    chunks = []
    for i, chunk in enumerate(z.split(batch_size)):
        y = None if labels is None else labels[i * batch_size : i * batch_size + len(chunk)].to(device)
        chunks.append(generator(chunk.to(device), y).float().cpu())
    return torch.cat(chunks)
