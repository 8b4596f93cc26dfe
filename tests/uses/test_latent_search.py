"""Latent search: best-of-restarts selection, gradient steps on z only, and restored network state."""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.base import Generator
from gankit.uses.latent_search import frozen, optimise_latents


class Shift(Generator):
    """x = z + b: a generator whose best latent for a target t is t - b."""

    def __init__(self) -> None:
        super().__init__(3, (3,))
        self.bias = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return z + self.bias


def test_restarts_keep_the_lowest_loss_and_steps_move_only_z():
    generator = Shift()
    target = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))

    def loss_fn(images, index):
        return ((images - target[index]) ** 2).sum(1)

    start = generator.sample_latent(4 * 5, generator=torch.Generator().manual_seed(1))
    fit = optimise_latents(generator, loss_fn, 4, steps=0, restarts=5, rng=torch.Generator().manual_seed(1))
    losses = loss_fn(start + generator.bias.detach(), torch.arange(4).repeat(5)).reshape(5, 4)
    expected = start.reshape(5, 4, 3)[losses.argmin(0), torch.arange(4)]
    torch.testing.assert_close(fit.z, expected)
    torch.testing.assert_close(fit.loss, losses.min(0).values)

    fit = optimise_latents(generator, loss_fn, 4, steps=300, lr=0.05, rng=torch.Generator().manual_seed(2))
    torch.testing.assert_close(fit.z, target - generator.bias.detach(), atol=1e-3, rtol=0)
    assert generator.bias.grad is None and generator.bias.requires_grad


def test_frozen_restores_mode_and_gradient_flags():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net[0].weight.requires_grad_(False)
    net.train()
    with frozen(net, None):
        assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.training and [p.requires_grad for p in net.parameters()] == [False, True, True, True]
