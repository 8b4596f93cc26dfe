"""Named random seeds: every random stream of a run is derived from the run's seed and a name.

Instead of offsets such as ``seed + 1`` (which collide: the latents of seed 0 are the data order of
seed 1), each stream gets ``derive_seed(seed, name, rank)``: the first 8 bytes of
SHA-256("seed/name/rank"), so streams of one run are independent of each other, of other runs and of
other processes of the same run.
"""

from __future__ import annotations

import hashlib

import torch

# The random streams of training, each owned by the trainer and checkpointed.
DATA = "data"  # batch order of image data sets, points of toy data sets
LATENT = "latent"  # latent codes of training batches
LABELS = "labels"  # fake class labels of training batches
OBJECTIVE = "objective"  # draws inside objectives: interpolation points, instance noise, path-length noise
MODULES = "modules"  # torch's global generator, for draws inside modules (dropout, StyleGAN noise inputs)
INIT = "init"  # network initialisation
# Streams outside training, which never touch the training streams.
FIXED_LATENT = "fixed-latent"  # the latents of the sample grids written during training
EVAL = "eval"  # latents of evaluation samples
KID_SUBSETS = "kid-subsets"
IS_SPLITS = "is-splits"
BOOTSTRAP = "bootstrap"


def derive_seed(seed: int, name: str, rank: int = 0) -> int:
    """A 63-bit seed for stream ``name`` of process ``rank`` of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"{seed}/{name}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(seed: int, name: str, rank: int = 0, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with :func:`derive_seed`."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, name, rank))
