"""Evaluation split over processes: each process generates and embeds a contiguous share of the samples, and
the features are gathered in rank order, so that FID / KID / IS / PR of many samples scale with the number of
processes and equal the single-process numbers.

The shares are cut at multiples of ``block`` rows (the least common multiple of the generation and feature
batch sizes), so every process runs exactly the batches a single process would run on those rows: the
gathered features are the single-process features, row for row (bit for bit where the per-batch arithmetic
is deterministic, as on the CPU). Latents and labels are drawn for all ``n`` samples from the evaluation seed
on every process, then sliced, exactly as :func:`gankit.sampling.generate` draws them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import to_uint8
from gankit.metrics.features.extractors import FeatureExtractor
from gankit.models import Generator
from gankit.runtime.distributed import DistributedContext
from gankit.sampling import check_class, draw_labels, find_checkpoint, load_generator

GENERATE_BATCH = 256  # the batch of gankit.sampling.generate


def block_size(*batch_sizes: int) -> int:
    """The row count that every share starts at a multiple of: the lcm of the batch sizes involved."""
    return math.lcm(*batch_sizes)


def shard(n: int, context: DistributedContext, block: int) -> slice:
    """The rows of ``n`` that this process takes: contiguous, starting at a multiple of ``block``, the blocks
    spread as evenly as possible over the processes (the last process may take a short last block)."""
    blocks = math.ceil(n / block)
    per, extra = divmod(blocks, context.world_size)
    first = context.rank * per + min(context.rank, extra)
    count = per + (1 if context.rank < extra else 0)
    return slice(min(first * block, n), min((first + count) * block, n))


def gather_features(
    features: torch.Tensor, logits: torch.Tensor | None, context: DistributedContext
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every process's features (and logits) in rank order, on every process."""
    features = context.all_gather_cat(features)
    if context.all_gather_object(logits is not None) != [logits is not None] * context.world_size:
        raise GankitError("some processes' feature extractor returned logits and others did not; use one extractor")
    return features, None if logits is None else context.all_gather_cat(logits)


def extract_share(
    extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 64, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features and logits of this process's share of images; an empty share (more processes than blocks)
    gives empty tensors of the right width."""
    if len(images) == 0:
        features, logits = extractor(torch.zeros((1, *images.shape[1:]), dtype=torch.uint8))
        return features[:0], None if logits is None else logits[:0]
    return extractor(images, batch_size=batch_size, progress=progress)


def sharded_extract(
    extractor: FeatureExtractor,
    images: torch.Tensor,
    context: DistributedContext,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features and logits of all of ``images`` (the whole set, present on every process): each process embeds
    its :func:`shard`, then the shares are gathered."""
    rows = shard(len(images), context, batch_size)
    features, logits = extract_share(extractor, images[rows], batch_size, progress and context.is_main)
    return gather_features(features, logits, context)


@torch.no_grad()
def generate_shard(
    generator: Generator,
    n: int,
    context: DistributedContext,
    seed: int = 0,
    labels: torch.Tensor | int | None = None,
    truncation: float | None = None,
    block: int = GENERATE_BATCH,
) -> torch.Tensor:
    """This process's share (:func:`shard` with ``block``, a multiple of 256) of the ``n`` samples that
    :func:`gankit.sampling.generate` would draw with ``seed``: the same latents and labels, the same batches."""
    if n < 1:
        raise GankitError(f"-n must be >= 1, got {n}")
    if block % GENERATE_BATCH:
        raise GankitError(f"the share block {block} must be a multiple of the generation batch {GENERATE_BATCH}")
    if labels is None or isinstance(labels, int):
        labels = draw_labels(generator, n, seed, labels)
    elif generator.num_classes == 0:
        check_class(generator, 0)
    rows = shard(n, context, block)
    z = generator.sample_latent(n, torch.Generator().manual_seed(seed), truncation=truncation)[rows]
    labels = None if labels is None else labels[rows]
    device = next(generator.parameters()).device
    chunks = []
    for i, chunk in enumerate(z.split(GENERATE_BATCH)):
        y = None if labels is None else labels[i * GENERATE_BATCH : i * GENERATE_BATCH + len(chunk)].to(device)
        chunks.append(generator(chunk.to(device), y).float().cpu())
    if not chunks:
        return torch.empty((0, *generator.out_shape))
    return torch.cat(chunks)


def combined_hash(digest: str, context: DistributedContext) -> str:
    """The record of a set held in shares: SHA-256 over every process's share digest, in rank order (the
    digest itself in one process)."""
    if not context.distributed:
        return digest
    digests = context.all_gather_object(digest)
    return "shards:" + hashlib.sha256("/".join(digests).encode()).hexdigest()


@dataclass
class GeneratedShare:
    """This process's share of the samples of a generator source (``gankit eval --fake RUN`` under torchrun):
    uint8 images and the record of the whole set."""

    images: torch.Tensor
    context: DistributedContext
    record: dict[str, Any] = field(default_factory=dict)

    def features(
        self, extractor: FeatureExtractor, batch_size: int = 64, progress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and logits of the whole set: every process's share, gathered in rank order."""
        features, logits = extract_share(extractor, self.images, batch_size, progress and self.context.is_main)
        return gather_features(features, logits, self.context)


def load_generated_share(
    spec: str, n: int | None, seed: int, context: DistributedContext, default_n: int, batch_size: int = 64
) -> GeneratedShare | None:
    """This process's share of ``n`` (``default_n`` when None) samples of the run or checkpoint ``spec``, drawn as
    :func:`gankit.metrics.sources.load_source` draws them; None when ``spec`` is not a run or checkpoint."""
    path = Path(spec)
    if not ((path.is_dir() and (path / "checkpoints").is_dir()) or (path.is_file() and path.suffix == ".pt")):
        return None
    count = n or default_n
    generator = load_generator(path, ema=True, device=context.device)
    if len(generator.out_shape) != 3:
        raise GankitError(f"{spec}: the generator makes {tuple(generator.out_shape)} vectors, not images")
    block = block_size(GENERATE_BATCH, batch_size)
    images = to_uint8(generate_shard(generator, count, context, seed, block=block))
    record = {"source": spec, "kind": "generator", "path": str(find_checkpoint(path)), "latent_seed": seed}
    return GeneratedShare(images, context, {**record, "n": count, "processes": context.world_size})
