"""Lecture demonstrations, one module each: ``gankit experiment NAME``.

Each module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; ``run`` prints a table,
writes its pictures under ``--out`` and returns the numbers that ``--json`` saves.
"""

from __future__ import annotations

EXPERIMENTS = {
    "dirac": "Dirac-GAN (Mescheder et al. 2018): convergence and Jacobian eigenvalues of each method",
    "mixtures": "mode coverage on the ring and grid across objectives, stabilisers and seeds (VEEGAN/PacGAN)",
    "disjoint": "generator gradient while D trains towards optimality on disjoint supports (Arjovsky & Bottou 2017)",
    "fid-bias": "FID's estimator bias against n, KID's absence of it, FID_inf extrapolation (Binkowski et al. 2018)",
    "two-sample": "MMD permutation tests on the Blobs problem: Type-I error and power, median vs optimized kernel",
    "eigenfaces": "eigenfaces of the Olivetti faces (Sirovich & Kirby 1987): eigen-images, samples, explained variance",
}
