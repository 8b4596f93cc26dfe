"""``gankit use NAME``: what generative models are for, one command each, for any trained gankit generator and
for the classic baselines. Each module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; ``run`` prints
a table, writes its figures under ``--out`` and returns every number (``--json`` saves them). Only the chosen
command's module is imported.
"""

from __future__ import annotations

USES = {
    "inpaint": "fill masked test images: Gaussian conditional mean and sample vs a GAN's latent search (Yeh et al.)",
    "anomaly": "one-class anomaly detection (Ruff et al. 2018): density, kNN, D and AnoGAN scores, AUROC per class",
    "representatives": "most representative points (herding, k-medoids) and modes (density peaks) with MMD curves",
    "structure": "latent interpolations, SeFa and GANSpace directions, PCA / t-SNE map of real vs generated",
    "semisupervised": "K+1-class GAN with feature matching vs the supervised-only classifier, 100 labels, seeds",
    "more-like": "more samples like x: draws from a baseline's conditional Gaussian around each test image",
}
