"""Spectral normalisation of every weight layer of a network (Miyato et al., ICLR 2018).

Each weight W is replaced by W / sigma(W), with sigma(W) estimated by power iteration whose vectors
u, v persist between forward passes (their Algorithm 1); convolution kernels are reshaped to a matrix
of shape (out_channels, in_channels * kh * kw) as in the paper (Sec. 2.1). This uses PyTorch's own
``torch.nn.utils.parametrizations.spectral_norm``: u and v are buffers, so they are saved in
checkpoints, copied by the EMA update and broadcast by DDP like any other buffer.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMALIZED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectrally normalise the weight of every Linear / Conv2d / ConvTranspose2d inside ``module`` (the
    projection discriminator's class embedding is a bias-free Linear, so it is normalised as Miyato & Koyama
    2018 do; a generator's ``nn.Embedding`` is left alone, as BigGAN leaves its shared embedding)."""
    for layer in list(module.modules()):
        if isinstance(layer, NORMALIZED_LAYERS):
            spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module
