"""``gankit style NAME RUN``: StyleGAN's latent structure as commands (Karras et al., CVPR 2019 and 2020): style
mixing, truncation, noise and interpolation with perceptual path length. Each module exposes
``add_arguments(parser)`` and ``run(args) -> dict`` like the ``gankit use`` commands; ``run`` prints a table,
writes its figures under ``--out`` and returns every number (``--json`` saves them). Only the chosen command's
module is imported. ``truncation`` works for every generator (psi for style generators, the truncated normal's
threshold for the others); the other commands need a style generator.
"""

from __future__ import annotations

STYLE_COMMANDS = {
    "mixing": "style mixing grid: sources A across the top, B down the side, B's coarse / middle / fine styles",
    "truncation": "images at psi 1, 0.7, 0.5, 0 and the FID / precision / recall curve against psi (or threshold)",
    "noise": "one w under several noise draws, the per-pixel std over 100 draws, noise off in coarse / fine layers",
    "interpolate": "interpolations in Z and in W and the perceptual path length (eps 1e-4) in each",
}
