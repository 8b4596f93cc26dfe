"""The supervised-only baseline of the semi-supervised MNIST table (Salimans et al. 2016, Sec. 6.1): the K-class
discriminator trained on 100 labels (10 per class) alone, test error on the 10,000 MNIST test images, 3 seeds.

Reads the offline copies in ``../shared/assets/mnist`` (the first 10,000 training images as ``train-first10k.npz``
and the original test idx files); pass ``--assets`` for another folder.

    python benchmarks/semisupervised_baseline.py [--assets ../shared/assets] [--steps 500] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch

from gankit.uses.semisupervised import supervised_baseline


def read_idx(path: Path, offset: int) -> np.ndarray:
    """The payload of an idx file (16 header bytes for images, 8 for labels) as uint8."""
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=offset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "assets"))
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.assets) / "mnist"
    with np.load(folder / "train-first10k.npz", allow_pickle=False) as archive:
        train_x = torch.from_numpy(archive["x"]).unsqueeze(1)
        train_y = torch.from_numpy(archive["y"].astype(np.int64))
    test_x = torch.from_numpy(read_idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
    test_y = torch.from_numpy(read_idx(folder / "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    start = time.perf_counter()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    result = supervised_baseline(train_x, train_y, test_x, test_y, seeds=seeds, steps=args.steps)
    for row in result["rows"]:
        print(
            f"seed {row['seed']}: {row['labels']} labels, test error {100 * row['test_error']:.2f}%, "
            f"final train loss {row['final_train_loss']:.3f}, {row['seconds']:.0f} s"
        )
    print(
        f"supervised only, 100 labels: test error {100 * result['test_error_mean']:.2f} "
        f"+- {100 * result['test_error_std']:.2f}% over {len(seeds)} seeds ({time.perf_counter() - start:.0f} s)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
