"""Projection on small trained models (slow): a StyleGAN2 and a DCGAN generator trained for a few hundred steps
on 16x16 MNIST digits by a minimal hand-written loop (the StyleGAN2 recipe: non-saturating loss, lazy R1,
lazy path length regularisation, style mixing; Adam(0.0025, betas (0, 0.99)) with the lazy-regularisation
corrections of Karras et al. 2020, Appendix B)."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.stylegan import StyleGAN2Discriminator, StyleGAN2Generator
from gankit.objectives.path_length import path_length_penalty
from gankit.uses.projection import more_like, project, psnr

pytestmark = pytest.mark.slow


def mnist(assets, resolution: int, split: str = "train") -> torch.Tensor:
    if split == "train":
        x = torch.from_numpy(np.load(assets / "mnist" / "train-first10k.npz")["x"])
    else:
        with gzip.open(assets / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
            x = torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).copy())
    x = F.interpolate(x[:, None].float(), size=(resolution, resolution), mode="bilinear", antialias=True)
    return x / 127.5 - 1


def train_stylegan(G, D, data, steps, batch=32, lr=0.0025, r1_gamma=0.1, r1_every=16, pl_every=4, pl_weight=2.0):
    """Minimal StyleGAN2 training loop (non-saturating loss, lazy R1 and path length, mixing 0.9)."""
    cg, cd = pl_every / (pl_every + 1), r1_every / (r1_every + 1)
    opt_g = torch.optim.Adam(G.parameters(), lr * cg, betas=(0.0, 0.99**cg), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr * cd, betas=(0.0, 0.99**cd), eps=1e-8)
    pl_mean, pl_gen = torch.zeros(()), torch.Generator().manual_seed(1)
    G.train()
    for step in range(steps):
        real = data[torch.randint(len(data), (batch,))]
        with torch.no_grad():
            fake = G.synthesis(G.mapping_with_mixing(torch.randn(batch, G.z_dim), update_w_avg=True))
        loss_d = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
        if step % r1_every == 0:
            x = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
            loss_d = loss_d + r1_gamma / 2 * grad.square().sum(dim=(1, 2, 3)).mean() * r1_every
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        fake = G.synthesis(G.mapping_with_mixing(torch.randn(batch, G.z_dim)))
        loss_g = F.softplus(-D(fake)).mean()
        if step % pl_every == 0:
            penalty, pl_mean, _ = path_length_penalty(G, torch.randn(batch // 2, G.z_dim), None, pl_mean, pl_gen)
            loss_g = loss_g + pl_weight * pl_every * penalty
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return G.eval()


def train_dcgan(G, D, data, steps, batch=32):
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    for _ in range(steps):
        real = data[torch.randint(len(data), (batch,))]
        fake = G(torch.randn(batch, G.z_dim))
        loss_d = F.softplus(D(fake.detach())).mean() + F.softplus(-D(real)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return G.eval()


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_projection_recovers_samples_of_a_trained_stylegan2(assets, one_thread):
    torch.manual_seed(0)
    data = mnist(assets, 16)
    G = StyleGAN2Generator(32, 1, 16, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32, fused_modconv=False)
    D = StyleGAN2Discriminator(1, 16, channel_base=256, channel_max=32)
    began = time.perf_counter()
    train_stylegan(G, D, data, steps=400)
    trained = time.perf_counter() - began
    with torch.no_grad():
        ws = G.mapping(torch.randn(8, 32, generator=torch.Generator().manual_seed(9)))
        own = G.synthesis(ws, noise_mode="const").clamp(-1, 1)
    own_result = project(G, own, steps=300, generator=torch.Generator().manual_seed(2))
    held_out = mnist(assets, 16, "test")[:8]
    held_result = project(G, held_out, steps=300, space="w+", generator=torch.Generator().manual_seed(2))
    print(
        f"\nStyleGAN2 trained 400 steps in {trained:.0f} s; projection (300 steps) of its own samples in w: "
        f"PSNR {own_result.psnr.mean():.1f} dB (min {own_result.psnr.min():.1f}) in {own_result.seconds:.1f} s; "
        f"held-out test digits in w+: PSNR {held_result.psnr.mean():.1f} dB (min {held_result.psnr.min():.1f})"
    )
    assert (own_result.psnr >= 30).all(), own_result.psnr
    assert held_result.psnr.mean() > 15
    images, _ = more_like(G, own_result.latents[0], 8, radius=0.3, noise=own_result.noise)
    near = psnr(images, own[:1].expand(8, -1, -1, -1)).mean()
    random = psnr(own[1:], own[:1].expand(7, -1, -1, -1)).mean()
    assert near > random  # samples near x resemble x more than other samples do


def test_projection_recovers_samples_of_a_trained_dcgan(assets, one_thread):
    torch.manual_seed(0)
    data = mnist(assets, 16)
    G, D = DCGANGenerator(32, 1, 16, 32), DCGANDiscriminator(1, 16, 32)
    train_dcgan(G, D, data, steps=400)
    with torch.no_grad():
        own = G(torch.randn(8, 32, generator=torch.Generator().manual_seed(9)))
    result = project(G, own, steps=300, space="z", generator=torch.Generator().manual_seed(2))
    print(
        f"\nDCGAN projection (300 steps) of its own samples in z: PSNR {result.psnr.mean():.1f} dB "
        f"(min {result.psnr.min():.1f}) in {result.seconds:.1f} s"
    )
    assert (result.psnr >= 30).all(), result.psnr
