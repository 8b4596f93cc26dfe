"""Endless, resumable streams of training batches, sharded over processes.

A stream yields ``(x, y)`` batches forever: ``x`` float32 on the training device (vectors, or images
in [-1, 1]) and ``y`` int64 labels or ``None``. Batch ``k`` of a run is a *global* batch of
``batch_size`` examples that depends only on (seed, k); process ``rank`` of ``world`` receives rows
``rank * batch_size / world`` onwards of it (DistributedSampler semantics: disjoint shards, one seed
and epoch on every rank). Its ``state_dict`` records the number of global batches consumed, so a run
resumed from a checkpoint, with the same or another number of processes, sees the same data as one
that never stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.runtime import seeds


class ToyStream:
    """Batches drawn on the fly from a 2-D distribution; global batch k is drawn from its own named seed."""

    def __init__(
        self,
        sample: Callable[[int, torch.Generator], torch.Tensor],
        batch_size: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.sample = sample
        self.batch_size = batch_size
        self.device = device
        self.rows = _rank_rows(batch_size, rank, world)
        self.seed = seed
        self.consumed = 0
        self.shape: tuple[int, ...] = tuple(sample(1, torch.Generator().manual_seed(0)).shape[1:])
        self.num_classes = 0
        self.class_frequencies = None

    def next(self) -> tuple[torch.Tensor, None]:
        """This process's rows of the next global batch (global batch k is drawn with seed (seed, k))."""
        generator = seeds.generator(self.seed, f"{seeds.DATA}/batch-{self.consumed}")
        self.consumed += 1
        return self.sample(self.batch_size, generator)[self.rows].to(self.device), None

    def state_dict(self) -> dict[str, Any]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consumed = int(state["consumed"])


def _rank_rows(batch_size: int, rank: int, world: int) -> slice:
    """The rows of a global batch that process ``rank`` of ``world`` takes."""
    if batch_size % world:
        raise GankitError(
            f"train.batch_size={batch_size} is not divisible by the {world} processes; "
            f"use a multiple of {world} (the batch size is the global batch)"
        )
    local = batch_size // world
    return slice(rank * local, (rank + 1) * local)


class EpochBatchSampler(torch.utils.data.Sampler):
    """Endless batches of indices: a fresh seeded permutation per epoch, last partial batch dropped; each
    process takes its rows of every global batch.

    Global batch ``k`` depends only on (seed, k), so the sampler can restart at any batch, with any number
    of processes.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed, self.start = n, batch_size, seed, start
        self.rows = _rank_rows(batch_size, rank, world)
        self.per_epoch = n // batch_size

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset = divmod(self.start, self.per_epoch)
        while True:
            order = torch.randperm(self.n, generator=seeds.generator(self.seed, f"{seeds.DATA}/epoch-{epoch}"))
            for b in range(offset, self.per_epoch):
                yield order[b * self.batch_size : (b + 1) * self.batch_size][self.rows].tolist()
            epoch, offset = epoch + 1, 0


class TensorImages(torch.utils.data.Dataset):
    """uint8 NCHW images (and optional labels) held in memory; batches are fetched with one index op."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = torch.tensor(indices)
        return self.images[index], None if self.labels is None else self.labels[index]


def _stack_items(dataset: torch.utils.data.Dataset, indices: list[int]) -> tuple[torch.Tensor, None]:
    return torch.stack([dataset[i] for i in indices]), None


class _BatchFetcher(torch.utils.data.Dataset):
    """Adapts a per-item data set to whole-batch fetching (``__getitems__``)."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, None]:
        return _stack_items(self.dataset, indices)


def _keep_batch(batch: Any) -> Any:
    return batch


class ImageStream:
    """Batches of images from a data set through a ``DataLoader`` over :class:`EpochBatchSampler`."""

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        batch_size: int,
        seed: int,
        device: torch.device,
        num_classes: int = 0,
        num_workers: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if len(dataset) < batch_size:
            raise GankitError(
                f"the data set has {len(dataset)} images, fewer than train.batch_size={batch_size}; "
                "lower train.batch_size"
            )
        if not hasattr(dataset, "__getitems__"):
            dataset = _BatchFetcher(dataset)
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.device, self.num_classes, self.num_workers = device, num_classes, num_workers
        self.rank, self.world = rank, world
        self.rows = _rank_rows(batch_size, rank, world)
        labels = getattr(dataset, "labels", None)
        self.class_frequencies = (
            torch.bincount(labels, minlength=num_classes).double() / len(labels)
            if labels is not None and num_classes
            else None
        )
        first, _ = dataset.__getitems__([0])
        self.shape: tuple[int, ...] = tuple(first.shape[1:])
        self.consumed = 0
        self._iterator: Iterator | None = None

    def _restart(self) -> None:
        sampler = EpochBatchSampler(len(self.dataset), self.batch_size, self.seed, self.consumed, self.rank, self.world)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=sampler,
            collate_fn=_keep_batch,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self.num_workers > 0,
            # the loader's worker seed is drawn from this generator, never from torch's global one
            generator=seeds.generator(self.seed, f"{seeds.DATA}/loader-{self.consumed}"),
        )
        self._iterator = iter(loader)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's rows of the next global batch."""
        if self._iterator is None:
            self._restart()
        images, labels = next(self._iterator)
        self.consumed += 1
        x = from_uint8(images.to(self.device, non_blocking=True))
        y = None if labels is None else labels.to(self.device, non_blocking=True)
        return x, y

    def state_dict(self) -> dict[str, Any]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consumed = int(state["consumed"])
        self._iterator = None
